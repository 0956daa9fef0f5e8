package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static dev.refkit.TestThreads.assertInterruptedWhileParked;
import static dev.refkit.TestThreads.await;
import static dev.refkit.TestThreads.awaitParked;
import static dev.refkit.TestThreads.start;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Multi-threaded behaviour of {@link MultiOpen}: waiting, failures, interrupts, stress. */
@Timeout(30)
final class MultiOpenConcurrencyTest {


    /** Proves an opener that arrives during startup() waits and then sees its effects. */
    @Test
    void open_duringStartup_waitsAndSeesStartupEffects() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        int[] effect = new int[1]; // plain field: visibility must come from open()
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
            effect[0] = 42;
        };
        Thread first = start(r::open);
        await(inStartup);
        AtomicInteger seen = new AtomicInteger(-1);
        Thread second = start(() -> {
            r.open();
            seen.set(effect[0]);
        });
        awaitParked(second);
        assertEquals(-1, seen.get());
        assertEquals(MultiOpen.State.STARTING, r.state());
        release.countDown();
        first.join(WAIT_S * 1000);
        second.join(WAIT_S * 1000);
        assertEquals(42, seen.get());
        assertEquals(1, r.startups.get());
        assertEquals(2, r.openCount());
    }

    /** Proves every opener waiting on a failed startup throws it, and nobody is left. */
    @Test
    void startup_failsWithWaiters_everyWaiterThrowsAndNextOpenRetries() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IOException io = new IOException("no route");
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
            throw io;
        };
        ConcurrentLinkedQueue<Throwable> thrown = new ConcurrentLinkedQueue<>();
        Thread first = start(() -> {
            try {
                r.open();
            } catch (RuntimeException e) {
                thrown.add(e);
            }
        });
        await(inStartup);
        List<Thread> waiters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            boolean interruptibly = i == 2;
            Thread w = start(() -> {
                try {
                    if (interruptibly) {
                        r.openInterruptibly();
                    } else {
                        r.open();
                    }
                    thrown.add(new AssertionError("opened"));
                } catch (RuntimeException e) {
                    thrown.add(e);
                } catch (InterruptedException e) {
                    thrown.add(e);
                }
            });
            waiters.add(w);
        }
        for (Thread w : waiters) {
            awaitParked(w);
        }
        release.countDown();
        first.join(WAIT_S * 1000);
        for (Thread w : waiters) {
            w.join(WAIT_S * 1000);
            assertFalse(w.isAlive());
        }
        assertEquals(4, thrown.size());
        for (Throwable t : thrown) {
            assertTrue(t instanceof LifecycleException, t.toString());
            assertSame(io, t.getCause());
            assertEquals("db: startup() failed", t.getMessage());
        }
        assertEquals(1, r.startups.get());
        assertEquals(0, r.openCount());
        assertEquals(MultiOpen.State.NEW, r.state());
        r.onStartup = () -> {};
        r.open();
        assertEquals(2, r.startups.get());
    }

    /** Proves open() keeps waiting for startup() through an interrupt, keeping the flag. */
    @Test
    void open_interruptedWhileWaiting_keepsWaitingAndFlag() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
        };
        Thread first = start(r::open);
        await(inStartup);
        AtomicBoolean flagAfter = new AtomicBoolean();
        AtomicBoolean opened = new AtomicBoolean();
        Thread second = start(() -> {
            r.open();
            opened.set(true);
            flagAfter.set(Thread.currentThread().isInterrupted());
        });
        awaitParked(second);
        second.interrupt();
        release.countDown();
        first.join(WAIT_S * 1000);
        second.join(WAIT_S * 1000);
        assertTrue(opened.get());
        assertTrue(flagAfter.get());
        assertEquals(2, r.openCount());
    }

    /** Proves openInterruptibly() gives up on interrupt during startup and is not counted. */
    @Test
    void openInterruptibly_interruptedDuringStartup_throwsNotCounted() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onStartup = () -> {
            inStartup.countDown();
            await(release);
        };
        Thread first = start(r::open);
        await(inStartup);
        assertInterruptedWhileParked(r::openInterruptibly);
        release.countDown();
        first.join(WAIT_S * 1000);
        assertEquals(1, r.openCount());
    }

    /** Proves openInterruptibly() gives up on interrupt while shutdown() runs. */
    @Test
    void openInterruptibly_interruptedDuringShutdown_throwsNotCounted() throws Exception {
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
        assertInterruptedWhileParked(r::openInterruptibly);
        release.countDown();
        closer.join(WAIT_S * 1000);
        assertEquals(MultiOpen.State.CLOSED, r.state());
        assertEquals(1, r.startups.get());
    }

    /** Proves an open during shutdown() waits for it, then starts the next cycle. */
    @Test
    void open_duringShutdown_waitsThenStartsNextCycle() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        CountDownLatch inShutdown = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean shuttingDown = new AtomicBoolean();
        AtomicBoolean overlap = new AtomicBoolean();
        r.onShutdown = () -> {
            shuttingDown.set(true);
            inShutdown.countDown();
            await(release);
            shuttingDown.set(false);
        };
        r.onStartup = () -> overlap.compareAndSet(false, shuttingDown.get());
        r.open();
        Thread closer = start(r::close);
        await(inShutdown);
        Thread opener = start(r::open);
        awaitParked(opener);
        assertEquals(MultiOpen.State.SHUTTING_DOWN, r.state());
        release.countDown();
        closer.join(WAIT_S * 1000);
        opener.join(WAIT_S * 1000);
        assertFalse(overlap.get());
        assertEquals(2, r.startups.get());
        assertEquals(1, r.shutdowns.get());
        assertEquals(1, r.openCount());
    }

    /** Proves join() returns only after the last close on another thread has finished. */
    @Test
    void join_lastCloseOnOtherThread_returnsAfterShutdown() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        Handle h = r.open();
        AtomicInteger shutdownsSeen = new AtomicInteger(-1);
        Thread joiner = start(() -> {
            try {
                r.join();
                shutdownsSeen.set(r.shutdowns.get());
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        awaitParked(joiner);
        Thread closer = start(h::close); // a Handle closed on another thread
        closer.join(WAIT_S * 1000);
        joiner.join(WAIT_S * 1000);
        assertTrue(h.isClosed());
        assertEquals(1, shutdownsSeen.get());
    }

    /** Proves join() waits for finalizeNow() called by another thread after the close. */
    @Test
    void join_finalizeLater_waitsForFinalizeNowOnOtherThread() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        r.later = true;
        r.open();
        CountDownLatch joined = new CountDownLatch(1);
        Thread joiner = start(() -> {
            try {
                r.join();
                joined.countDown();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        awaitParked(joiner);
        r.close();
        assertEquals(MultiOpen.State.FINALIZING, r.state());
        assertEquals(1, joined.getCount());
        Thread finisher = start(r::finalizeNowForTest);
        await(joined);
        finisher.join(WAIT_S * 1000);
        assertEquals(MultiOpen.State.CLOSED, r.state());
    }

    /** Proves finalizeNow() from another thread during shutdown() waits for it, then works. */
    @Test
    void finalizeNow_otherThreadDuringShutdown_finalizesAfterIt() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        r.later = true;
        CountDownLatch inShutdown = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onShutdown = () -> {
            inShutdown.countDown();
            await(release);
        };
        r.open();
        Thread closer = start(r::close);
        await(inShutdown);
        Thread finisher = start(r::finalizeNowForTest);
        awaitParked(finisher);
        release.countDown();
        closer.join(WAIT_S * 1000);
        finisher.join(WAIT_S * 1000);
        assertEquals(MultiOpen.State.CLOSED, r.state());
        assertTrue(r.join(Duration.ZERO));
    }

    /** Proves join(Duration) interrupted while waiting throws InterruptedException. */
    @Test
    void join_interruptedWhileWaiting_throws() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        r.open();
        assertInterruptedWhileParked(() -> r.join(Duration.ofDays(1)));
    }

    /** Proves that threads racing to close one Handle close its open exactly once. */
    @Test
    void handleClose_racingThreads_closesExactlyOnce() throws Exception {
        MultiOpenTest.Res r = new MultiOpenTest.Res();
        Handle keep = r.open();
        for (int round = 0; round < 200; round++) {
            Handle h = r.open();
            CyclicBarrier go = new CyclicBarrier(2);
            Runnable closeIt = () -> {
                try {
                    go.await(WAIT_S, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                h.close();
            };
            Thread a = start(closeIt);
            Thread b = start(closeIt);
            a.join(WAIT_S * 1000);
            b.join(WAIT_S * 1000);
            assertEquals(1, r.openCount(), "round " + round);
        }
        keep.close();
        assertEquals(1, r.shutdowns.get());
    }

    /**
     * Proves rules 1-3 under load: threads opening and closing at random never see a
     * shut-down resource, hooks never overlap, startups and shutdowns stay paired.
     */
    @Test
    void openClose_manyThreadsAtRandom_hooksPairedNeverOverlapping() throws Exception {
        stress(8, 100_000, 3);
    }

    /**
     * Proves the same with every thread holding at most one open, so the count keeps
     * touching 0 and opens keep racing first opens, last closes and failed startups.
     */
    @Test
    void openClose_manyShortCycles_hooksPairedNeverOverlapping() throws Exception {
        stress(4, 100_000, 1);
    }

    private static void stress(int threads, int opsPerThread, int maxHeld) throws Exception {
        AtomicInteger inHook = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        AtomicBoolean up = new AtomicBoolean();
        AtomicReference<String> error = new AtomicReference<>();
        MultiOpenTest.Res r = new MultiOpenTest.Res() {
            @Override
            protected void startup() throws Exception {
                if (inHook.incrementAndGet() != 1 || up.get()) {
                    error.compareAndSet(null, "startup overlapped or ran twice");
                }
                super.startup();
                inHook.decrementAndGet();
                if (ThreadLocalRandom.current().nextInt(50) == 0) {
                    failures.incrementAndGet();
                    throw new IllegalStateException("flaky");
                }
                up.set(true);
            }

            @Override
            protected void shutdown() throws Exception {
                if (inHook.incrementAndGet() != 1 || !up.getAndSet(false)) {
                    error.compareAndSet(null, "shutdown overlapped or without startup");
                }
                super.shutdown();
                inHook.decrementAndGet();
            }
        };
        CyclicBarrier go = new CyclicBarrier(threads);
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            all.add(start(() -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                List<Handle> mine = new ArrayList<>();
                try {
                    go.await(WAIT_S, TimeUnit.SECONDS);
                    for (int i = 0; i < opsPerThread; i++) {
                        if (mine.isEmpty() || (mine.size() < maxHeld && rnd.nextBoolean())) {
                            Handle h;
                            try {
                                h = rnd.nextInt(4) == 0 ? r.openInterruptibly() : r.open();
                            } catch (IllegalStateException expected) {
                                if (!"flaky".equals(expected.getMessage())) {
                                    throw expected;
                                }
                                continue;
                            }
                            mine.add(h);
                            if (!up.get()) {
                                error.compareAndSet(null, "open returned while not started");
                            }
                            r.guarded();
                        } else {
                            mine.remove(mine.size() - 1).close();
                        }
                    }
                    for (Handle h : mine) {
                        h.close();
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e.toString());
                }
            }));
        }
        for (Thread t : all) {
            t.join(WAIT_S * 1000);
            assertFalse(t.isAlive());
        }
        assertNull(error.get());
        assertEquals(0, r.openCount());
        assertEquals(r.startups.get() - failures.get(), r.shutdowns.get());
        assertTrue(r.shutdowns.get() >= 1);
        assertEquals(MultiOpen.State.CLOSED, r.state());
    }
}
