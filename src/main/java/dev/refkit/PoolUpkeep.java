package dev.refkit;

import java.lang.ref.WeakReference;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A pool's background upkeep: a task on the shared {@link PoolRuntime} scheduler that runs
 * one round of the owner's upkeep (expiry sweeps, {@code minIdle}) at a fixed delay. It
 * holds the owner only weakly, so an owner dropped without being closed can still be
 * collected; the task then cancels itself.
 *
 * <p><b>Errors.</b> What a round throws ends the scheduled task (the scheduler's rule), so
 * no later round runs; a round that wants to go on catches its own exceptions.
 *
 * <p><b>Thread safety.</b> Rounds run on the scheduler's single daemon thread, so they never
 * overlap for one owner. The owner cancels the task with the future {@link #start} returns.
 *
 * @param <O> the type of the owner
 */
final class PoolUpkeep<O> implements Runnable {
    private final WeakReference<O> owner;
    private final Consumer<? super O> round;
    private volatile @Nullable ScheduledFuture<?> future;

    private PoolUpkeep(O owner, Consumer<? super O> round) {
        this.owner = new WeakReference<>(owner);
        this.round = round;
    }

    /**
     * The delay between rounds: half of the shorter of {@code maxIdleNanos} and
     * {@code maxLifetimeNanos} (a negative one is not set), kept between 10 and 250 ms; 250
     * ms if only {@code minIdle} asks for upkeep.
     *
     * @return the delay in nanoseconds, or -1 if no option asks for upkeep
     */
    static long periodNanos(long maxIdleNanos, long maxLifetimeNanos, int minIdle) {
        long period = Long.MAX_VALUE;
        if (maxIdleNanos >= 0) {
            period = maxIdleNanos / 2;
        }
        if (maxLifetimeNanos >= 0) {
            period = Math.min(period, maxLifetimeNanos / 2);
        }
        if (period == Long.MAX_VALUE && minIdle == 0) {
            return -1;
        }
        return Math.max(TimeUnit.MILLISECONDS.toNanos(10),
                Math.min(period, TimeUnit.MILLISECONDS.toNanos(250)));
    }

    /**
     * Runs {@code round} on {@code owner} at once and then every {@code periodNanos}, for
     * as long as the owner is reachable and the returned future is not cancelled.
     *
     * @param round one round; must not capture the owner (that would keep it reachable)
     * @return the scheduled task, to cancel
     */
    static <O> ScheduledFuture<?> start(O owner, Consumer<? super O> round, long periodNanos) {
        PoolUpkeep<O> task = new PoolUpkeep<>(owner, round);
        ScheduledFuture<?> f = PoolRuntime.schedule(task, periodNanos);
        task.future = f;
        return f;
    }

    @Override
    public void run() {
        O o = owner.get();
        if (o == null) {
            ScheduledFuture<?> f = future;
            if (f != null) {
                f.cancel(false);
            }
            return;
        }
        round.accept(o);
    }
}
