/**
 * Reference-counted resources, run states and object pools.
 *
 * <ul>
 *   <li>{@link dev.refkit.MultiOpen}: a base class that runs {@code startup()} on the first
 *       {@code open()} and {@code shutdown()} on the last {@code close()}.</li>
 *   <li>{@link dev.refkit.Shared}: the same counting around one value, made on the first
 *       acquire and closed on the last release.</li>
 *   <li>{@link dev.refkit.RunState}: start, cancel, pause and stop for daemon loops.</li>
 *   <li>{@link dev.refkit.Pool}: a bounded pool lending objects through try-with-resources.</li>
 *   <li>{@link dev.refkit.TaskGroup}: structured tasks ({@link dev.refkit.Task}) that never
 *       outlive their group, whose first failure cancels the rest and reaches the owner.</li>
 * </ul>
 *
 * <p>Every type is null-hostile unless a parameter or return value is marked
 * {@code @Nullable}: a null argument throws {@link java.lang.NullPointerException} naming it.
 *
 * <h2 id="interrupts">Interrupts and timeouts</h2>
 * Every method of this package that may block follows one rule, and its documentation
 * refers here:
 * <ul>
 *   <li>A method that declares {@link java.lang.InterruptedException} checks the thread's
 *       interrupt flag first, on entry, before it looks at what it waits for: if the flag is
 *       set, it throws at once, even if it would not have had to wait (as
 *       {@code CountDownLatch.await()} does).</li>
 *   <li>Interrupted while it waits, it throws {@code InterruptedException} with the flag
 *       cleared and leaves the object as if the wait had never begun.</li>
 *   <li>The message is {@code "NAME: interrupted in METHOD"}, naming the object and the
 *       method, such as {@code "indexer: interrupted in sleep()"}.</li>
 *   <li>A wait that declares no {@code InterruptedException} (such as
 *       {@code MultiOpen.open()} or the pause wait of {@code RunState.throwIfCancelled()})
 *       keeps waiting through an interrupt and returns with the flag set.</li>
 *   <li>A timeout is the longest wait, counted from the call; the time left is recomputed
 *       on every wake-up, so early wake-ups neither shorten nor lengthen it. A zero timeout
 *       does not wait, and huge values such as {@code Duration.ofSeconds(Long.MAX_VALUE)}
 *       mean practically forever.</li>
 * </ul>
 */
@NullMarked
package dev.refkit;

import org.jspecify.annotations.NullMarked;
