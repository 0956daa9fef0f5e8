package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.MultiOpen.State;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile tests of issue 9's changes to {@link Shared} (refresh, invalidate, join, the
 * vocabulary), {@link Lease}, {@link Handle} and {@link MultiOpen} (join, name, state,
 * toString, messages, cycles), written against the public Javadoc and docs/multiopen.md.
 * Every wait is a latch, a barrier or a bounded timed join; nothing sleeps.
 *
 * <p>Regression tests for the refresh bugs they found: a deep chain of replaced values
 * ({@code refresh_manyTimesUnderOneLease_...}: StackOverflowError and leaked values),
 * replaced unleased values staying open, join inside the opener of a refresh or the closer
 * of an old value, {@code openCount()} counting refresh's own hold, a failed refresh dropping
 * a live lease's traced site, the refresh-in-hook messages, and refresh/invalidate making a
 * value when no lease is out.
 */
@SuppressWarnings("try")
final class Attack9SharedTest {

    // ------------------------------------------------------------------ fixtures

    /** What a hook of a test runs: may throw anything. */
    interface Step {
        void run(int id) throws Exception;
    }

    /** A value that records its closes and its holders. */
    static final class Val {
        final int id;
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger held = new AtomicInteger();
        volatile boolean closed;

        Val(int id) {
            this.id = id;
        }

        @Override
        public String toString() {
            return "Val" + id;
        }
    }

    /** A Shared of Vals numbered by opener call, with hooks for the opener and the closer. */
    static final class Vals {
        final List<Val> made = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger openerCalls = new AtomicInteger();
        final AtomicInteger closedWhileHeld = new AtomicInteger();
        final AtomicInteger closedTwice = new AtomicInteger();
        volatile Step onOpen = id -> { };
        volatile Consumer<Val> onClose = v -> { };
        final Shared<Val> shared;

        Vals(String name) {
            shared = Shared.of(name, this::make, this::close);
        }

        private Val make() throws Exception {
            int id = openerCalls.incrementAndGet();
            onOpen.run(id);
            Val v = new Val(id);
            made.add(v);
            return v;
        }

        private void close(Val v) {
            if (v.held.get() != 0) {
                closedWhileHeld.incrementAndGet();
            }
            if (v.closes.incrementAndGet() != 1) {
                closedTwice.incrementAndGet();
            }
            v.closed = true;
            onClose.accept(v);
        }

        void assertEachClosedOnce() {
            synchronized (made) {
                for (Val v : made) {
                    assertEquals(1, v.closes.get(), v + " closes");
                }
            }
            assertEquals(0, closedWhileHeld.get(), "closed while held");
            assertEquals(0, closedTwice.get(), "closed twice");
        }
    }

    /** A MultiOpen counting its hooks, with a blocking startup on demand. */
    static final class Res extends MultiOpen {
        final AtomicInteger startups = new AtomicInteger();
        final AtomicInteger shutdowns = new AtomicInteger();
        /** 0 closed, 1 open: each hook checks it is the other's turn. */
        final AtomicInteger phase = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();
        volatile Step onStartup = n -> { };
        volatile boolean later;

        Res(String name) {
            super(name);
        }

        @Override
        protected void startup() throws Exception {
            int n = startups.incrementAndGet();
            onStartup.run(n);
            if (!phase.compareAndSet(0, 1)) {
                errors.incrementAndGet();
            }
        }

        volatile RuntimeException shutdownFails;

        @Override
        protected void shutdown() {
            shutdowns.incrementAndGet();
            if (!phase.compareAndSet(1, 0)) {
                errors.incrementAndGet();
            }
            RuntimeException e = shutdownFails;
            if (e != null) {
                throw e;
            }
        }

        @Override
        protected boolean finalizeLater() {
            return later;
        }

        void use() {
            ensureOpen();
        }

        void finish() {
            finalizeNow();
        }
    }

