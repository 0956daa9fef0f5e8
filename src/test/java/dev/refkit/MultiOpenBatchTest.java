package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static dev.refkit.TestThreads.assertInterruptedWhileParked;
import static dev.refkit.TestThreads.await;
import static dev.refkit.TestThreads.awaitParked;
import static dev.refkit.TestThreads.joinAll;
import static dev.refkit.TestThreads.start;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Openers that wait on a hook share one startup: an open that arrives while
 * {@code startup()} or {@code shutdown()} runs is counted into the cycle that startup begins,
 * so the thread that ran startup closing at once cannot end the cycle under them. Every test
 * closes each open right after it returns, the way a newcomer writes
 * {@code try (Handle h = x.open()) {}}, and runs many cycles on one object.
 */
@Timeout(60)
final class MultiOpenBatchTest {

    private static final int CYCLES = 30;
    private static final int WAITERS = 6;

    /** A thread that opens {@code r} and closes at once, recording any failure. */
    private static Thread openAndClose(MultiOpen r, ConcurrentLinkedQueue<Throwable> failures) {
        return start(() -> {
            try (Handle h = r.open()) {
                assertFalse(h.isClosed());
            } catch (Throwable t) {
                failures.add(t);
            }
        });
    }

    /**
     * Proves that openers queued behind a startup are counted into its cycle: the starter
     * closes the moment startup returns, and still startup and shutdown run once per cycle.
     */
    @Test
    void open_waitersQueuedBehindStartupStarterClosesAtOnce_oneStartupAndShutdownPerCycle()
            throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            CountDownLatch inStartup = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            r.onStartup = () -> {
                inStartup.countDown();
                await(release);
            };
            List<Thread> threads = new ArrayList<>();
            threads.add(openAndClose(r, failures));
            await(inStartup);
            for (int i = 0; i < WAITERS; i++) {
                Thread w = openAndClose(r, failures);
                threads.add(w);
                awaitParked(w);
            }
            release.countDown();
            joinAll(threads);
            assertEquals(cycle, r.startups.get(), "startups after cycle " + cycle);
            assertEquals(cycle, r.shutdowns.get(), "shutdowns after cycle " + cycle);
            assertEquals(MultiOpen.State.CLOSED, r.state());
            assertEquals(0, r.openCount());
        }
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /**
     * Proves that openers queued behind a shutdown share the next cycle's one startup, and
     * that the one among them that runs it closing at once does not end that cycle.
     */
    @Test
    void open_waitersQueuedBehindShutdown_shareOneNextStartup() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            CountDownLatch inShutdown = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            r.onShutdown = () -> {
                inShutdown.countDown();
                await(release);
            };
            r.open();
            Thread closer = start(r::close);
            await(inShutdown);
            r.onShutdown = () -> {};
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < WAITERS; i++) {
                Thread w = openAndClose(r, failures);
                threads.add(w);
                awaitParked(w);
            }
            release.countDown();
            closer.join(WAIT_S * 1000);
            joinAll(threads);
            // One startup for our own open, one shared by every opener queued behind shutdown.
            assertEquals(2 * cycle, r.startups.get(), "startups after cycle " + cycle);
            assertEquals(2 * cycle, r.shutdowns.get(), "shutdowns after cycle " + cycle);
            assertEquals(MultiOpen.State.CLOSED, r.state());
        }
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /** Proves a Shared value is made once for a batch of acquires that overlap its opener. */
    @Test
    void acquire_waitersQueuedBehindOpener_valueMadeOncePerCycle() throws Exception {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        AtomicReference<CountDownLatch> inOpener = new AtomicReference<>();
        AtomicReference<CountDownLatch> release = new AtomicReference<>();
        Shared<Integer> shared = Shared.of("res", () -> {
            inOpener.get().countDown();
            await(release.get());
            return made.incrementAndGet();
        }, v -> closed.incrementAndGet());
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            inOpener.set(new CountDownLatch(1));
            release.set(new CountDownLatch(1));
            int expected = cycle;
            Runnable acquirer = () -> {
                try (Lease<Integer> lease = shared.acquire()) {
                    assertEquals(expected, lease.get());
                } catch (Throwable t) {
                    failures.add(t);
                }
            };
            List<Thread> threads = new ArrayList<>();
            threads.add(start(acquirer));
            await(inOpener.get());
            for (int i = 0; i < WAITERS; i++) {
                Thread w = start(acquirer);
                threads.add(w);
                awaitParked(w);
            }
            release.get().countDown();
            joinAll(threads);
            assertEquals(cycle, made.get(), "values made after cycle " + cycle);
            assertEquals(cycle, closed.get(), "values closed after cycle " + cycle);
        }
        assertTrue(failures.isEmpty(), failures.toString());
    }

    /**
     * Proves a startup that throws InterruptedException sets the interrupt flag of the
     * thread that ran it only: the openers that waited for it throw without a spurious flag.
     */
    @Test
    void open_startupThrowsInterruptedException_waitersFlagsLeftAlone() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        InterruptedException cause = new InterruptedException("startup interrupted");
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
            throw cause;
        };
        AtomicBoolean starterFlag = new AtomicBoolean();
        AtomicReference<Throwable> starterGot = new AtomicReference<>();
        Thread starter = start(() -> {
            try {
                r.open();
            } catch (Throwable t) {
                starterGot.set(t);
                starterFlag.set(Thread.currentThread().isInterrupted());
            }
        });
        await(inStartup);
        ConcurrentLinkedQueue<Throwable> waiterGot = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Boolean> waiterFlags = new ConcurrentLinkedQueue<>();
        List<Thread> waiters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Thread w = start(() -> {
                try {
                    r.open();
                } catch (Throwable t) {
                    waiterGot.add(t);
                    waiterFlags.add(Thread.currentThread().isInterrupted());
                }
            });
            waiters.add(w);
            awaitParked(w);
        }
        release.countDown();
        starter.join(WAIT_S * 1000);
        joinAll(waiters);
        assertTrue(starterGot.get() instanceof LifecycleException, String.valueOf(starterGot.get()));
        assertSame(cause, starterGot.get().getCause());
        assertTrue(starterFlag.get(), "the starter's own interrupt is restored");
        assertEquals(3, waiterGot.size());
        for (Throwable t : waiterGot) {
            assertTrue(t instanceof LifecycleException, t.toString());
            assertSame(cause, t.getCause());
            assertEquals("db: startup() failed", t.getMessage());
        }
        assertEquals(List.of(false, false, false), new ArrayList<>(waiterFlags));
        assertEquals(0, r.openCount());
    }

    /**
     * Proves that an interruptible opener that was to run the next startup (it arrived first
     * during shutdown) and is interrupted hands that startup to the opener waiting with it.
     */
    @Test
    void openInterruptibly_nextStarterInterruptedDuringShutdown_otherOpenerStartsCycle()
            throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inShutdown = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onShutdown = () -> {
            inShutdown.countDown();
            await(release);
        };
        r.open();
        Thread closer = start(r::close);
        await(inShutdown);
        TestThreads.Call first = TestThreads.startCall(r::openInterruptibly);
        awaitParked(first.thread);
        AtomicReference<Handle> second = new AtomicReference<>();
        Thread secondThread = start(() -> second.set(r.open()));
        awaitParked(secondThread);
        first.thread.interrupt();
        Throwable firstGot = first.join();
        assertTrue(firstGot instanceof InterruptedException, String.valueOf(firstGot));
        assertEquals("db: interrupted in openInterruptibly()", firstGot.getMessage());
        assertEquals(MultiOpen.State.SHUTTING_DOWN, r.state());
        release.countDown();
        closer.join(WAIT_S * 1000);
        secondThread.join(WAIT_S * 1000);
        assertEquals(2, r.startups.get());
        assertEquals(1, r.openCount());
        assertEquals(MultiOpen.State.OPEN, r.state());
        second.get().close();
        assertEquals(2, r.shutdowns.get());
    }

    /** Proves an interrupted member of a startup leaves it uncounted, naming the object. */
    @Test
    void openInterruptibly_memberInterruptedDuringStartup_notCountedMessageNamesObject()
            throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
        };
        Thread starter = start(() -> r.open().close());
        await(inStartup);
        InterruptedException got = assertInterruptedWhileParked(r::openInterruptibly);
        assertEquals("db: interrupted in openInterruptibly()", got.getMessage());
        release.countDown();
        starter.join(WAIT_S * 1000);
        // The member left before startup ended: the starter's close was the last one.
        assertEquals(1, r.shutdowns.get());
        assertEquals(MultiOpen.State.CLOSED, r.state());
    }

    /** Proves an interrupted join names the object. */
    @Test
    void join_interrupted_messageNamesObject() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        Handle h = r.open();
        InterruptedException got = assertInterruptedWhileParked(() -> {
            r.join();
            return null;
        });
        assertEquals("db: interrupted in join()", got.getMessage());
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                () -> r.join(Duration.ofSeconds(1)));
        assertEquals("db: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
        h.close();
    }
}
