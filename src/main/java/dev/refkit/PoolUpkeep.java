package dev.refkit;

import static dev.refkit.PoolSlot.IDLE;

import java.lang.ref.WeakReference;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Pool}'s background upkeep: the task, scheduled on the shared
 * {@link PoolRuntime} scheduler, that sweeps idle objects past {@code maxIdleTime} or
 * {@code maxLifetime} and then makes objects until {@code minIdle} are idle. It is started
 * by {@link Pool.Builder#build()} only if one of those options is set, and cancelled by
 * {@link Pool#close()}.
 *
 * <p><b>Errors.</b> An {@link Error} from the factory or destroyer is logged at ERROR and
 * rethrown, which ends this pool's scheduled task; see {@link #runOnce}.
 *
 * <p><b>Thread safety.</b> {@link #run()} runs on the scheduler's single daemon thread, so
 * rounds never overlap for one pool; {@link #runOnce} may also be called from any thread
 * (tests do). A round takes no lock of its own: it claims an idle slot by one CAS from
 * IDLE to BUSY before destroying it, so it never takes an object from a borrower, and it
 * reserves a permit before making one. The task holds the pool only weakly, so a pool
 * dropped without {@code close()} can still be collected; the task then cancels itself.
 *
 * <p><b>Memory consistency effects.</b> Each slot's state is read before its
 * {@code createdAt} and {@code lastReturned} times, so the times read are at least as new as
 * the return that made that state idle; a return after the read changes the state and makes
 * the CAS fail. An object made here is published to borrowers through the pool's slot array
 * (written under the pool's lock) and the slot's volatile state.
 */
final class PoolUpkeep implements Runnable {
    private final WeakReference<Pool<?>> pool;
    private volatile @Nullable ScheduledFuture<?> future;

    private PoolUpkeep(Pool<?> pool) {
        this.pool = new WeakReference<>(pool);
    }

    /**
     * Schedules {@code pool}'s upkeep, first at once and then every half of the shorter of
     * {@code maxIdleTime} and {@code maxLifetime} (between 10 and 250 ms), if any of those
     * or {@code minIdle} is set; otherwise does nothing.
     */
    static void start(Pool<?> pool) {
        long period = Long.MAX_VALUE;
        if (pool.maxIdleNanos >= 0) {
            period = pool.maxIdleNanos / 2;
        }
        if (pool.maxLifetimeNanos >= 0) {
            period = Math.min(period, pool.maxLifetimeNanos / 2);
        }
        if (period == Long.MAX_VALUE && pool.minIdle == 0) {
            return;
        }
        period = Math.max(TimeUnit.MILLISECONDS.toNanos(10),
                Math.min(period, TimeUnit.MILLISECONDS.toNanos(250)));
        PoolUpkeep task = new PoolUpkeep(pool);
        ScheduledFuture<?> f = PoolRuntime.schedule(task, period);
        task.future = f;
        pool.upkeepStarted(f);
    }

    @Override
    public void run() {
        Pool<?> p = pool.get();
        if (p == null) {
            ScheduledFuture<?> f = future;
            if (f != null) {
                f.cancel(false);
            }
            return;
        }
        p.maintain();
    }

    /**
     * One round of upkeep: sweeps expired idle objects, then tops up {@code minIdle}. An
     * exception from the factory or destroyer is logged at WARN and the next round tries
     * again. An {@link Error} is logged at ERROR and rethrown once the pool is consistent
     * (every slot and permit the round held is freed): on the upkeep thread that ends the
     * scheduled task, so no later round runs for this pool (borrows still refuse expired
     * objects).
     *
     * @throws Error if the factory or destroyer threw one
     */
    static <T> void runOnce(Pool<T> pool) {
        long maxIdle = pool.maxIdleNanos;
        long maxLifetime = pool.maxLifetimeNanos;
        try {
            if (maxIdle >= 0 || maxLifetime >= 0) {
                long now = pool.ticker.read();
                for (PoolSlot<T> s : pool.slots) {
                    long st = s.state();
                    boolean expired = (maxLifetime >= 0 && now - s.createdAt >= maxLifetime)
                            || (maxIdle >= 0 && now - s.lastReturned >= maxIdle);
                    if (expired) {
                        pool.destroyIfIdle(s, st);
                    }
                }
            }
            while (!pool.isClosed() && countIdle(pool) < pool.minIdle && pool.reservePermit()) {
                PoolSlot<T> s = pool.create(false);
                if (pool.ctl != 0) {
                    pool.afterIdle(s);
                }
            }
        } catch (ClosedException e) {
            // closed meanwhile: nothing to keep up
        } catch (RuntimeException e) {
            Pool.log.warn("{}: background upkeep failed", pool.name(), e);
        } catch (Error e) {
            Pool.log.error("{}: background upkeep failed with an Error; upkeep stops",
                    pool.name(), e);
            throw e;
        }
    }

    private static int countIdle(Pool<?> pool) {
        int n = 0;
        for (PoolSlot<?> s : pool.slots) {
            if (PoolSlot.kind(s.state()) == IDLE) {
                n++;
            }
        }
        return n;
    }
}