    private static void await(CountDownLatch l) {
        try {
            assertTrue(l.await(TestThreads.WAIT_S, TimeUnit.SECONDS), "timed out");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static void spinUntil(java.util.function.BooleanSupplier c) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(TestThreads.WAIT_S);
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "condition never held");
            Thread.onSpinWait();
        }
    }

    // ------------------------------------------------------------------ refresh: values

    @Test
    @Timeout(30)
    void refresh_threeGenerations_eachOldValueClosedOnceWhenItsLastLeaseCloses() throws Exception {
        Vals f = new Vals("gen");
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh();
        Lease<Val> b = f.shared.acquire();
        f.shared.refresh();
        Lease<Val> c = f.shared.acquire();
        assertEquals(List.of(1, 2, 3), List.of(a.get().id, b.get().id, c.get().id));
        assertEquals(3, f.shared.openCount());
        assertFalse(f.shared.join(Duration.ZERO));
        // Shared: "each value is closed by the closer exactly once, when its last lease is
        // closed"; v2 is replaced, so no hold keeps it open once b is closed
        b.close();
        assertTrue(f.made.get(1).closed, "v2 stays open after its last lease closed");
        assertFalse(f.made.get(0).closed);
        assertEquals(2, f.shared.openCount());
        a.close(); // v1 closes; v3 has c
        assertTrue(f.made.get(0).closed);
        assertFalse(f.made.get(2).closed, "v3 closed while c holds it");
        assertEquals(1, f.shared.openCount());
        assertEquals(State.OPEN, f.shared.state());
        assertFalse(f.shared.join(Duration.ZERO));
        c.close();
        assertTrue(f.shared.join(Duration.ZERO));
        assertEquals(State.CLOSED, f.shared.state());
        assertTrue(f.shared.isClosed());
        assertEquals(3, f.made.size());
        f.assertEachClosedOnce();
        try (Lease<Val> d = f.shared.acquire()) {
            assertEquals(4, d.get().id, "the next acquire makes a fresh value");
        }
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void refresh_openerThrowsUnchecked_sameExceptionAndCurrentValueStays() {
        Vals f = new Vals("s");
        Lease<Val> a = f.shared.acquire();
        IllegalStateException boom = new IllegalStateException("boom");
        f.onOpen = id -> {
            throw boom;
        };
        assertSame(boom, assertThrows(IllegalStateException.class, f.shared::refresh));
        assertEquals(1, f.shared.openCount());
        assertEquals(State.OPEN, f.shared.state());
        assertFalse(a.get().closed);
        f.onOpen = id -> { };
        try (Lease<Val> b = f.shared.acquire()) {
            assertSame(a.get(), b.get(), "the current value stays");
        }
        a.close();
        assertEquals(1, f.made.size());
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void refresh_openerThrowsCheckedOrNullOrError_documentedExceptionsCurrentStays() {
        Vals f = new Vals("s");
        Lease<Val> a = f.shared.acquire();
        IOException io = new IOException("io");
        f.onOpen = id -> {
            throw io;
        };
        LifecycleException le = assertThrows(LifecycleException.class, f.shared::refresh);
        assertEquals("s: the opener failed", le.getMessage());
        assertSame(io, le.getCause());
        StackOverflowError err = new StackOverflowError("err");
        f.onOpen = id -> {
            throw err;
        };
        assertSame(err, assertThrows(StackOverflowError.class, f.shared::refresh));
        AtomicBoolean giveNull = new AtomicBoolean();
        Shared<String> ns = Shared.of("ns", () -> giveNull.get() ? null : "v", v -> { });
        Lease<String> l = ns.acquire();
        giveNull.set(true);
        NullPointerException npe = assertThrows(NullPointerException.class, ns::refresh);
        assertEquals("ns: the opener returned null", npe.getMessage());
        assertEquals(1, ns.openCount());
        giveNull.set(false);
        try (Lease<String> l2 = ns.acquire()) {
            assertSame(l.get(), l2.get());
        }
        l.close();
        assertEquals(1, f.shared.openCount());
        assertEquals(State.OPEN, f.shared.state());
        f.onOpen = id -> { };
        try (Lease<Val> b = f.shared.acquire()) {
            assertSame(a.get(), b.get(), "the current value stays");
        }
        a.close();
        assertEquals(1, f.made.size());
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void refresh_neverAcquiredOrAllClosed_doesNothing() throws Exception {
        Vals f = new Vals("s");
        f.shared.refresh();
        assertEquals(0, f.openerCalls.get());
        assertEquals(State.NEW, f.shared.state());
        assertFalse(f.shared.isClosed());
        assertTrue(f.shared.join(Duration.ZERO));
        f.shared.acquire().close();
        f.shared.refresh();
        f.shared.refresh();
        assertEquals(1, f.openerCalls.get());
        assertEquals(State.CLOSED, f.shared.state());
        assertEquals("Shared[s]{CLOSED, count=0}", f.shared.toString());
        f.shared.join();
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void refresh_interruptFlagSet_refreshesAndKeepsFlag() {
        Vals f = new Vals("s");
        Lease<Val> a = f.shared.acquire();
        Thread.currentThread().interrupt();
        try {
            f.shared.refresh();
            assertTrue(Thread.currentThread().isInterrupted(), "refresh() cleared the flag");
        } finally {
            Thread.interrupted();
        }
        assertEquals(2, f.made.size());
        a.close();
        f.assertEachClosedOnce();
    }

    // ------------------------------------------------------------------ refresh in hooks

    @Test
    @Timeout(30)
    void refresh_insideOpenerOfFirstAcquire_throwsDocumentedMessage() {
        Vals f = new Vals("s");
        AtomicReference<Throwable> got = new AtomicReference<>();
        f.onOpen = id -> {
            try {
                f.shared.refresh();
            } catch (Throwable t) {
                got.set(t);
            }
        };
        f.shared.acquire().close();
        assertInstanceOf(IllegalStateException.class, got.get());
        // Shared.refresh(): @throws IllegalStateException
        // "NAME: refresh() called from inside the opener" (or the closer)
        assertEquals("s: refresh() called from inside the opener", got.get().getMessage());
    }

    @Test
    @Timeout(30)
    void refresh_insideCloserOfCurrentValue_throwsDocumentedMessage() {
        Vals f = new Vals("s");
        AtomicReference<Throwable> got = new AtomicReference<>();
        f.onClose = v -> {
            try {
                f.shared.refresh();
            } catch (Throwable t) {
                got.set(t);
            }
        };
        f.shared.acquire().close();
        assertInstanceOf(IllegalStateException.class, got.get());
        assertEquals("s: refresh() called from inside the closer", got.get().getMessage());
        assertEquals(1, f.openerCalls.get());
    }

    @Test
    @Timeout(30)
    void refresh_insideCloserOfOldValueWithNoLeaseOut_makesNoValue() {
        Vals f = new Vals("s");
        AtomicReference<Throwable> got = new AtomicReference<>();
        f.onClose = v -> {
            if (v.id == 1) {
                try {
                    f.shared.refresh(); // no lease is out at all now
                } catch (Throwable t) {
                    got.set(t);
                }
            }
        };
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh(); // v2, nobody leases it
        a.close(); // v1's last lease: its closer refreshes with no lease out
        assertNull(got.get());
        assertEquals(2, f.openerCalls.get(),
                "refresh() with no lease out made a value that was closed at once");
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void invalidate_onlyLeaseOut_makesNoValueThatNobodyHolds() {
        Vals f = new Vals("s");
        Lease<Val> a = f.shared.acquire();
        a.invalidate();
        assertTrue(a.isClosed());
        assertEquals(State.CLOSED, f.shared.state());
        assertEquals(1, f.openerCalls.get(),
                "invalidating the only lease ran the opener for a value nobody holds");
        f.assertEachClosedOnce();
    }

    // ------------------------------------------------------------------ join in hooks

    @Test
    @Timeout(30)
    void join_insideOpenerOfRefresh_throwsInsteadOfDeadlock() {
        Vals f = new Vals("s");
        AtomicReference<Object> got = new AtomicReference<>();
        f.onOpen = id -> {
            if (id == 2) {
                try {
                    got.set(f.shared.join(Duration.ofSeconds(2)));
                } catch (Throwable t) {
                    got.set(t);
                }
            }
        };
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh();
        a.close();
        // Shared.join(Duration): @throws IllegalStateException if called from inside the
        // opener or the closer (join() would wait for itself forever here)
        assertInstanceOf(IllegalStateException.class, got.get(), String.valueOf(got.get()));
    }

    @Test
    @Timeout(30)
    void join_insideCloserOfOldValue_throwsInsteadOfDeadlock() {
        Vals f = new Vals("s");
        AtomicReference<Object> got = new AtomicReference<>();
        f.onClose = v -> {
            if (v.id == 1) {
                try {
                    got.set(f.shared.join(Duration.ofSeconds(2)));
                } catch (Throwable t) {
                    got.set(t);
                }
            }
        };
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh();
        a.close();
        assertInstanceOf(IllegalStateException.class, got.get(), String.valueOf(got.get()));
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void join_insideOpenerOrCloserOfCurrentValue_throws() {
        Vals f = new Vals("s");
        AtomicReference<Throwable> inOpener = new AtomicReference<>();
        AtomicReference<Throwable> inCloser = new AtomicReference<>();
        f.onOpen = id -> {
            try {
                f.shared.join();
            } catch (Throwable t) {
                inOpener.set(t);
            }
        };
        f.onClose = v -> {
            try {
                f.shared.join();
            } catch (Throwable t) {
                inCloser.set(t);
            }
        };
        f.shared.acquire().close();
        assertInstanceOf(IllegalStateException.class, inOpener.get());
        assertInstanceOf(IllegalStateException.class, inCloser.get());
        assertTrue(inOpener.get().getMessage().startsWith("s: join()"), inOpener.get().getMessage());
    }

    // ------------------------------------------------------------------ counts and tracing

    @Test
    @Timeout(30)
    void openCountAndToString_whileRefreshRuns_countOnlyLeases() throws Exception {
        Vals f = new Vals("s");
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        f.onOpen = id -> {
            if (id == 2) {
                inOpener.countDown();
                await(release);
            }
        };
        Lease<Val> a = f.shared.acquire();
        CompletableFuture<Object> r = TestThreads.fork(() -> {
            f.shared.refresh();
            return null;
        });
        await(inOpener);
        int during = f.shared.openCount();
        String text = f.shared.toString();
        State state = f.shared.state();
        release.countDown();
        r.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        int after = f.shared.openCount();
        a.close();
        // openCount(): "the number of leases not yet closed, on the current value and on
        // older ones" -- one lease is out, before, during and after the refresh
        assertAll(
                () -> assertEquals(1, during, "openCount() during refresh()"),
                () -> assertEquals("Shared[s]{OPEN, count=1}", text),
                () -> assertEquals(State.OPEN, state),
                () -> assertEquals(1, after, "openCount() after refresh()"));
    }

    @Test
    @Timeout(30)
    void acquireAndLeaseClose_whileRefreshOpenerBlocks_neitherWaitsAndGetOldValue()
            throws Exception {
        Vals f = new Vals("s");
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        f.onOpen = id -> {
            if (id == 2) {
                inOpener.countDown();
                await(release);
            }
        };
        Lease<Val> a = f.shared.acquire();
        Lease<Val> b = f.shared.acquire();
        CompletableFuture<Object> r = TestThreads.fork(() -> {
            f.shared.refresh();
            return null;
        });
        await(inOpener);
        CompletableFuture<Integer> other = TestThreads.fork(() -> {
            b.close();
            try (Lease<Val> l = f.shared.acquire()) {
                return l.get().id;
            }
        });
        // "acquires and lease closes never wait for a refresh"
        assertEquals(1, other.get(TestThreads.WAIT_S, TimeUnit.SECONDS));
        release.countDown();
        r.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        try (Lease<Val> l = f.shared.acquire()) {
            assertEquals(2, l.get().id);
        }
        a.close();
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void openCount_whileInvalidateRefreshes_doesNotCountTheInvalidatedLease() throws Exception {
        Vals f = new Vals("s");
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        f.onOpen = id -> {
            if (id == 2) {
                inOpener.countDown();
                await(release);
            }
        };
        Lease<Val> keep = f.shared.acquire();
        Lease<Val> bad = f.shared.acquire();
        CompletableFuture<Object> r = TestThreads.fork(() -> {
            bad.invalidate();
            return null;
        });
        await(inOpener);
        boolean badClosed = bad.isClosed();
        int during = f.shared.openCount();
        release.countDown();
        r.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        keep.close();
        assertTrue(badClosed, "isClosed() is true once invalidate() has been called");
        assertEquals(1, during, "openCount() counted an invalidated (closed) lease");
    }

    private static Lease<Val> acquireAtMarker(Shared<Val> s) {
        return s.acquire();
    }

    @Test
    @Timeout(30)
    void tracing_refreshOpenerFails_toStringStillListsTheLiveLease() {
        Vals f;
        System.setProperty(CallSites.PROPERTY, "true");
        try {
            f = new Vals("traced");
        } finally {
            System.clearProperty(CallSites.PROPERTY);
        }
        Lease<Val> a = acquireAtMarker(f.shared);
        String before = f.shared.toString();
        assertTrue(before.contains("acquireAtMarker"), before);
        f.onOpen = id -> {
            throw new IllegalStateException("no");
        };
        assertThrows(IllegalStateException.class, f.shared::refresh);
        String after = f.shared.toString();
        a.close();
        // Shared: "each lease records where it was acquired and toString() lists the live ones"
        assertTrue(after.contains("acquireAtMarker"), "the live lease's site was lost: " + after);
    }

    @Test
    @Timeout(30)
    void tracing_refreshSucceeds_toStringListsExactlyTheLiveLeases() {
        Vals f;
        System.setProperty(CallSites.PROPERTY, "true");
        try {
            f = new Vals("traced");
        } finally {
            System.clearProperty(CallSites.PROPERTY);
        }
        Lease<Val> a = acquireAtMarker(f.shared);
        f.shared.refresh();
        String after = f.shared.toString();
        a.close();
        assertTrue(after.contains("acquireAtMarker"), after);
    }

    // ------------------------------------------------------------------ races

    @Test
    @Timeout(120)
    void refreshRacesAcquireCloseInvalidate_valuesNeverClosedWhileHeldEachClosedOnce()
            throws Exception {
        for (int round = 0; round < 40; round++) {
            Vals f = new Vals("race");
            int workers = 3;
            int iters = 1500;
            CyclicBarrier start = new CyclicBarrier(workers + 1);
            AtomicInteger sawClosed = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int me = w;
                threads.add(TestThreads.start(() -> {
                    try {
                        start.await();
                        for (int k = 0; k < iters; k++) {
                            Lease<Val> l = f.shared.acquire();
                            Val v = l.get();
                            v.held.incrementAndGet();
                            if (v.closed) {
                                sawClosed.incrementAndGet();
                            }
                            Thread.yield();
                            if (v.closed) {
                                sawClosed.incrementAndGet();
                            }
                            v.held.decrementAndGet();
                            if ((k + me) % 7 == 0) {
                                l.invalidate();
                            } else {
                                l.close();
                            }
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }));
            }
            threads.add(TestThreads.start(() -> {
                try {
                    start.await();
                    for (int k = 0; k < iters / 4; k++) {
                        f.shared.refresh();
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
            TestThreads.joinAll(threads);
            assertNull(failure.get(), String.valueOf(failure.get()));
            assertTrue(f.shared.join(Duration.ofSeconds(TestThreads.WAIT_S)));
            assertEquals(0, sawClosed.get(), "a lease saw its value closed");
            assertEquals(0, f.shared.openCount());
            assertEquals(State.CLOSED, f.shared.state());
            assertEquals(f.openerCalls.get(), f.made.size());
            f.assertEachClosedOnce();
        }
    }

    @Test
    @Timeout(60)
    void refreshFromSeveralThreads_leaseHeld_exactlyOneValuePerRefresh() throws Exception {
        Vals f = new Vals("many");
        Lease<Val> keep = f.shared.acquire();
        int threads = 3;
        int each = 40; // a deep chain is its own test: refresh_manyTimesUnderOneLease_...
        CyclicBarrier start = new CyclicBarrier(threads);
        List<CompletableFuture<Object>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            fs.add(TestThreads.fork(() -> {
                start.await();
                for (int k = 0; k < each; k++) {
                    f.shared.refresh();
                }
                return null;
            }));
        }
        for (CompletableFuture<Object> x : fs) {
            x.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        }
        assertEquals(1 + threads * each, f.made.size());
        assertEquals(1, f.shared.openCount());
        try (Lease<Val> l = f.shared.acquire()) {
            assertEquals(f.made.size(), l.get().id, "acquire gets the newest value");
        }
        keep.close();
        assertTrue(f.shared.join(Duration.ZERO));
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(60)
    void refresh_manyTimesUnderOneLease_lastCloseClosesEveryValueWithoutStackOverflow() {
        Vals f = new Vals("deep");
        Lease<Val> keep = f.shared.acquire();
        int refreshes = 3000; // e.g. a config reload every 10 s under one 8-hour lease
        for (int i = 0; i < refreshes; i++) {
            f.shared.refresh();
        }
        assertEquals(1 + refreshes, f.made.size());
        Throwable thrown = null;
        try {
            keep.close();
        } catch (Throwable t) {
            thrown = t;
        }
        long unclosed;
        synchronized (f.made) {
            unclosed = f.made.stream().filter(v -> !v.closed).count();
        }
        String after = f.shared.toString();
        // Lease.close(): throws only what the lender's close action threw; here none threw
        Throwable t = thrown;
        assertAll(
                () -> assertNull(t, "closing the one lease threw " + t),
                () -> assertEquals(0, unclosed, "values never closed (leaked)"),
                () -> assertEquals("Shared[deep]{CLOSED, count=0}", after));
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void refresh_twiceWithOneOldLeaseOut_unleasedMiddleValueClosedAtOnce() {
        Vals f = new Vals("mid");
        Lease<Val> keep = f.shared.acquire(); // v1, held for a long time
        f.shared.refresh(); // v2: current, held on v1's behalf
        f.shared.refresh(); // v3: current; v2 is neither current nor leased
        Val v2 = f.made.get(1);
        boolean closedAtOnce = v2.closed;
        int count = f.shared.openCount();
        keep.close();
        f.assertEachClosedOnce();
        assertEquals(1, count);
        // refresh(): "Leases already out keep the value they hold; that value is closed by
        // the closer when its last lease is closed"; only "the current value counts as held
        // while older values still have leases". v2 had no lease and is no longer current.
        assertTrue(closedAtOnce, "v2, never leased and replaced, stays open until v1's last"
                + " lease closes: every refresh under one long lease leaks a live value");
    }

    @Test
    @Timeout(60)
    void invalidate_sixLeasesAtOnce_oneFreshValue() throws Exception {
        for (int round = 0; round < 50; round++) {
            Vals f = new Vals("inv");
            Lease<Val> keep = f.shared.acquire();
            int n = 6;
            List<Lease<Val>> ls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ls.add(f.shared.acquire());
            }
            CyclicBarrier go = new CyclicBarrier(n);
            List<CompletableFuture<Object>> fs = new ArrayList<>();
            for (Lease<Val> l : ls) {
                fs.add(TestThreads.fork(() -> {
                    go.await();
                    l.invalidate();
                    return null;
                }));
            }
            for (CompletableFuture<Object> x : fs) {
                x.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
            }
            assertEquals(2, f.made.size(), "several leases invalidated at once make one value");
            assertEquals(1, f.shared.openCount());
            assertFalse(keep.get().closed);
            keep.close();
            f.assertEachClosedOnce();
        }
    }

    @Test
    @Timeout(60)
    void leaseClose_eightThreadsAtOnce_givesBackExactlyOnce() throws Exception {
        for (int round = 0; round < 50; round++) {
            Vals f = new Vals("close8");
            Lease<Val> keep = f.shared.acquire();
            Lease<Val> l = f.shared.acquire();
            closeFromEight(l::close);
            assertTrue(l.isClosed());
            assertEquals(1, f.shared.openCount(), "count went down by exactly one");
            Lease<Val> last = keep;
            closeFromEight(last::close);
            assertEquals(0, f.shared.openCount());
            assertEquals(State.CLOSED, f.shared.state());
            f.assertEachClosedOnce();
        }
    }

    @Test
    @Timeout(60)
    void leaseInvalidateAndCloseRaceOnOneLease_givesBackOnce() throws Exception {
        for (int round = 0; round < 100; round++) {
            Vals f = new Vals("ic");
            Lease<Val> keep = f.shared.acquire();
            Lease<Val> l = f.shared.acquire();
            CyclicBarrier go = new CyclicBarrier(2);
            CompletableFuture<Object> other = TestThreads.fork(() -> {
                go.await();
                l.close();
                return null;
            });
            go.await();
            l.invalidate();
            other.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
            assertEquals(1, f.shared.openCount());
            assertTrue(f.made.size() <= 2);
            assertFalse(keep.get().closed);
            keep.close();
            f.assertEachClosedOnce();
        }
    }

    /** Runs {@code close} from eight threads released by one barrier; rethrows a failure. */
    private static void closeFromEight(Runnable close) throws Exception {
        CyclicBarrier go = new CyclicBarrier(8);
        List<CompletableFuture<Object>> fs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            fs.add(TestThreads.fork(() -> {
                go.await();
                close.run();
                return null;
            }));
        }
        for (CompletableFuture<Object> x : fs) {
            x.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        }
    }

    // ------------------------------------------------------------------ Shared join

    @Test
    @Timeout(30)
    void join_severalGenerations_returnsOnlyAfterLastLeaseOfAll() throws Exception {
        Vals f = new Vals("j");
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh();
        Lease<Val> b = f.shared.acquire();
        f.shared.refresh();
        CountDownLatch timedDone = new CountDownLatch(1);
        AtomicReference<Object> timed = new AtomicReference<>();
        Thread tj = TestThreads.start(() -> {
            try {
                timed.set(f.shared.join(Duration.ofSeconds(TestThreads.WAIT_S)));
            } catch (Throwable t) {
                timed.set(t);
            }
            timedDone.countDown();
        });
        CountDownLatch untimedDone = new CountDownLatch(1);
        Thread uj = TestThreads.start(() -> {
            try {
                f.shared.join();
            } catch (Throwable t) {
                timed.set(t);
            }
            untimedDone.countDown();
        });
        TestThreads.awaitParked(tj);
        TestThreads.awaitParked(uj);
        a.close();
        TestThreads.awaitParked(tj);
        TestThreads.awaitParked(uj);
        assertEquals(1, timedDone.getCount(), "join(Duration) returned while b is out");
        assertEquals(1, untimedDone.getCount(), "join() returned while b is out");
        assertTrue(f.made.get(0).closed);
        b.close();
        await(timedDone);
        await(untimedDone);
        assertEquals(Boolean.TRUE, timed.get());
        assertEquals(State.CLOSED, f.shared.state());
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void join_neverEndsTheValue_timedOutJoinLeavesLeaseUsable() throws Exception {
        Vals f = new Vals("j");
        Lease<Val> a = f.shared.acquire();
        assertFalse(f.shared.join(Duration.ofMillis(20)));
        assertEquals(State.OPEN, f.shared.state());
        assertFalse(a.get().closed);
        a.close();
        assertTrue(f.shared.join(Duration.ofMillis(20)));
        assertThrows(IllegalArgumentException.class, () -> f.shared.join(Duration.ofNanos(-1)));
        assertThrows(NullPointerException.class, () -> f.shared.join(null));
        assertTrue(f.shared.join(Duration.ofSeconds(Long.MAX_VALUE)));
    }

    // ------------------------------------------------------------------ Shared interrupts

    @Test
    @Timeout(30)
    void joinDuration_interruptedOnEntryNothingLive_throwsFlagCleared() {
        Vals f = new Vals("j");
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                () -> f.shared.join(Duration.ZERO));
        assertEquals("j: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
    }

    @Test
    @Timeout(30)
    void join_interruptedWhileWaiting_throwsFlagClearedLeaseUntouched() throws Exception {
        Vals f = new Vals("j");
        Lease<Val> a = f.shared.acquire();
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return f.shared.join(Duration.ofSeconds(TestThreads.WAIT_S));
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("j: interrupted in join()", e.getMessage());
        assertFalse(flagAfter.get(), "flag cleared");
        assertEquals(1, f.shared.openCount());
        assertEquals(State.OPEN, f.shared.state());
        assertFalse(a.get().closed);
        a.close();
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void acquireInterruptibly_interruptedOnEntryWhileOpen_throwsNotCountedFlagCleared() {
        Vals f = new Vals("s");
        Lease<Val> a = f.shared.acquire();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                f.shared::acquireInterruptibly);
        assertEquals("s: interrupted in acquireInterruptibly()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(1, f.shared.openCount());
        a.close();
    }

    @Test
    @Timeout(30)
    void acquireInterruptibly_interruptedWhileWaitingForOpener_throwsNotCounted()
            throws Exception {
        Vals f = new Vals("s");
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        f.onOpen = id -> {
            inOpener.countDown();
            await(release);
        };
        CompletableFuture<Lease<Val>> first = TestThreads.fork(f.shared::acquire);
        await(inOpener);
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return f.shared.acquireInterruptibly();
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("s: interrupted in acquireInterruptibly()", e.getMessage());
        assertFalse(flagAfter.get());
        release.countDown();
        Lease<Val> l = first.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        assertEquals(1, f.shared.openCount(), "the interrupted acquire is not counted");
        l.close();
        assertEquals(State.CLOSED, f.shared.state());
        f.assertEachClosedOnce();
    }

    @Test
    @Timeout(30)
    void acquire_interruptedWhileWaitingForOpener_returnsLeaseWithFlagSet() throws Exception {
        Vals f = new Vals("s");
        CountDownLatch inOpener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        f.onOpen = id -> {
            inOpener.countDown();
            await(release);
        };
        CompletableFuture<Lease<Val>> first = TestThreads.fork(f.shared::acquire);
        await(inOpener);
        AtomicBoolean flag = new AtomicBoolean();
        AtomicReference<Lease<Val>> got = new AtomicReference<>();
        TestThreads.Call c = TestThreads.startCall(() -> {
            got.set(f.shared.acquire());
            flag.set(Thread.currentThread().isInterrupted());
            return null;
        });
        TestThreads.awaitParked(c.thread);
        c.thread.interrupt();
        release.countDown();
        assertNull(c.join());
        assertTrue(flag.get(), "acquire() keeps the interrupt flag set");
        assertEquals(2, f.shared.openCount());
        assertSame(first.get().get(), got.get().get());
        got.get().close();
        first.get().close();
        assertEquals(1, f.made.size());
        f.assertEachClosedOnce();
    }

    // ------------------------------------------------------------------ Shared messages

    @Test
    @Timeout(30)
    void messages_sayAcquireCloseOpenerCloserAsWritten() {
        Vals f = new Vals("m");
        AtomicReference<Throwable> inOpener = new AtomicReference<>();
        AtomicReference<Throwable> inCloser = new AtomicReference<>();
        f.onOpen = id -> {
            try {
                f.shared.acquire();
            } catch (Throwable t) {
                inOpener.set(t);
            }
        };
        f.onClose = v -> {
            try {
                f.shared.acquire();
            } catch (Throwable t) {
                inCloser.set(t);
            }
        };
        Lease<Val> l = f.shared.acquire();
        l.close();
        assertEquals("m: acquire() called from inside the opener", inOpener.get().getMessage());
        assertEquals("m: acquire() called from inside the closer", inCloser.get().getMessage());
        assertEquals("m: lease already closed",
                assertThrows(IllegalStateException.class, l::get).getMessage());
        l.close();
        l.invalidate(); // no-ops
        assertEquals(1, f.made.size());
        IOException io = new IOException("x");
        Shared<Val> bad = Shared.of("bad", () -> new Val(1), v -> {
            throw new java.io.UncheckedIOException(io);
        });
        Lease<Val> b = bad.acquire();
        assertThrows(java.io.UncheckedIOException.class, b::close);
        assertTrue(b.isClosed());
        assertEquals(State.CLOSED, bad.state());
        Shared<AutoCloseable> checked = Shared.of("chk", () -> () -> {
            throw io;
        });
        Lease<AutoCloseable> c = checked.acquire();
        LifecycleException le = assertThrows(LifecycleException.class, c::close);
        assertEquals("chk: the closer failed", le.getMessage());
        assertSame(io, le.getCause());
        assertTrue(c.isClosed());
        assertEquals(State.CLOSED, checked.state());
    }

    @Test
    @Timeout(30)
    void invalidate_openerFails_throwsLeaseClosedAllTheSameCurrentStays() {
        Vals f = new Vals("s");
        Lease<Val> keep = f.shared.acquire();
        Lease<Val> bad = f.shared.acquire();
        IllegalStateException boom = new IllegalStateException("boom");
        f.onOpen = id -> {
            throw boom;
        };
        assertSame(boom, assertThrows(IllegalStateException.class, bad::invalidate));
        assertTrue(bad.isClosed());
        assertEquals(1, f.shared.openCount());
        f.onOpen = id -> { };
        try (Lease<Val> l = f.shared.acquire()) {
            assertSame(keep.get(), l.get());
        }
        keep.close();
        assertEquals(1, f.made.size());
        f.assertEachClosedOnce();
    }

    // ------------------------------------------------------------------ Handle

    @Test
    @Timeout(60)
    void handleClose_eightThreadsAtOnce_closesOneOpenExactlyOnce() throws Exception {
        for (int round = 0; round < 50; round++) {
            Res r = new Res("h8");
            Handle keep = r.open();
            Handle h = r.open();
            closeFromEight(h::close);
            assertTrue(h.isClosed());
            assertEquals(1, r.openCount());
            assertEquals(State.OPEN, r.state());
            closeFromEight(keep::close);
            assertEquals(0, r.openCount());
            assertEquals(1, r.startups.get());
            assertEquals(1, r.shutdowns.get());
            assertEquals(State.CLOSED, r.state());
        }
    }

    @Test
    @Timeout(30)
    void handleClosedAgainAfterCycle_doesNotCloseNewCyclesOpen() {
        Res r = new Res("cyc");
        Handle h1 = r.open();
        h1.close();
        Handle h2 = r.open();
        h1.close();
        assertEquals(1, r.openCount());
        assertEquals(State.OPEN, r.state());
        assertEquals(1, r.shutdowns.get());
        assertFalse(h2.isClosed());
        h2.close();
        assertEquals(2, r.shutdowns.get());
        assertEquals("Handle[cyc]{closed}", h2.toString());
    }

    @Test
    @Timeout(30)
    void handleClose_shutdownThrows_throwsOnceClosedAllTheSameSecondCloseNoOp() {
        Res r = new Res("sdf");
        IllegalStateException boom = new IllegalStateException("boom");
        r.shutdownFails = boom;
        Handle h = r.open();
        assertSame(boom, assertThrows(IllegalStateException.class, h::close));
        assertTrue(h.isClosed());
        assertEquals(State.CLOSED, r.state());
        h.close(); // later calls do nothing: no "close() without a matching open()"
        assertEquals(1, r.shutdowns.get());
        r.shutdownFails = null;
        try (Handle h2 = r.open()) {
            assertEquals(2, r.startups.get());
        }
    }

    @Test
    @Timeout(30)
    void handleIsClosed_closedInAnotherThread_visibleAfterHandOff() throws Exception {
        Res r = new Res("vis");
        Handle h = r.open();
        assertFalse(h.isClosed());
        CountDownLatch closed = new CountDownLatch(1);
        TestThreads.start(() -> {
            h.close();
            closed.countDown();
        });
        await(closed);
        assertTrue(h.isClosed());
        assertEquals(State.CLOSED, r.state());
        h.close();
        assertEquals(1, r.shutdowns.get());
    }

    // ------------------------------------------------------------------ MultiOpen

    @Test
    @Timeout(120)
    void multiOpen_eightThreadsManyCycles_oneStartupAndOneShutdownPerCycle() throws Exception {
        Res r = new Res("cycles");
        int threads = 8;
        int rounds = 300;
        CyclicBarrier barrier = new CyclicBarrier(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(TestThreads.start(() -> {
                try {
                    for (int k = 0; k < rounds; k++) {
                        barrier.await();
                        try (Handle h = r.open()) {
                            r.use();
                            if (r.phase.get() != 1) {
                                r.errors.incrementAndGet();
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    barrier.reset();
                }
            }));
        }
        TestThreads.joinAll(ts);
        assertNull(failure.get(), String.valueOf(failure.get()));
        assertEquals(0, r.errors.get(), "hooks overlapped or a holder saw it closed");
        assertEquals(r.startups.get(), r.shutdowns.get());
        assertTrue(r.startups.get() >= rounds, "a cycle cannot span two barrier rounds");
        assertEquals(State.CLOSED, r.state());
        assertEquals(0, r.openCount());
        assertTrue(r.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void multiOpen_startupThrowsError_sameErrorToEveryOpenerNothingCounted() throws Exception {
        Res r = new Res("err");
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        OutOfMemoryError oom = new OutOfMemoryError("fake");
        r.onStartup = n -> {
            if (n == 1) {
                inStartup.countDown();
                await(release);
                throw oom;
            }
        };
        TestThreads.Call starter = TestThreads.startCall(r::open);
        await(inStartup);
        TestThreads.Call m1 = TestThreads.startCall(r::open);
        TestThreads.Call m2 = TestThreads.startCall(r::openInterruptibly);
        spinUntil(() -> r.openCount() == 3);
        assertEquals("MultiOpen[err]{STARTING, count=3}", r.toString());
        CompletableFuture<Boolean> joiner = TestThreads.fork(
                () -> r.join(Duration.ofSeconds(TestThreads.WAIT_S)));
        release.countDown();
        assertSame(oom, starter.join());
        assertSame(oom, m1.join());
        assertSame(oom, m2.join());
        assertEquals(Boolean.TRUE, joiner.get(TestThreads.WAIT_S, TimeUnit.SECONDS));
        assertEquals(State.NEW, r.state());
        assertEquals(0, r.openCount());
        assertEquals(0, r.shutdowns.get());
        try (Handle h = r.open()) {
            assertEquals(State.OPEN, r.state());
            assertEquals(2, r.startups.get());
        }
        assertEquals(1, r.shutdowns.get());
    }

    @Test
    @Timeout(30)
    void multiOpen_startupThrowsChecked_eachOpenerOwnWrapperSameCause() throws Exception {
        Res r = new Res("chk");
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IOException io = new IOException("down");
        r.onStartup = n -> {
            inStartup.countDown();
            await(release);
            throw io;
        };
        TestThreads.Call starter = TestThreads.startCall(r::open);
        await(inStartup);
        TestThreads.Call m1 = TestThreads.startCall(r::open);
        spinUntil(() -> r.openCount() == 2);
        release.countDown();
        Throwable a = starter.join();
        Throwable b = m1.join();
        assertInstanceOf(LifecycleException.class, a);
        assertInstanceOf(LifecycleException.class, b);
        assertNotSame(a, b);
        assertEquals("chk: startup() failed", a.getMessage());
        assertEquals("chk: startup() failed", b.getMessage());
        assertSame(io, a.getCause());
        assertSame(io, b.getCause());
        assertEquals(State.NEW, r.state());
    }

    @Test
    @Timeout(30)
    void multiOpen_join_waitsForEndOfCycleNeverEndsIt() throws Exception {
        Res r = new Res("j");
        assertTrue(r.join(Duration.ZERO), "never opened: nothing pending");
        r.join();
        Handle h = r.open();
        assertFalse(r.join(Duration.ofMillis(20)));
        assertEquals(State.OPEN, r.state());
        assertEquals(1, r.openCount());
        CountDownLatch joined = new CountDownLatch(1);
        Thread j = TestThreads.start(() -> {
            try {
                r.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            joined.countDown();
        });
        TestThreads.awaitParked(j);
        assertEquals(State.OPEN, r.state());
        assertEquals(0, r.shutdowns.get());
        h.close();
        await(joined);
        assertEquals(1, r.shutdowns.get());
        assertEquals(State.CLOSED, r.state());
        assertTrue(r.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void multiOpen_joinTimed_earlyWakeupsNeitherShortenNorEndIt() throws Exception {
        Res r = new Res("fin");
        r.later = true;
        r.open().close();
        assertEquals(State.FINALIZING, r.state());
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Integer> churn = TestThreads.fork(() -> {
            int n = 0;
            while (!stop.get()) {
                r.open().close(); // each startup wakes the joiners; each close leaves FINALIZING
                n++;
            }
            return n;
        });
        long t0 = System.nanoTime();
        boolean got = r.join(Duration.ofMillis(300));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        stop.set(true);
        int cycles = churn.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        assertFalse(got, "join(Duration) ended though the cycle is still FINALIZING");
        assertTrue(tookMs >= 300, "join returned early: " + tookMs + " ms (" + cycles + " cycles)");
        assertEquals(State.FINALIZING, r.state());
        r.finish();
        assertTrue(r.join(Duration.ZERO));
        assertEquals(State.CLOSED, r.state());
    }

    @Test
    @Timeout(30)
    void multiOpen_messages_nameObjectAndWhatWasWrong() {
        Res r = new Res("db");
        assertEquals("db: close() before any open()",
                assertThrows(IllegalStateException.class, r::close).getMessage());
        assertEquals("db: closeFinal() before any open()",
                assertThrows(IllegalStateException.class, r::closeFinal).getMessage());
        assertFalse(r.closeIfOpen());
        assertEquals("db: not yet opened",
                assertThrows(ClosedException.class, r::use).getMessage());
        Handle a = r.open();
        r.open();
        r.open();
        assertEquals("db: closeFinal() but 2 opens remain",
                assertThrows(IllegalStateException.class, r::closeFinal).getMessage());
        assertEquals(2, r.openCount(), "the count still goes down");
        assertEquals("db: closeFinal() but 1 open remains",
                assertThrows(IllegalStateException.class, r::closeFinal).getMessage());
        a.close();
        assertEquals(State.CLOSED, r.state());
        assertEquals(1, r.shutdowns.get());
        assertEquals("db: close() without a matching open()",
                assertThrows(IllegalStateException.class, r::close).getMessage());
        assertEquals("db: already closed",
                assertThrows(ClosedException.class, r::use).getMessage());
        IllegalStateException fin = assertThrows(IllegalStateException.class, r::finish);
        assertTrue(fin.getMessage().startsWith("db: finalizeNow() but"), fin.getMessage());
        assertTrue(fin.getMessage().contains("CLOSED"), fin.getMessage());
    }

    @Test
    @Timeout(30)
    void multiOpen_hooksCallingBack_throwNamedMessages() {
        Res r = new Res("hk");
        AtomicReference<Throwable> open = new AtomicReference<>();
        AtomicReference<Throwable> join = new AtomicReference<>();
        r.onStartup = n -> {
            try {
                r.open();
            } catch (Throwable t) {
                open.set(t);
            }
            try {
                r.join(Duration.ofSeconds(1));
            } catch (Throwable t) {
                join.set(t);
            }
        };
        r.open().close();
        assertEquals("hk: open() called from inside startup()", open.get().getMessage());
        assertEquals("hk: join() called from inside startup()", join.get().getMessage());
        assertEquals(State.CLOSED, r.state());
    }

    @Test
    @Timeout(30)
    void multiOpen_nameStateToString_formatKindNameState() {
        Res r = new Res("fmt");
        assertEquals("fmt", r.name());
        assertEquals(State.NEW, r.state());
        assertEquals("MultiOpen[fmt]{NEW, count=0}", r.toString());
        Handle h = r.open();
        assertEquals("MultiOpen[fmt]{OPEN, count=1}", r.toString());
        assertEquals("Handle[fmt]{open}", h.toString());
        h.close();
        assertEquals("MultiOpen[fmt]{CLOSED, count=0}", r.toString());
        r.later = true;
        r.open().close();
        assertEquals("MultiOpen[fmt]{FINALIZING, count=0}", r.toString());
        r.finish();
        assertEquals("MultiOpen[fmt]{CLOSED, count=0}", r.toString());
    }

    @Test
    @Timeout(30)
    void multiOpen_toStringDuringShutdown_doesNotBlock() throws Exception {
        CountDownLatch inShutdown = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        MultiOpen m = new MultiOpen("sd") {
            @Override
            protected void shutdown() {
                inShutdown.countDown();
                await(release);
            }
        };
        Handle h = m.open();
        CompletableFuture<Object> closer = TestThreads.fork(() -> {
            h.close();
            return null;
        });
        await(inShutdown);
        assertEquals("MultiOpen[sd]{SHUTTING_DOWN, count=0}", m.toString());
        assertEquals(State.SHUTTING_DOWN, m.state());
        assertTrue(m.isClosed());
        assertFalse(m.join(Duration.ZERO));
        release.countDown();
        closer.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        assertTrue(m.join(Duration.ZERO));
        assertEquals(0, m.openCount());
    }

    // ------------------------------------------------------------------ MultiOpen interrupts

    @Test
    @Timeout(30)
    void multiOpen_openInterruptiblyInterruptedOnEntryWhileOpen_throwsNotCounted() {
        Res r = new Res("oi");
        Handle h = r.open();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, r::openInterruptibly);
        assertEquals("oi: interrupted in openInterruptibly()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(1, r.openCount());
        Thread.currentThread().interrupt();
        try {
            Handle h2 = r.open();
            assertTrue(Thread.currentThread().isInterrupted(), "open() keeps the flag");
            h2.close();
        } finally {
            Thread.interrupted();
        }
        h.close();
        assertEquals(State.CLOSED, r.state());
    }

    @Test
    @Timeout(30)
    void multiOpen_joinInterruptedOnEntryOrWhileWaiting_throwsFlagClearedNothingChanged()
            throws Exception {
        Res r = new Res("jn");
        Thread.currentThread().interrupt();
        assertEquals("jn: interrupted in join()",
                assertThrows(InterruptedException.class, r::join).getMessage());
        assertFalse(Thread.interrupted());
        Handle h = r.open();
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, () -> r.join(Duration.ofSeconds(5)));
        assertFalse(Thread.interrupted());
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                r.join();
                return null;
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("jn: interrupted in join()", e.getMessage());
        assertFalse(flagAfter.get());
        assertEquals(State.OPEN, r.state());
        assertEquals(1, r.openCount());
        h.close();
        assertTrue(r.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void multiOpen_waitersForStartup_openKeepsFlagOpenInterruptiblyGivesUp() throws Exception {
        Res r = new Res("ws");
        CountDownLatch inStartup = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onStartup = n -> {
            inStartup.countDown();
            await(release);
        };
        CompletableFuture<Handle> starter = TestThreads.fork(r::open);
        await(inStartup);
        AtomicBoolean flag = new AtomicBoolean();
        AtomicReference<Handle> waited = new AtomicReference<>();
        TestThreads.Call plain = TestThreads.startCall(() -> {
            waited.set(r.open());
            flag.set(Thread.currentThread().isInterrupted());
            return null;
        });
        TestThreads.awaitParked(plain.thread);
        plain.thread.interrupt();
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return r.openInterruptibly();
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("ws: interrupted in openInterruptibly()", e.getMessage());
        assertFalse(flagAfter.get());
        release.countDown();
        assertNull(plain.join());
        assertTrue(flag.get(), "open() returns with the flag set");
        Handle s = starter.get(TestThreads.WAIT_S, TimeUnit.SECONDS);
        assertEquals(2, r.openCount(), "the interrupted openInterruptibly() is not counted");
        assertEquals(1, r.startups.get());
        s.close();
        waited.get().close();
        assertEquals(State.CLOSED, r.state());
        assertEquals(1, r.shutdowns.get());
    }
}
