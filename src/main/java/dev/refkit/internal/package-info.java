/**
 * Refkit's engine, not exported by the module: the one park loop every wait in the library
 * runs ({@link dev.refkit.internal.Wait}), the broadcast list of waiting threads built on it
 * ({@link dev.refkit.internal.WaitList}) and the one listener list
 * ({@link dev.refkit.internal.ListenerList}). Nothing here knows the classes that use it.
 *
 * <h2 id="interrupts">The interrupt rule</h2>
 * Every blocking method of the library follows this rule, and its Javadoc refers here:
 * <ul>
 *   <li>An <em>interruptible</em> wait checks the thread's interrupt flag first, on entry,
 *       before it looks at what it waits for: if the flag is set it throws
 *       {@link java.lang.InterruptedException} at once, even if it would not have had to
 *       block (the way {@code CountDownLatch.await()} and {@code Semaphore.acquire()} do).</li>
 *   <li>An interruptible wait interrupted while parked throws
 *       {@link java.lang.InterruptedException} with the flag cleared, and leaves the state as
 *       if the wait had never begun: it holds no place in any queue, counts nowhere, and
 *       anything granted to it meanwhile is given back.</li>
 *   <li>An <em>uninterruptible</em> wait (such as {@code MultiOpen.open()}) keeps waiting
 *       through an interrupt and returns with the interrupt flag set.</li>
 *   <li>A timed wait recomputes the time left after every wake-up, so spurious and early
 *       wake-ups never shorten or lengthen it; a timeout of zero does not park.</li>
 *   <li>The message of every {@code InterruptedException} is
 *       {@code "NAME: interrupted in METHOD"}, for example
 *       {@code "db-pool: interrupted in borrow()"}.</li>
 * </ul>
 */
@NullMarked
package dev.refkit.internal;

import org.jspecify.annotations.NullMarked;
