package dev.refkit;

import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.Task.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link TaskGroup#spawnRestarting}: frequenz's actor restart tests (restarts counted, the
 * limit, the delay, backoff, reset after a healthy run, cancel during the delay), on a group.
 */
@Timeout(60)
final class TaskGroupRestartTest {

    @Test
    void spawnRestarting_failsTwiceThenSucceeds_oneTaskTwoRestarts() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        try (TaskGroup g = TaskGroup.open("g")) {
            Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ZERO), () -> {
                if (runs.incrementAndGet() <= 2) {
                    throw new IllegalStateException("boom");
                }
            });
            assertNull(t.join());
            assertEquals(Status.SUCCEEDED, t.status());
            assertEquals("r", t.name());
            assertEquals(2, g.restartCount());
            assertEquals(3, runs.get());
        }
    }

    /** The limit: the last failure is the task's and the group's, as a spawn failure. */
    @Test
    void spawnRestarting_limit_lastFailureIsTaskAndGroupFailure() throws Exception {
        List<IOException> thrown = new CopyOnWriteArrayList<>();
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch siblingRuns = new CountDownLatch(1);
        AtomicBoolean siblingCancelled = new AtomicBoolean();
        Task<?> sibling = g.spawn(() -> {
            siblingRuns.countDown();
            try {
                siblingCancelled.set(g.runState().awaitCancellation(Duration.ofDays(1)));
            } catch (InterruptedException e) { // the cancel's interrupt may come first
                siblingCancelled.set(g.runState().isCancelled());
            }
        });
        await(siblingRuns);
        Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ZERO).maxRestarts(3),
                () -> {
                    IOException e = new IOException("io " + thrown.size());
                    thrown.add(e);
                    throw e;
                });
        LifecycleException e = assertThrows(LifecycleException.class, g::close);
        assertEquals(4, thrown.size());
        assertSame(thrown.get(3), e.getCause());
        assertEquals("g: task r failed", e.getMessage());
        assertEquals(0, e.getSuppressed().length); // intermediate failures are not suppressed
        assertSame(e, assertThrows(LifecycleException.class, t::join));
        assertEquals(Status.FAILED, t.status());
        assertTrue(sibling.isDone());
        assertTrue(siblingCancelled.get()); // fail fast, as spawn
        assertEquals(3, g.restartCount());
    }

    @Test
    void spawnRestarting_delay_measuredLowerBound() throws Exception {
        List<Long> starts = new CopyOnWriteArrayList<>();
        try (TaskGroup g = TaskGroup.builder("g").cancelOnFailure(false).build()) {
            Task<?> t = g.spawnRestarting("r",
                    RestartPolicy.after(Duration.ofMillis(40)).maxRestarts(2), () -> {
                        starts.add(System.nanoTime());
                        throw new IllegalStateException("boom");
                    });
            assertThrows(IllegalStateException.class, t::join);
        } // close() returns: the failure was delivered to this thread by join()
        assertEquals(3, starts.size());
        assertTrue(starts.get(1) - starts.get(0) >= 40_000_000L);
        assertTrue(starts.get(2) - starts.get(1) >= 40_000_000L);
    }

    @Test
    void spawnRestarting_backoff_delaysGrowToCap() throws Exception {
        List<Long> starts = new CopyOnWriteArrayList<>();
        TaskGroup g = TaskGroup.open("g");
        Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ofMillis(10))
                .backoff(2.0, Duration.ofMillis(30)).maxRestarts(3), () -> {
                    starts.add(System.nanoTime());
                    throw new IllegalStateException("boom");
                });
        assertThrows(IllegalStateException.class, t::join);
        g.close(); // delivered by join(): not thrown again
        assertEquals(4, starts.size());
        assertTrue(starts.get(1) - starts.get(0) >= 10_000_000L);
        assertTrue(starts.get(2) - starts.get(1) >= 20_000_000L);
        assertTrue(starts.get(3) - starts.get(2) >= 30_000_000L);
    }

    /** A run that lasts resetAfter resets the count: one more restart than the limit. */
    @Test
    void spawnRestarting_healthyRun_resetsCount() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        TaskGroup g = TaskGroup.open("g");
        Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ZERO).maxRestarts(1)
                .resetAfter(Duration.ofMillis(20)), () -> {
                    if (runs.incrementAndGet() == 2) {
                        long end = System.nanoTime() + 25_000_000L; // a healthy run: works 25 ms
                        while (System.nanoTime() < end) {
                            Thread.onSpinWait();
                        }
                    }
                    throw new IllegalStateException("boom " + runs.get());
                });
        assertEquals("boom 3", assertThrows(IllegalStateException.class, t::join).getMessage());
        g.close();
        assertEquals(2, g.restartCount());
    }

    /** A cancel during the delay: CANCELLED at once, the body never runs again, no failure. */
    @Test
    void spawnRestarting_cancelDuringDelay_cancelledNoRerunNoFailure() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        TaskGroup g = TaskGroup.open("g");
        Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ofDays(1)), () -> {
            runs.incrementAndGet();
            throw new IllegalStateException("boom");
        });
        while (g.restartCount() == 0) {
            Thread.onSpinWait();
        }
        assertEquals(Status.RUNNING, t.status()); // waiting to restart is still running
        g.cancel("enough");
        assertThrows(CancellationException.class, t::join);
        assertEquals(Status.CANCELLED, t.status());
        g.close(); // no failure
        assertEquals(1, runs.get());
    }

    /** The task's own cancel during the delay ends it too, with no failure. */
    @Test
    void spawnRestarting_taskCancelDuringDelay_cancelled() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        TaskGroup g = TaskGroup.open("g");
        Task<?> t = g.spawnRestarting("r", RestartPolicy.after(Duration.ofDays(1)), () -> {
            runs.incrementAndGet();
            throw new IllegalStateException("boom");
        });
        while (g.restartCount() == 0) {
            Thread.onSpinWait();
        }
        t.cancel(true);
        assertThrows(CancellationException.class, t::join);
        g.close();
        assertEquals(1, runs.get());
    }

    @Test
    void spawnRestarting_nulls_throwNamingArgument() {
        try (TaskGroup g = TaskGroup.open("g")) {
            RestartPolicy p = RestartPolicy.never();
            assertEquals("name", assertThrows(NullPointerException.class,
                    () -> g.spawnRestarting(null, p, () -> { })).getMessage());
            assertEquals("policy", assertThrows(NullPointerException.class,
                    () -> g.spawnRestarting("r", null, () -> { })).getMessage());
            assertEquals("body", assertThrows(NullPointerException.class,
                    () -> g.spawnRestarting("r", p, null)).getMessage());
        }
    }
}
