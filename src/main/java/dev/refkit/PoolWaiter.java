package dev.refkit;

import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A borrower waiting in a pool's FIFO line: a parked thread or an async future, and the
 * state of its wait, moved on only by the transitions below.
 *
 * <pre>
 *   WAITING --grantSlot / grantPermit--> GRANTED
 *   WAITING --signal--> SIGNALLED   (unfair pools: woken to try again, without an object)
 *   WAITING --cancel--> CANCELLED   (timed out, interrupted, future completed elsewhere)
 *   WAITING --markClosed--> CLOSED
 * </pre>
 *
 * <p><b>Thread safety.</b> The transitions are called under the one lock of the line that
 * holds the waiter, so a grant, a timeout, an interrupt, a cancellation and a close decide
 * atomically which one wins; each moves the state only from {@link State#WAITING}. The
 * waiting thread reads {@link #state()} without the lock.
 *
 * <p><b>Memory consistency effects.</b> A grant writes {@link #slot} and {@link #stamp}
 * before the volatile state, so a reader that sees {@code GRANTED} sees them.
 */
final class PoolWaiter<T> {
    /** Where a wait stands. */
    enum State {
        /** In line. */
        WAITING,
        /** Given a slot ({@link #slot} non-null, lent under {@link #stamp}) or a permit. */
        GRANTED,
        /** Out of line without an object: gave up, or its future completed elsewhere. */
        CANCELLED,
        /** Out of line because the pool closed. */
        CLOSED,
        /** Unfair pools only: woken without an object, to try again. */
        SIGNALLED
    }

    private volatile State state = State.WAITING;
    final @Nullable Thread thread;
    final @Nullable CompletableFuture<Lease<T>> future;
    /** Real time (System.nanoTime) at which the wait began. */
    final long since;
    /** Whether this waiter was first in line when it arrived (it may spin before parking). */
    boolean head;
    /** The slot granted, or null for a permit to create; written before the grant. */
    @Nullable PoolSlot<T> slot;
    /** The stamp {@link #slot} is lent under. */
    long stamp;

    private PoolWaiter(@Nullable Thread thread, @Nullable CompletableFuture<Lease<T>> future) {
        this.thread = thread;
        this.future = future;
        this.since = System.nanoTime();
    }

    /** {@return a waiter for the current thread} */
    static <T> PoolWaiter<T> forThread() {
        return new PoolWaiter<>(Thread.currentThread(), null);
    }

    /** {@return a waiter for {@code future}} */
    static <T> PoolWaiter<T> forFuture(CompletableFuture<Lease<T>> future) {
        return new PoolWaiter<>(null, future);
    }

    /** {@return the state, read without the lock} */
    State state() {
        return state;
    }

    /** {@code WAITING -> GRANTED} with {@code s}, now LENT to this waiter under {@code st}. */
    void grantSlot(PoolSlot<T> s, long st) {
        slot = s;
        stamp = st;
        move(State.GRANTED);
    }

    /** {@code WAITING -> GRANTED} with a permit to make an object. */
    void grantPermit() {
        slot = null;
        move(State.GRANTED);
    }

    /** {@code WAITING -> SIGNALLED}. */
    void signal() {
        move(State.SIGNALLED);
    }

    /** {@code WAITING -> CANCELLED}. */
    void cancel() {
        move(State.CANCELLED);
    }

    /** {@code WAITING -> CLOSED}. */
    void markClosed() {
        move(State.CLOSED);
    }

    private void move(State to) {
        State from = state;
        if (from != State.WAITING) {
            throw new AssertionError(from + " -> " + to);
        }
        state = to;
    }

    @Override
    public String toString() {
        return "PoolWaiter{" + state + (thread != null ? ", " + thread.getName() : ", future")
                + "}";
    }
}
