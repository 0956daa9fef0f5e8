package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.base.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link RunStateCore} alone, under a minimal subclass that makes each transition under the
 * lock and wakes the waiters, with no listeners or children.
 */
@Timeout(30)
final class RunStateCoreTest {

    /** The smallest subclass: each event is one named transition. */
    private static final class Core extends RunStateCore {
        final AtomicInteger cancels = new AtomicInteger();

        Core(Ticker ticker, @Nullable BooleanSupplier poll) {
            super("c", ticker, Clock.fixed(Instant.EPOCH, ZoneOffset.UTC), poll);
        }

        Core() {
            this(Ticker.systemTicker(), null);
        }

        @Override
        public void cancel() {
            cancelWith(null);
        }

        @Override
        void cancelFromPoll() {
            cancel();
        }

        void cancelWith(@Nullable String reason) {
            cancels.incrementAndGet();
            lock.lock();
            try {
                markCancelled(reason);
            } finally {
                lock.unlock();
            }
            wakeWaiters();
        }

        long begin(boolean parentCancelled) {
            lock.lock();
            try {
                return beginRun(parentCancelled, parentCancelled ? "parent" : null);
            } finally {
                lock.unlock();
            }
        }

        long end() {
            lock.lock();
            try {
                return endRun();
            } finally {
                lock.unlock();
            }
        }
    }

    @Test
    void beginRun_afterCancelWhileIdle_beginsStoppingAndCancelled() {
        Core c = new Core();
        c.cancel();
        assertEquals(RunStateCore.IDLE, c.phase());
        assertTrue(c.isCancelled());
        assertEquals(1L, c.begin(false));
        assertEquals(RunStateCore.STOPPING, c.phase());
        assertTrue(c.cancelFlagSet());
    }

    @Test
    void beginRun_afterACancelledRun_clearsThatCancel() {
        Core c = new Core();
        c.begin(false);
        c.cancel();
        assertEquals(RunStateCore.STOPPING, c.phase());
        assertEquals(1L, c.end());
        assertTrue(c.isCancelled(), "a stopped run keeps its cancel");
        assertEquals(2L, c.begin(false));
        assertEquals(RunStateCore.RUNNING, c.phase());
        assertFalse(c.isCancelled());
    }

    @Test
    void beginRun_parentCancelled_beginsStopping() {
        Core c = new Core();
        c.begin(true);
        assertEquals(RunStateCore.STOPPING, c.phase());
        assertTrue(c.isCancelled());
    }

    @Test
    void markCancelled_twice_secondChangesNothing() {
        Core c = new Core();
        c.begin(false);
        c.lock.lock();
        try {
            assertTrue(c.markCancelled(null));
            int word = c.stateWord();
            assertFalse(c.markCancelled(null));
            assertEquals(word, c.stateWord());
        } finally {
            c.lock.unlock();
        }
    }

    @Test
    void pauseAndResume_underLock_moveBetweenRunningAndPaused() {
        Core c = new Core();
        c.begin(false);
        c.lock.lock();
        try {
            c.runningToPaused();
            assertTrue(c.isPaused());
            c.pausedToRunning();
            assertEquals(RunStateCore.RUNNING, c.phase());
        } finally {
            c.lock.unlock();
        }
    }

    @Test
    void transition_withoutTheLock_throwsAssertionError() {
        Core c = new Core();
        assertThrows(AssertionError.class, () -> c.beginRun(false, null));
        assertEquals(RunStateCore.IDLE, c.phase());
    }

    @Test
    void transition_fromAPhaseItMayNotLeave_throwsAssertionError() {
        Core c = new Core();
        c.lock.lock();
        try {
            assertThrows(AssertionError.class, c::runningToPaused);
            assertThrows(AssertionError.class, c::endRun);
        } finally {
            c.lock.unlock();
        }
        assertTrue(c.isIdle());
    }

    @Test
    void isCancelled_pollSaysTrue_cancelsThroughTheSubclassOnce() {
        AtomicBoolean stop = new AtomicBoolean();
        Core c = new Core(Ticker.systemTicker(), stop::get);
        c.begin(false);
        assertFalse(c.isCancelled());
        stop.set(true);
        assertTrue(c.isCancelled());
        assertTrue(c.isCancelled());
        assertEquals(1, c.cancels.get(), "once cancelled, the flag answers");
    }

    /** A join parked on a stopped run returns only once that run's stop listeners have returned. */
    @Test
    void join_endRunThenListenersReturned_endsAtTheSecond() throws Exception {
        Core c = new Core();
        c.begin(false);
        Future<Boolean> join = TestThreads.forkParked(() -> c.join(Duration.ofHours(1)));
        long run = c.end();
        assertFalse(c.join(Duration.ZERO), "the stop listeners have not returned");
        assertFalse(join.isDone());
        c.stopCallsRan(run);
        assertTrue(join.get(20, TimeUnit.SECONDS));
        assertTrue(c.awaitNoRunGoing(0L));
    }

    @Test
    void runTimeAndTotalTime_twoRuns_addUp() {
        AtomicLong now = new AtomicLong();
        Core c = new Core(new Ticker() {
            @Override
            public long read() {
                return now.get();
            }
        }, null);
        c.begin(false);
        now.addAndGet(100);
        assertEquals(Duration.ofNanos(100), c.runTime());
        c.stopCallsRan(c.end());
        c.begin(false);
        now.addAndGet(50);
        assertEquals(Duration.ofNanos(50), c.runTime());
        assertEquals(Duration.ofNanos(150), c.totalTime());
    }
}
