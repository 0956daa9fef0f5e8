package dev.refkit;

import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hostile tests of Shared.refresh()/Lease.invalidate() and RunState stop accounting. */
final class Attack9cTest {

    // ------------------------------------------------------------------ Shared fixtures

    /** A value that counts its leases (as seen by the test) and its closes. */
    static final class Val {
        final int id;
        final AtomicInteger leased = new AtomicInteger();
        final AtomicInteger closes = new AtomicInteger();
        final Queue<String> problems;

        Val(int id, Queue<String> problems) {
            this.id = id;
            this.problems = problems;
        }

        boolean open() {
            return closes.get() == 0;
        }

        @Override
        public String toString() {
            return "v" + id;
        }
    }

    /** A Shared over Val with bookkeeping; {@code hook} may run in the opener. */
    static final class Fix {
        final Queue<String> problems = new ConcurrentLinkedQueue<>();
        final List<Val> made = java.util.Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger opens = new AtomicInteger();
        volatile IntFunction<Void> hook = n -> null;
        final Shared<Val> shared;

        Fix() {
            shared = Shared.of("s", () -> {
                int n = opens.incrementAndGet();
                hook.apply(n);
                Val v = new Val(n, problems);
                made.add(v);
                return v;
            }, v -> {
                if (v.leased.get() != 0) {
                    problems.add(v + " closed while leased " + v.leased.get());
                }
                if (v.closes.incrementAndGet() != 1) {
                    problems.add(v + " closed twice");
                }
            });
        }

        Lease<Val> acquire() {
            Lease<Val> l = shared.acquire();
            Val v = l.get();
            v.leased.incrementAndGet();
            if (!v.open()) {
                problems.add("acquired closed " + v);
            }
            return l;
        }

        void release(Lease<Val> l) {
            l.get().leased.decrementAndGet();
            l.close();
        }

        void invalidate(Lease<Val> l) {
            l.get().leased.decrementAndGet();
            l.invalidate();
        }

        List<Val> openVals() {
            List<Val> r = new ArrayList<>();
            synchronized (made) {
                for (Val v : made) {
                    if (v.open()) {
                        r.add(v);
                    }
                }
            }
            return r;
        }

        /** Everything closed exactly once, no problems, openCount 0, join returns. */
        void assertAllDone() throws InterruptedException {
            assertTrue(shared.join(Duration.ofSeconds(TestThreads.WAIT_S)), "join hung: " + shared);
            assertEquals(List.of(), openVals(), "values left open: " + shared);
            synchronized (made) {
                for (Val v : made) {
                    assertEquals(1, v.closes.get(), v + " close count");
                }
            }
            assertEquals(0, shared.openCount(), "openCount");
            assertEquals(List.of(), new ArrayList<>(problems));
        }
    }

    // ------------------------------------------------------------------ Shared tests

