package dev.refkit;

import com.google.common.base.Ticker;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A pool's user code and its counters: the factory, the checks before lending (expiry,
 * {@code validate}), the reset on return ({@code onReturn}) and the destroyer, each called
 * with the errors handled as the pool documents them, and the counters behind
 * {@link PoolStats}. It owns no slot: callers own the slots they pass, and free them.
 *
 * <p><b>Errors.</b> An unchecked exception from {@code validate}, {@code onReturn} or the
 * destroyer is logged at WARN and reported as "failed" (false) or swallowed (destroyer); an
 * {@link Error} from any of them is thrown to the caller, who frees what it holds and
 * rethrows it. A factory failure is counted and thrown (a checked exception wrapped in a
 * {@link LifecycleException}).
 *
 * <p><b>Thread safety.</b> Immutable apart from the counters, which are atomic; every method
 * may be called from any thread. Nothing here takes a lock.
 */
final class PoolHooks<T> {
    private final String name;
    private final Callable<? extends T> factory;
    private final @Nullable Predicate<? super T> validate;
    /** Validate only objects idle this long; -1 for every time. */
    private final long validateAfterIdleNanos;
    private final @Nullable Consumer<? super T> onReturn;
    private final Consumer<? super T> destroyer;
    private final long maxIdleNanos;
    private final long maxLifetimeNanos;
    private final Ticker ticker;
    private final boolean needsReturnTime;

    private final AtomicLong created = new AtomicLong();
    private final AtomicLong destroyed = new AtomicLong();
    private final AtomicLong failedCreations = new AtomicLong();
    /** Borrows completed by destroyed slots. */
    private final AtomicLong retiredBorrows = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong longestWait = new AtomicLong();

    /**
     * The hooks of pool {@code name}; a negative time means the option is not set, a null
     * {@code destroyer} closes {@link AutoCloseable} objects.
     */
    PoolHooks(String name, Callable<? extends T> factory, @Nullable Predicate<? super T> validate,
            long validateAfterIdleNanos, @Nullable Consumer<? super T> onReturn,
            @Nullable Consumer<? super T> destroyer, long maxIdleNanos, long maxLifetimeNanos,
            Ticker ticker) {
        this.name = name;
        this.factory = Objects.requireNonNull(factory, "factory");
        this.validate = validate;
        this.validateAfterIdleNanos = validateAfterIdleNanos;
        this.onReturn = onReturn;
        this.destroyer = destroyer != null ? destroyer : PoolHooks::closeIfCloseable;
        this.maxIdleNanos = maxIdleNanos;
        this.maxLifetimeNanos = maxLifetimeNanos;
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.needsReturnTime = maxIdleNanos >= 0 || validateAfterIdleNanos >= 0;
    }

    /** {@return whether an idle object is checked at all before it is lent} */
    boolean checksBeforeLending() {
        return validate != null || maxIdleNanos >= 0 || maxLifetimeNanos >= 0;
    }

    /** {@return whether a returned object is reset or time-stamped} */
    boolean worksOnReturn() {
        return onReturn != null || needsReturnTime;
    }

    long maxIdleNanos() {
        return maxIdleNanos;
    }

    long maxLifetimeNanos() {
        return maxLifetimeNanos;
    }

    /**
     * Calls the factory.
     *
     * @return the new object, never null
     * @throws RuntimeException what the factory threw (a checked exception wrapped), or a
     *     {@link NullPointerException} if it returned null; counted as a failed creation
     * @throws Error if the factory threw one; counted the same
     */
    T make() {
        T obj;
        try {
            obj = factory.call();
            if (obj == null) {
                throw new NullPointerException(name + ": factory returned null");
            }
        } catch (Throwable t) {
            failedCreations.incrementAndGet();
            throw Checks.unchecked(t, name + ": factory failed");
        }
        created.incrementAndGet();
        return obj;
    }

    /** {@return the ticker's time for a new slot, or 0 when no option reads it} */
    long birthTime() {
        return maxLifetimeNanos >= 0 || needsReturnTime ? ticker.read() : 0L;
    }

