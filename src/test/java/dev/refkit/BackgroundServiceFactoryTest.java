package dev.refkit;

import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link BackgroundService#loop} and both {@link BackgroundService#every} forms. */
@Timeout(60)
final class BackgroundServiceFactoryTest {

    @Test
    @SuppressWarnings("try")
    void loop_consumes_untilClosed() throws Exception {
        LinkedBlockingQueue<Integer> queue = new LinkedBlockingQueue<>();
        List<Integer> got = new CopyOnWriteArrayList<>();
        CountDownLatch three = new CountDownLatch(3);
        BackgroundService s = BackgroundService.loop("consumer", rs -> {
            got.add(queue.take());
            three.countDown();
        }, RestartPolicy.never());
        try (Handle h = s.open()) {
            assertEquals("consumer", s.tasks().get(0).name());
            queue.add(1);
            queue.add(2);
            queue.add(3);
            await(three);
        } // take() interrupted by the cancel: no failure
        assertEquals(List.of(1, 2, 3), got);
        assertFalse(s.isRunning());
    }

    /** The loop's policy restarts a failed run; when it gives up, the service fails. */
    @Test
    void loop_failuresPastLimit_lastIsServiceFailure() throws Exception {
        List<IOException> thrown = new CopyOnWriteArrayList<>();
        BackgroundService s = BackgroundService.loop("l", rs -> {
            IOException e = new IOException("io " + thrown.size());
            thrown.add(e);
            throw e;
        }, RestartPolicy.after(Duration.ZERO).maxRestarts(2));
        s.open();
        LifecycleException e = assertThrows(LifecycleException.class, s::awaitTasks);
        assertSame(thrown.get(2), e.getCause());
        assertEquals(List.of(thrown.get(2)), s.failures()); // intermediate ones not listed
        assertTrue(s.toString().endsWith("failed=1, restarts=2}"), s.toString());
        s.close();
    }

    /** A cancel while the loop waits to restart ends it at once, with no failure. */
    @Test
    void loop_closeDuringRestartDelay_noFurtherRunNoFailure() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch failedOnce = new CountDownLatch(1);
        BackgroundService s = BackgroundService.loop("l", rs -> {
            runs.incrementAndGet();
            failedOnce.countDown();
            throw new IllegalStateException("boom");
        }, RestartPolicy.after(Duration.ofDays(1)));
        s.open();
        await(failedOnce);
        while (!s.toString().endsWith("restarts=1}")) {
            Thread.onSpinWait();
        }
        s.close();
        assertEquals(1, runs.get());
        assertEquals(List.of(), s.failures());
    }

    @Test
    void every_failingRun_loggedOnlyNextRunComes() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch three = new CountDownLatch(3);
        BackgroundService s = BackgroundService.every("poller", Duration.ofMillis(1), () -> {
            runs.incrementAndGet();
            three.countDown();
            throw new IOException("poll failed");
        });
        s.open();
        await(three);
        assertEquals(List.of(), s.failures());
        s.close(); // nothing thrown
        assertTrue(runs.get() >= 3);
    }

    /** Fixed delay: each run begins at least the period after the previous one ended. */
    @Test
    void every_period_fixedDelayNeverOverlapping() throws Exception {
        List<long[]> spans = new CopyOnWriteArrayList<>();
        CountDownLatch three = new CountDownLatch(3);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        BackgroundService s = BackgroundService.every("p", Duration.ofMillis(20), () -> {
            if (inside.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
            }
            long begin = System.nanoTime();
            spans.add(new long[] {begin, System.nanoTime()});
            inside.decrementAndGet();
            three.countDown();
        });
        s.open();
        await(three);
        s.close();
        assertEquals(0, overlaps.get());
        for (int i = 1; i < 3; i++) {
            assertTrue(spans.get(i)[0] - spans.get(i - 1)[1] >= 20_000_000L);
        }
    }

    @Test
    void everyWithNever_firstFailure_endsScheduleAsServiceFailure() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("boom");
        BackgroundService s = BackgroundService.every("p", Duration.ofMillis(1),
                RestartPolicy.never(), () -> {
                    if (runs.incrementAndGet() == 2) {
                        throw boom;
                    }
                });
        s.open();
        assertSame(boom, assertThrows(IllegalStateException.class, s::awaitTasks));
        assertEquals(2, runs.get());
        assertEquals(List.of(boom), s.failures());
        s.close();
    }

    /** A failed run is followed after the policy's delay, not the period. */
    @Test
    void everyWithPolicy_failure_nextRunAfterPolicyDelay() throws Exception {
        List<Long> starts = new CopyOnWriteArrayList<>();
        BackgroundService s = BackgroundService.every("p", Duration.ofDays(1),
                RestartPolicy.after(Duration.ofMillis(5)).maxRestarts(2), () -> {
                    starts.add(System.nanoTime());
                    throw new IllegalStateException("boom " + starts.size());
                });
        s.open();
        IllegalStateException e = assertThrows(IllegalStateException.class, s::awaitTasks);
        assertEquals("boom 3", e.getMessage()); // a day's period would never get here
        assertTrue(starts.get(1) - starts.get(0) >= 5_000_000L);
        s.close();
    }

    @Test
    void factories_badArguments_throwNamingThem() {
        RunState.ThrowingRunnable r = () -> { };
        assertEquals("period must be positive: PT0S", assertThrows(IllegalArgumentException.class,
                () -> BackgroundService.every("p", Duration.ZERO, r)).getMessage());
        assertEquals("policy", assertThrows(NullPointerException.class,
                () -> BackgroundService.every("p", Duration.ofSeconds(1), null, r))
                .getMessage());
        assertEquals("body", assertThrows(NullPointerException.class,
                () -> BackgroundService.loop("l", null, RestartPolicy.never())).getMessage());
        assertEquals("name", assertThrows(NullPointerException.class,
                () -> BackgroundService.loop(null, rs -> { }, RestartPolicy.never()))
                .getMessage());
    }
}
