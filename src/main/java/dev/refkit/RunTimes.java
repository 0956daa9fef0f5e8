package dev.refkit;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * The timing of the current or last run of a run state: immutable, replaced whole at each
 * start and stop so a reader always sees one consistent snapshot.
 */
final class RunTimes {
    static final RunTimes INITIAL = new RunTimes(false, 0L, null, null, 0L, 0L);

    /** True from start to stop: the run time is live. */
    final boolean running;
    /** The ticker's reading at the start. */
    final long startTick;
    final @Nullable Instant startTime;
    /** Null while running and before the first stop. */
    final @Nullable Instant stopTime;
    /** The last finished run's length. */
    final long lastRunNanos;
    /** The finished runs together. */
    final long pastRunsNanos;

    private RunTimes(boolean running, long startTick, @Nullable Instant startTime,
            @Nullable Instant stopTime, long lastRunNanos, long pastRunsNanos) {
        this.running = running;
        this.startTick = startTick;
        this.startTime = startTime;
        this.stopTime = stopTime;
        this.lastRunNanos = lastRunNanos;
        this.pastRunsNanos = pastRunsNanos;
    }

    RunTimes started(long tick, Instant now) {
        return new RunTimes(true, tick, now, null, 0L, pastRunsNanos);
    }

    RunTimes stopped(long tick, Instant now) {
        long run = runNanos(tick);
        return new RunTimes(false, startTick, startTime, now, run, saturatedAdd(pastRunsNanos, run));
    }

    /** The current run's length at {@code tick} (never negative). */
    long runNanos(long tick) {
        return Math.max(0L, tick - startTick);
    }

    static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return sum < 0L ? Long.MAX_VALUE : sum;
    }
}
