package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;

/** {@link RestartRunner} alone, on a bare {@link RunState}: no task group involved. */
@Timeout(30)
final class RestartRunnerTest {
    private final RunState rs = new RunState("rs");
    /** Every warn call: its arguments. */
    private final List<Object[]> warns = new ArrayList<>();
    private final Logger log = (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(),
            new Class<?>[] {Logger.class}, (proxy, m, args) -> {
                if (m.getName().equals("warn")) {
                    synchronized (warns) {
                        warns.add(args);
                    }
                }
                return m.getReturnType() == boolean.class ? Boolean.FALSE : null;
            });

    RestartRunnerTest() {
        rs.start();
    }

    private RestartRunner runner(RestartPolicy p, RunState.ThrowingRunnable body) {
        return new RestartRunner("g: task t", p, body, rs, () -> false, log, null);
    }

    @Test
    void call_failsThenSucceeds_countsRestarts() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        RestartRunner r = runner(RestartPolicy.after(Duration.ZERO), () -> {
            if (runs.incrementAndGet() <= 3) {
                throw new IllegalStateException("boom " + runs.get());
            }
        });
        assertNull(r.call());
        assertEquals(4, runs.get());
        assertEquals(3, r.restarts());
    }

    @Test
    void call_eachIntermediateFailure_loggedWithNameAttemptAndException() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        List<Exception> thrown = new ArrayList<>();
        RestartRunner r = runner(RestartPolicy.after(Duration.ZERO).maxRestarts(1), () -> {
            Exception e = new java.io.IOException("io " + runs.incrementAndGet());
            thrown.add(e);
            throw e;
        });
        Exception last = assertThrows(java.io.IOException.class, r::call);
        assertSame(thrown.get(1), last);
        Object[] first = warns.get(0);
        assertTrue(String.valueOf(first[0]).contains("attempt"), String.valueOf(first[0]));
        Object[] args = (Object[]) first[1];
        assertEquals("g: task t", args[0]);
        assertEquals(1, args[1]);
        assertSame(thrown.get(0), args[args.length - 1]); // the exception attached
    }

    @Test
    void call_limitReached_rethrowsLastFailure() {
        AtomicInteger runs = new AtomicInteger();
        List<RuntimeException> thrown = new ArrayList<>();
        RestartRunner r = runner(RestartPolicy.after(Duration.ZERO).maxRestarts(2), () -> {
            RuntimeException e = new IllegalStateException("boom " + runs.incrementAndGet());
            thrown.add(e);
            throw e;
        });
        RuntimeException e = assertThrows(IllegalStateException.class, r::call);
        assertEquals(3, runs.get());
        assertSame(thrown.get(2), e);
        assertEquals(2, r.restarts());
    }

    @Test
    void call_never_rethrowsFirstFailure() {
        AtomicInteger runs = new AtomicInteger();
        RestartRunner r = runner(RestartPolicy.never(), () -> {
            runs.incrementAndGet();
            throw new Error("fatal");
        });
        assertEquals("fatal", assertThrows(Error.class, r::call).getMessage());
        assertEquals(1, runs.get());
        assertEquals(0, r.restarts());
    }

    @Test
    void call_delay_waitsAtLeastTheDelay() {
        List<Long> starts = new ArrayList<>();
        RestartRunner r = runner(RestartPolicy.after(Duration.ofMillis(50)).maxRestarts(1), () -> {
            starts.add(System.nanoTime());
            throw new IllegalStateException("boom");
        });
        assertThrows(IllegalStateException.class, r::call);
        assertEquals(2, starts.size());
        assertTrue(starts.get(1) - starts.get(0) >= 50_000_000L);
    }

    @Test
    void call_backoff_delaysGrow() {
        List<Long> starts = new ArrayList<>();
        RestartRunner r = runner(RestartPolicy.after(Duration.ofMillis(10))
                .backoff(3.0, Duration.ofMillis(60)).maxRestarts(3), () -> {
                    starts.add(System.nanoTime());
                    throw new IllegalStateException("boom");
                });
        assertThrows(IllegalStateException.class, r::call);
        assertEquals(4, starts.size());
        assertTrue(starts.get(1) - starts.get(0) >= 10_000_000L);
        assertTrue(starts.get(2) - starts.get(1) >= 30_000_000L);
        assertTrue(starts.get(3) - starts.get(2) >= 60_000_000L);
    }

    /** A run as long as {@code resetAfter} (on the runner's clock) resets the count. */
    @Test
    void call_healthyRun_resetsCount() {
        AtomicLong now = new AtomicLong();
        AtomicInteger runs = new AtomicInteger();
        RestartPolicy p = RestartPolicy.after(Duration.ZERO).maxRestarts(1)
                .resetAfter(Duration.ofNanos(100));
        RestartRunner r = new RestartRunner("g: task t", p, () -> {
            if (runs.incrementAndGet() == 2) {
                now.addAndGet(100); // the second run lasts 100 ns: healthy
            }
            throw new IllegalStateException("boom " + runs.get());
        }, rs, () -> false, log, null, now::get);
        assertEquals("boom 3", assertThrows(IllegalStateException.class, r::call).getMessage());
        assertEquals(3, runs.get()); // without the reset it would give up after run 2
        assertEquals(2, r.restarts());
    }

    @Test
    void call_shortRun_doesNotReset() {
        AtomicLong now = new AtomicLong();
        AtomicInteger runs = new AtomicInteger();
        RestartPolicy p = RestartPolicy.after(Duration.ZERO).maxRestarts(1)
                .resetAfter(Duration.ofNanos(100));
        RestartRunner r = new RestartRunner("g: task t", p, () -> {
            now.addAndGet(99);
            throw new IllegalStateException("boom " + runs.incrementAndGet());
        }, rs, () -> false, log, null, now::get);
        assertEquals("boom 2", assertThrows(IllegalStateException.class, r::call).getMessage());
    }

    /** A cancel during the delay ends the loop at once with no further run. */
    @Test
    void call_cancelDuringDelay_cancellationAndNoFurtherRun() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger counter = new AtomicInteger();
        RestartRunner r = new RestartRunner("g: task t", RestartPolicy.after(Duration.ofDays(1)),
                () -> {
                    runs.incrementAndGet();
                    throw new IllegalStateException("boom");
                }, rs, () -> false, log, counter);
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                r.call();
                ended.complete(null);
            } catch (Throwable e) {
                ended.complete(e);
            }
        });
        t.start();
        while (counter.get() == 0) { // counted just before the sleep
            Thread.onSpinWait();
        }
        rs.cancel("bye");
        Throwable e = ended.get();
        assertTrue(e instanceof CancellationException, String.valueOf(e));
        assertTrue(e.getMessage().contains("bye"), e.getMessage());
        assertEquals(1, runs.get());
    }

    @Test
    void call_failsWhileCancelled_rethrownWithoutRestart() {
        AtomicInteger runs = new AtomicInteger();
        RestartRunner r = runner(RestartPolicy.after(Duration.ZERO), () -> {
            runs.incrementAndGet();
            rs.cancel();
            throw new IllegalStateException("after cancel");
        });
        assertEquals("after cancel",
                assertThrows(IllegalStateException.class, r::call).getMessage());
        assertEquals(1, runs.get());
    }

    /** The task's own cancel interrupts the sleep: the loop ends as cancelled. */
    @Test
    void call_taskCancelledDuringDelay_cancellation() throws Exception {
        AtomicBoolean cancelled = new AtomicBoolean();
        AtomicInteger counter = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        RestartRunner r = new RestartRunner("g: task t", RestartPolicy.after(Duration.ofDays(1)),
                () -> {
                    runs.incrementAndGet();
                    throw new IllegalStateException("boom");
                }, rs, cancelled::get, log, counter);
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                r.call();
                ended.complete(null);
            } catch (Throwable e) {
                ended.complete(e);
            }
        });
        t.start();
        while (counter.get() == 0) {
            Thread.onSpinWait();
        }
        cancelled.set(true);
        t.interrupt();
        Throwable e = ended.get();
        assertTrue(e instanceof CancellationException, String.valueOf(e));
        // the wait may see the cancel or the interrupt first; an interrupt is the cause
        assertTrue(e.getCause() == null || e.getCause() instanceof InterruptedException,
                String.valueOf(e.getCause()));
        assertEquals(1, runs.get());
    }
}