    @Test
    @Timeout(30)
    void refreshBasicLifecycle() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        Val v1 = a.get();
        f.shared.refresh();
        assertEquals(2, f.opens.get(), "refresh made a fresh value");
        assertTrue(v1.open(), "old value closed while leased");
        assertEquals(1, f.shared.openCount(), "openCount counts leases only");
        Lease<Val> b = f.acquire();
        assertEquals(2, b.get().id, "later acquire gets fresh value");
        assertEquals(2, f.shared.openCount());
        f.release(b);
        assertEquals(1, f.shared.openCount(), "openCount after closing fresh lease");
        f.release(a);
        f.assertAllDone();
        Lease<Val> c = f.acquire();
        assertEquals(3, c.get().id, "next acquire after all closed makes fresh value");
        f.release(c);
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void refreshWithNoLeaseDoesNothing() throws Exception {
        Fix f = new Fix();
        f.shared.refresh();
        assertEquals(0, f.opens.get(), "refresh on NEW opened something");
        Lease<Val> a = f.acquire();
        f.release(a);
        f.shared.refresh();
        assertEquals(1, f.opens.get(), "refresh after cycle with no lease opened something");
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void longHeldLeaseOverManyRefreshesKeepsOnlyOwnAndCurrent() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        for (int i = 0; i < 20; i++) {
            Lease<Val> b = f.acquire();
            f.release(b);
            f.shared.refresh();
            List<Val> open = f.openVals();
            assertEquals(2, open.size(), "open values after refresh " + i + ": " + open);
            assertTrue(open.contains(a.get()));
        }
        assertEquals(1, f.shared.openCount());
        f.release(a);
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void invalidateNotCurrentDoesNotRefresh() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        Lease<Val> b = f.acquire();
        f.shared.refresh();
        Lease<Val> c = f.acquire();
        f.invalidate(a);
        assertEquals(2, f.opens.get(), "invalidate of a replaced value refreshed");
        f.invalidate(c); // current, another lease (b) out: refresh
        assertEquals(3, f.opens.get(), "invalidate of current with b out did not refresh");
        f.invalidate(b); // b's value replaced, no refresh; last lease of all
        assertEquals(3, f.opens.get());
        f.assertAllDone();
        Lease<Val> d = f.acquire();
        f.invalidate(d); // only lease: no refresh
        assertEquals(4, f.opens.get(), "invalidate of the only lease refreshed");
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void invalidateAfterCycleDoesNotRefreshNewCycle() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        Lease<Val> b = f.acquire();
        f.invalidate(a); // refresh: v2
        assertEquals(2, f.opens.get());
        a.invalidate(); // closed lease: nothing
        assertEquals(2, f.opens.get(), "invalidate on a closed lease did something");
        f.release(b);
        f.assertAllDone();
    }

