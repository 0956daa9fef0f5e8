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
 * </ul>
 *
 * <p>Every type is null-hostile unless a parameter or return value is marked
 * {@code @Nullable}: a null argument throws {@link java.lang.NullPointerException} naming it.
 */
@NullMarked
package dev.refkit;

import org.jspecify.annotations.NullMarked;
