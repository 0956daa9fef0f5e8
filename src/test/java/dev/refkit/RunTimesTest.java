package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** {@link RunTimes} alone: the immutable timing snapshot of a run. */
final class RunTimesTest {

    private static final Instant T1 = Instant.ofEpochSecond(1);
    private static final Instant T2 = Instant.ofEpochSecond(2);

    @Test
    void initial_beforeAnyStart_notRunningAndNothingMeasured() {
        RunTimes t = RunTimes.INITIAL;
        assertFalse(t.running);
        assertNull(t.startTime);
        assertNull(t.stopTime);
        assertEquals(0L, t.lastRunNanos);
        assertEquals(0L, t.pastRunsNanos);
    }

    @Test
    void startedThenStopped_oneRun_recordsTimesAndLength() {
        RunTimes started = RunTimes.INITIAL.started(100L, T1);
        assertTrue(started.running);
        assertSame(T1, started.startTime);
        assertNull(started.stopTime);
        assertEquals(40L, started.runNanos(140L));
        RunTimes stopped = started.stopped(150L, T2);
        assertFalse(stopped.running);
        assertSame(T1, stopped.startTime);
        assertSame(T2, stopped.stopTime);
        assertEquals(50L, stopped.lastRunNanos);
        assertEquals(50L, stopped.pastRunsNanos);
        assertEquals(0L, RunTimes.INITIAL.started(0L, T1).stopped(0L, T2).lastRunNanos);
    }

    @Test
    void started_afterARun_keepsThePastRunsAndClearsTheStopTime() {
        RunTimes second = RunTimes.INITIAL.started(0L, T1).stopped(10L, T1).started(20L, T2);
        assertNull(second.stopTime);
        assertEquals(10L, second.pastRunsNanos);
        assertEquals(15L, second.stopped(35L, T2).pastRunsNanos - 10L);
    }

    @Test
    void runNanos_tickerGoesBack_neverNegative() {
        assertEquals(0L, RunTimes.INITIAL.started(100L, T1).runNanos(90L));
    }

    @Test
    void saturatedAdd_overflow_staysAtMaxValue() {
        assertEquals(Long.MAX_VALUE, RunTimes.saturatedAdd(Long.MAX_VALUE, 1L));
        assertEquals(3L, RunTimes.saturatedAdd(1L, 2L));
    }
}
