package dev.refkit;

import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A borrower waiting in a {@link Pool}'s FIFO queue (its {@link PoolLine}): a parked thread
 * or an async future. Every change of {@link #state} happens under the pool's lock, so a
 * grant, a timeout, an interrupt, a cancellation and a close decide atomically which one
 * wins; the waiting thread reads the state without the lock.
 */
final class PoolWaiter<T> {
    static final int WAITING = 0;
    /** Given a slot ({@link #slot} non-null, lent under {@link #stamp}) or a permit to create. */
    static final int GRANTED = 1;
    static final int CANCELLED = 2;
    static final int CLOSED = 3;
    /**
     * Unfair pools only: woken and taken out of the queue without an object; the thread
     * tries again, and joins the queue anew if it still finds nothing.
     */
    static final int SIGNALLED = 4;

    volatile int state;
    final @Nullable Thread thread;
    final @Nullable CompletableFuture<Lease<T>> future;
    /** Real time (System.nanoTime) at which the wait began. */
    final long since;
    /** Whether this waiter was first in line when it arrived (it may spin before parking). */
    boolean head;
    /** The slot granted, or null for a permit to create; written before state = GRANTED. */
    @Nullable PoolSlot<T> slot;
    long stamp;

    PoolWaiter(@Nullable Thread thread, @Nullable CompletableFuture<Lease<T>> future) {
        this.thread = thread;
        this.future = future;
        this.since = System.nanoTime();
    }
}