    /**
     * Whether the object of {@code s}, which the caller owns, may be lent: not past
     * {@code maxLifetime} or {@code maxIdleTime}, and passing {@code validate}. A validator
     * that throws an unchecked exception is logged and fails the object.
     *
     * @throws Error if the validator threw one
     */
    boolean lendable(PoolSlot<T> s) {
        if (!checksBeforeLending()) {
            return true;
        }
        long now = ticker.read();
        if (maxLifetimeNanos >= 0 && now - s.createdAt >= maxLifetimeNanos) {
            return false;
        }
        long idle = now - s.lastReturned;
        if (maxIdleNanos >= 0 && idle >= maxIdleNanos) {
            return false;
        }
        Predicate<? super T> v = validate;
        // -1 means every time: never compared, since a ticker (like System.nanoTime) may
        // read negative while lastReturned stays 0 when no time-based option is set
        if (v != null && (validateAfterIdleNanos < 0 || idle >= validateAfterIdleNanos)) {
            try {
                return v.test(s.object);
            } catch (RuntimeException e) {
                PoolRuntime.LOG.warn("{}: validate threw; the object is destroyed", name, e);
                return false;
            }
        }
        return true;
    }

    /** Whether idle slot {@code s} is past its lifetime or idle time at ticker time {@code now}. */
    boolean expired(PoolSlot<T> s, long now) {
        return (maxLifetimeNanos >= 0 && now - s.createdAt >= maxLifetimeNanos)
                || (maxIdleNanos >= 0 && now - s.lastReturned >= maxIdleNanos);
    }

    /** {@return the ticker's time now} */
    long now() {
        return ticker.read();
    }

    /**
     * Prepares a returned object, whose slot the caller owns, for the next borrower: runs
     * {@code onReturn} (when {@code reset}) and records the return time.
     *
     * @return false if {@code onReturn} threw an unchecked exception (logged): destroy it
     * @throws Error if {@code onReturn} threw one
     */
    boolean returned(PoolSlot<T> s, boolean reset) {
        Consumer<? super T> r = onReturn;
        if (reset && r != null) {
            try {
                r.accept(s.object);
            } catch (RuntimeException e) {
                PoolRuntime.LOG.warn("{}: onReturn threw; the object is destroyed", name, e);
                return false;
            }
        }
        if (needsReturnTime) {
            s.lastReturned = ticker.read();
        }
        return true;
    }

    /**
     * Runs the destroyer on {@code object} and counts it, with the {@code borrows} its slot
     * completed. An unchecked exception is logged; the object counts as destroyed anyway.
     *
     * @throws Error if the destroyer threw one, after counting
     */
    void destroy(T object, long borrows) {
        try {
            destroyer.accept(object);
        } catch (RuntimeException e) {
            PoolRuntime.LOG.warn("{}: destroy threw; the slot is freed all the same", name, e);
        } finally {
            retiredBorrows.addAndGet(borrows);
            destroyed.incrementAndGet();
        }
    }

    /** Counts a timed borrow that gave up. */
    void countTimeout() {
        timeouts.incrementAndGet();
    }

    /** Records the wait of a borrower served now, which began at {@code since} (nanoTime). */
    void recordWait(long since) {
        long waited = System.nanoTime() - since;
        long prev;
        while (waited > (prev = longestWait.get())) {
            if (longestWait.compareAndSet(prev, waited)) {
                break;
            }
        }
    }

    /**
     * A snapshot of the counters, with the slots counted from {@code all}.
     *
     * @param all the live slots
     * @param waiting the borrowers in line now
     */
    PoolStats stats(PoolSlot<T>[] all, int waiting) {
        int alive = 0;
        int idle = 0;
        long borrows = retiredBorrows.get();
        for (PoolSlot<T> s : all) {
            long st = s.state();
            long k = PoolSlot.kind(st);
            if (k == PoolSlot.DEAD) {
                continue; // counted in retiredBorrows by destroy()
            }
            alive++;
            if (k == PoolSlot.IDLE) {
                idle++;
            }
            borrows += PoolSlot.borrows(st);
        }
        return new PoolStats(alive, idle, waiting, created.get(), destroyed.get(), borrows,
                timeouts.get(), failedCreations.get(), Duration.ofNanos(longestWait.get()));
    }

    private static void closeIfCloseable(Object o) {
        if (o instanceof AutoCloseable) {
            try {
                ((AutoCloseable) o).close();
            } catch (Exception e) {
                throw Checks.unchecked(e, "close() of a pooled object failed");
            }
        }
    }
}