    @Test
    @Timeout(60)
    void manyThreadsInvalidateAtOnce() throws Exception {
        for (int iter = 0; iter < 200; iter++) {
            Fix f = new Fix();
            int n = 8;
            List<Lease<Val>> leases = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                leases.add(f.acquire());
            }
            Lease<Val> keep = f.acquire();
            CyclicBarrier bar = new CyclicBarrier(n);
            List<TestThreads.Call> calls = new ArrayList<>();
            for (Lease<Val> l : leases) {
                calls.add(TestThreads.startCall(() -> {
                    bar.await();
                    f.invalidate(l);
                    return null;
                }));
            }
            for (TestThreads.Call c : calls) {
                assertNull(c.join());
            }
            assertEquals(2, f.opens.get(), "several invalidated at once: fresh values made, iter " + iter);
            assertTrue(keep.get().open());
            assertEquals(1, f.shared.openCount(), "openCount after invalidations");
            f.release(keep);
            f.assertAllDone();
        }
    }

    @Test
    @Timeout(60)
    void allLeasesInvalidatedAtOnce() throws Exception {
        for (int iter = 0; iter < 300; iter++) {
            Fix f = new Fix();
            int n = 4;
            List<Lease<Val>> leases = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                leases.add(f.acquire());
            }
            CyclicBarrier bar = new CyclicBarrier(n);
            List<TestThreads.Call> calls = new ArrayList<>();
            for (Lease<Val> l : leases) {
                calls.add(TestThreads.startCall(() -> {
                    bar.await();
                    f.invalidate(l);
                    return null;
                }));
            }
            for (TestThreads.Call c : calls) {
                assertNull(c.join());
            }
            assertTrue(f.opens.get() <= 2, "too many fresh values: " + f.opens.get());
            f.assertAllDone();
        }
    }

    @Test
    @Timeout(60)
    void refreshRacesLastLeaseClose() throws Exception {
        for (int iter = 0; iter < 500; iter++) {
            Fix f = new Fix();
            Lease<Val> a = f.acquire();
            CyclicBarrier bar = new CyclicBarrier(2);
            TestThreads.Call r = TestThreads.startCall(() -> {
                bar.await();
                f.shared.refresh();
                return null;
            });
            TestThreads.Call c = TestThreads.startCall(() -> {
                bar.await();
                f.release(a);
                return null;
            });
            assertNull(r.join());
            assertNull(c.join());
            f.assertAllDone();
            // and the shared is usable afterwards
            Lease<Val> b = f.acquire();
            assertTrue(b.get().open());
            f.release(b);
            f.assertAllDone();
        }
    }

    @Test
    @Timeout(60)
    void refreshRacesRefresh() throws Exception {
        for (int iter = 0; iter < 300; iter++) {
            Fix f = new Fix();
            Lease<Val> a = f.acquire();
            CyclicBarrier bar = new CyclicBarrier(3);
            List<TestThreads.Call> calls = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                calls.add(TestThreads.startCall(() -> {
                    bar.await();
                    f.shared.refresh();
                    return null;
                }));
            }
            calls.add(TestThreads.startCall(() -> {
                bar.await();
                Lease<Val> b = f.acquire();
                f.release(b);
                return null;
            }));
            for (TestThreads.Call c : calls) {
                assertNull(c.join());
            }
            assertEquals(3, f.opens.get(), "two refreshes with a lease out: opens");
            List<Val> open = f.openVals();
            assertTrue(open.size() <= 2, "more than own + current open: " + open);
            assertTrue(a.get().open());
            f.release(a);
            f.assertAllDone();
        }
    }

    @Test
    @Timeout(60)
    void refreshRacesAcquireAndClose() throws Exception {
        Fix f = new Fix();
        AtomicBoolean stop = new AtomicBoolean();
        CyclicBarrier bar = new CyclicBarrier(4);
        List<TestThreads.Call> calls = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            calls.add(TestThreads.startCall(() -> {
                bar.await();
                for (int i = 0; i < 20000; i++) {
                    Lease<Val> l = f.acquire();
                    Lease<Val> l2 = f.acquire();
                    if (!l.get().open() || !l2.get().open()) {
                        f.problems.add("leased value closed");
                    }
                    if ((i & 7) == 0) {
                        f.invalidate(l2);
                    } else {
                        f.release(l2);
                    }
                    f.release(l);
                }
                return null;
            }));
        }
        calls.add(TestThreads.startCall(() -> {
            bar.await();
            while (!stop.get()) {
                f.shared.refresh();
                if (f.shared.openCount() < 0) {
                    f.problems.add("negative openCount");
                }
            }
            return null;
        }));
        for (int i = 0; i < 3; i++) {
            assertNull(calls.get(i).join());
        }
        stop.set(true);
        assertNull(calls.get(3).join());
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void blockedRefreshOpenerDoesNotBlockAcquireOrClose() throws Exception {
        Fix f = new Fix();
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Lease<Val> a = f.acquire();
        f.hook = n -> {
            if (n == 2) {
                inOpener.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }
            return null;
        };
        TestThreads.Call r = TestThreads.startCall(() -> {
            f.shared.refresh();
            return null;
        });
        await(inOpener);
        // acquire and close an existing value while the refresh's opener is blocked
        Future<Integer> acq = TestThreads.fork(() -> {
            Lease<Val> l = f.acquire();
            int id = l.get().id;
            f.release(l);
            return id;
        });
        assertEquals(1, (int) acq.get(10, TimeUnit.SECONDS), "acquire waited for refresh");
        assertEquals(1, f.shared.openCount());
        // close the last lease while the refresh's opener is blocked: must not wait
        Future<Object> cl = TestThreads.fork(() -> {
            f.release(a);
            return null;
        });
        cl.get(10, TimeUnit.SECONDS);
        // now acquire needs a new value while the refresh still blocks: must not wait
        Future<Lease<Val>> acq2 = TestThreads.fork(f::acquire);
        Lease<Val> b;
        try {
            b = acq2.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            release.countDown();
            fail("acquire after last close waited for the blocked refresh: " + f.shared);
            return;
        }
        assertTrue(b.get().open());
        release.countDown();
        assertNull(r.join());
        assertTrue(b.get().open(), "leased value closed by refresh");
        f.release(b);
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void refreshAllLeasesClosedWhileOpenerRuns() throws Exception {
        Fix f = new Fix();
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Lease<Val> a = f.acquire();
        f.hook = n -> {
            if (n == 2) {
                inOpener.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }
            return null;
        };
        TestThreads.Call r = TestThreads.startCall(() -> {
            f.shared.refresh();
            return null;
        });
        await(inOpener);
        f.release(a);
        release.countDown();
        assertNull(r.join());
        f.assertAllDone();
        assertEquals(MultiOpen.State.CLOSED, f.shared.state());
    }

    @Test
    @Timeout(30)
    void joinWaitsAcrossGenerations() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        f.shared.refresh();
        Lease<Val> b = f.acquire();
        Future<Object> j = TestThreads.forkParked(() -> {
            f.shared.join();
            return null;
        });
        assertFalse(j.isDone(), "join returned with leases out");
        f.release(a);
        assertFalse(f.shared.join(Duration.ZERO), "join(0) true with b out");
        assertFalse(j.isDone(), "join returned with b out");
        f.release(b);
        j.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        f.assertAllDone();

        // only the old lease out after refresh: join waits for it
        Lease<Val> c = f.acquire();
        f.shared.refresh();
        assertFalse(f.shared.join(Duration.ZERO), "join(0) true with old lease out");
        Future<Object> j2 = TestThreads.forkParked(() -> {
            f.shared.join();
            return null;
        });
        assertFalse(j2.isDone());
        f.release(c);
        j2.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void refreshAfterCycle() throws Exception {
        Fix f = new Fix();
        for (int i = 0; i < 5; i++) {
            Lease<Val> a = f.acquire();
            f.release(a);
            f.assertAllDone();
            Lease<Val> b = f.acquire();
            f.shared.refresh();
            Lease<Val> c = f.acquire();
            assertFalse(b.get() == c.get(), "refresh after cycle gave the same value");
            f.release(b);
            assertTrue(c.get().open());
            f.release(c);
            f.assertAllDone();
        }
    }

    @Test
    @Timeout(30)
    void refreshInsideReplacedCloserAllowed() throws Exception {
        AtomicReference<Shared<int[]>> ref = new AtomicReference<>();
        AtomicInteger opens = new AtomicInteger();
        AtomicReference<Throwable> inCloser = new AtomicReference<>();
        AtomicInteger closes = new AtomicInteger();
        Shared<int[]> s = Shared.of("x", () -> new int[] {opens.incrementAndGet()}, v -> {
            closes.incrementAndGet();
            if (v[0] == 1) {
                try {
                    ref.get().refresh();
                } catch (Throwable t) {
                    inCloser.set(t);
                }
            }
        });
        ref.set(s);
        Lease<int[]> a = s.acquire();
        Lease<int[]> keep = s.acquire();
        s.refresh(); // v1 replaced, held by a, keep
        Lease<int[]> c = s.acquire(); // v2
        keep.close();
        a.close(); // closes v1, whose closer refreshes (c is out)
        assertNull(inCloser.get(), "refresh inside the closer of a replaced value threw");
        c.close();
        assertTrue(s.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        assertEquals(opens.get(), closes.get(), "opens vs closes");
        assertEquals(0, s.openCount());
    }

    // ------------------------------------------------------------------ RunState tests

    /**
     * A stop listener whose first call blocks on thread T1 until released; a second run is
     * started and stopped by the main thread, so its call is left to T1.
     */
    @Test
    @Timeout(30)
    void joinWaitsForDelegatedStopCall() throws Exception {
        RunState rs = new RunState("r");
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Queue<String> calls = new ConcurrentLinkedQueue<>();
        AtomicInteger n = new AtomicInteger();
        rs.onStop(x -> {
            int k = n.incrementAndGet();
            calls.add(k + "@" + Thread.currentThread().getName());
            if (k == 1) {
                inFirst.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }
        });
        TestThreads.Call t1 = TestThreads.startCall(() -> {
            Thread.currentThread().setName("T1");
            rs.start();
            rs.stop();
            return null;
        });
        await(inFirst);
        assertFalse(rs.join(Duration.ZERO), "join true while run 1's stop listener runs");
        rs.start();
        rs.stop(); // must not wait for T1
        assertEquals(1, n.get(), "run 2's call ran on main despite T1 still in the listener");
        assertFalse(rs.join(Duration.ZERO), "join true while run 2's stop call is queued");
        Future<Object> j = TestThreads.forkParked(() -> {
            rs.join();
            return null;
        });
        assertFalse(j.isDone());
        release.countDown();
        assertNull(t1.join());
        j.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        assertEquals(List.of("1@T1", "2@T1"), new ArrayList<>(calls));
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void removedListenerWhileQueuedDoesNotHangJoin() throws Exception {
        RunState rs = new RunState("r");
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger n = new AtomicInteger();
        AtomicInteger m = new AtomicInteger();
        Registration reg = rs.onStop(x -> {
            if (n.incrementAndGet() == 1) {
                inFirst.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }
        });
        rs.onStop(x -> m.incrementAndGet());
        TestThreads.Call t1 = TestThreads.startCall(() -> {
            rs.start();
            rs.stop();
            return null;
        });
        await(inFirst);
        rs.start();
        rs.stop();
        reg.close(); // its call for run 2 is queued on T1
        assertFalse(rs.join(Duration.ZERO), "join true while run 1's listener runs");
        release.countDown();
        assertNull(t1.join());
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)), "join hung after removal");
        assertTrue(n.get() <= 2, "removed listener called " + n.get());
        assertEquals(2, m.get(), "other listener calls");
        // and cycles afterwards still work
        rs.start();
        rs.stop();
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        assertEquals(3, m.get());
    }

    @Test
    @Timeout(30)
    void removedOnlyListenerWhileQueuedDoesNotHangJoin() throws Exception {
        RunState rs = new RunState("r");
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger n = new AtomicInteger();
        Registration reg = rs.onStop(x -> {
            if (n.incrementAndGet() == 1) {
                inFirst.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }
        });
        TestThreads.Call t1 = TestThreads.startCall(() -> {
            rs.start();
            rs.stop();
            return null;
        });
        await(inFirst);
        rs.start();
        rs.stop();
        reg.close();
        // a third run with no listener at all: its stop is done at once but must wait for run 2
        rs.start();
        rs.stop();
        assertFalse(rs.join(Duration.ZERO), "join true while run 1's listener runs");
        release.countDown();
        assertNull(t1.join());
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)), "join hung after removal");
        assertEquals(1, n.get(), "removed listener called for a queued call");
    }

    @Test
    @Timeout(30)
    void delegatedStopCallThrowsRuntimeException() throws Exception {
        RunState rs = new RunState("r");
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger n = new AtomicInteger();
        AtomicInteger after = new AtomicInteger();
        rs.onStop(x -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                inFirst.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            } else {
                throw new RuntimeException("boom in delegated call (expected, logged)");
            }
        });
        rs.onStop(x -> after.incrementAndGet());
        TestThreads.Call t1 = TestThreads.startCall(() -> {
            rs.start();
            rs.stop();
            return null;
        });
        await(inFirst);
        rs.start();
        rs.stop();
        release.countDown();
        assertNull(t1.join(), "T1's stop threw");
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)), "join hung");
        assertEquals(2, n.get());
        assertEquals(2, after.get(), "listener after the thrower");
    }

    @Test
    @Timeout(30)
    void delegatedStopCallThrowsError() throws Exception {
        RunState rs = new RunState("r");
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger n = new AtomicInteger();
        AtomicInteger after = new AtomicInteger();
        AssertionError boom = new AssertionError("boom");
        rs.onStop(x -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                inFirst.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            } else if (k == 2) {
                throw boom;
            }
        });
        rs.onStop(x -> after.incrementAndGet());
        TestThreads.Call t1 = TestThreads.startCall(() -> {
            rs.start();
            rs.stop();
            return null;
        });
        await(inFirst);
        rs.start();
        Throwable mainGot = null;
        try {
            rs.stop();
        } catch (Throwable t) {
            mainGot = t;
        }
        release.countDown();
        Throwable t1Got = t1.join();
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)), "join hung after Error");
        assertEquals(2, n.get());
        assertEquals(2, after.get(), "listener after the Error thrower");
        // the Error of a call left to T1 throws on T1, not main
        assertNull(mainGot, "main's stop threw " + mainGot);
        assertSame(boom, t1Got, "T1 did not get the delegated call's Error: " + t1Got);
        assertEquals(RunState.State.STOPPED, rs.state());
        rs.start();
        rs.stop();
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        assertEquals(3, n.get());
    }

    @Test
    @Timeout(120)
    void manyCyclesTwoThreadsSlowListener() throws Exception {
        RunState rs = new RunState("r");
        AtomicInteger stopCalls = new AtomicInteger();
        AtomicInteger starts = new AtomicInteger();
        AtomicBoolean inListener = new AtomicBoolean();
        Queue<String> problems = new ConcurrentLinkedQueue<>();
        rs.onStop(x -> {
            if (!inListener.compareAndSet(false, true)) {
                problems.add("stop listener calls overlapped");
            }
            for (int i = 0; i < 200; i++) {
                Thread.yield();
            }
            stopCalls.incrementAndGet();
            inListener.set(false);
        });
        CyclicBarrier bar = new CyclicBarrier(3);
        List<TestThreads.Call> calls = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            calls.add(TestThreads.startCall(() -> {
                bar.await();
                for (int i = 0; i < 3000; i++) {
                    try {
                        rs.start();
                    } catch (IllegalStateException e) {
                        continue;
                    }
                    int k = starts.incrementAndGet();
                    rs.stop();
                    if (!rs.join(Duration.ofSeconds(TestThreads.WAIT_S))) {
                        problems.add("join hung after run " + k);
                        return null;
                    }
                    int seen = stopCalls.get();
                    if (seen < k) {
                        problems.add("join returned early: run " + k + " but " + seen
                                + " stop calls");
                    }
                }
                return null;
            }));
        }
        for (TestThreads.Call c : calls) {
            assertNull(c.join());
        }
        assertTrue(rs.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        assertEquals(starts.get(), stopCalls.get());
        List<String> p = new ArrayList<>(problems);
        assertEquals(List.of(), p.subList(0, Math.min(5, p.size())), "count " + p.size());
    }

    @Test
    @Timeout(30)
    void refreshOpenerFailureKeepsCurrent() throws Exception {
        Fix f = new Fix();
        Lease<Val> a = f.acquire();
        f.hook = n -> {
            if (n == 2) {
                throw new IllegalArgumentException("no");
            }
            return null;
        };
        try {
            f.shared.refresh();
            fail("refresh did not throw");
        } catch (IllegalArgumentException expected) {
            // ok
        }
        Lease<Val> b = f.acquire();
        assertSame(a.get(), b.get(), "current value changed after failed refresh");
        assertEquals(2, f.shared.openCount());
        f.release(b);
        f.release(a);
        f.assertAllDone();
        // failing refresh while the only lease closes on another thread meanwhile
        Lease<Val> c = f.acquire();
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        int failAt = f.opens.get() + 1;
        f.hook = n -> {
            if (n == failAt) {
                inOpener.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                throw new IllegalArgumentException("late no");
            }
            return null;
        };
        TestThreads.Call r = TestThreads.startCall(() -> {
            f.shared.refresh();
            return null;
        });
        await(inOpener);
        f.release(c);
        release.countDown();
        assertTrue(r.join() instanceof IllegalArgumentException);
        f.assertAllDone();
        Lease<Val> d = f.acquire();
        assertTrue(d.get().open());
        f.release(d);
        f.assertAllDone();
    }

    @Test
    @Timeout(30)
    void refreshFromInsideHooks() throws Exception {
        AtomicReference<Shared<int[]>> ref = new AtomicReference<>();
        AtomicReference<Throwable> inOpener = new AtomicReference<>();
        AtomicReference<Throwable> inCloser = new AtomicReference<>();
        AtomicReference<Throwable> joinInReplacedCloser = new AtomicReference<>();
        AtomicInteger opens = new AtomicInteger();
        AtomicInteger closes = new AtomicInteger();
        Shared<int[]> s = Shared.of("h", () -> {
            int n = opens.incrementAndGet();
            if (n == 2) { // the opener a refresh runs
                try {
                    ref.get().refresh();
                } catch (Throwable t) {
                    inOpener.set(t);
                }
            }
            return new int[] {n};
        }, v -> {
            closes.incrementAndGet();
            if (v[0] == 1) { // replaced value
                try {
                    ref.get().join();
                } catch (Throwable t) {
                    joinInReplacedCloser.set(t);
                }
            }
            if (v[0] == 2) { // current value's closer
                try {
                    ref.get().refresh();
                } catch (Throwable t) {
                    inCloser.set(t);
                }
            }
        });
        ref.set(s);
        Lease<int[]> a = s.acquire();
        s.refresh();
        assertTrue(inOpener.get() instanceof IllegalStateException,
                "refresh inside refresh's opener: " + inOpener.get());
        a.close();
        assertTrue(joinInReplacedCloser.get() instanceof IllegalStateException,
                "join inside a replaced value's closer: " + joinInReplacedCloser.get());
        assertTrue(inCloser.get() instanceof IllegalStateException,
                "refresh inside the current value's closer: " + inCloser.get());
        assertTrue(s.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        assertEquals(opens.get(), closes.get());
    }

    @Test
    @Timeout(90)
    void cyclingStressWithFailingOpener() throws Exception {
        Fix f = new Fix();
        f.hook = n -> {
            if (n % 7 == 0) {
                throw new IllegalStateException("opener fails " + n);
            }
            return null;
        };
        AtomicBoolean stop = new AtomicBoolean();
        CyclicBarrier bar = new CyclicBarrier(4);
        List<TestThreads.Call> calls = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int tt = t;
            calls.add(TestThreads.startCall(() -> {
                bar.await();
                for (int i = 0; i < 20000; i++) {
                    Lease<Val> l;
                    try {
                        l = f.acquire();
                    } catch (IllegalStateException e) {
                        if (!e.getMessage().startsWith("opener fails")) {
                            throw e;
                        }
                        continue;
                    }
                    if (!l.get().open()) {
                        f.problems.add("leased value closed");
                    }
                    try {
                        if (tt == 0 && (i & 3) == 0) {
                            f.invalidate(l);
                        } else {
                            f.release(l);
                        }
                    } catch (IllegalStateException e) {
                        if (!e.getMessage().startsWith("opener fails")) {
                            throw e;
                        }
                    }
                }
                return null;
            }));
        }
        calls.add(TestThreads.startCall(() -> {
            bar.await();
            while (!stop.get()) {
                try {
                    f.shared.refresh();
                } catch (IllegalStateException e) {
                    if (!e.getMessage().startsWith("opener fails")) {
                        throw e;
                    }
                }
            }
            return null;
        }));
        for (int i = 0; i < 3; i++) {
            assertNull(calls.get(i).join());
        }
        stop.set(true);
        assertNull(calls.get(3).join());
        f.assertAllDone();
        assertTrue(f.shared.isClosed() || f.shared.state() == MultiOpen.State.NEW,
                "state " + f.shared.state());
    }
}
