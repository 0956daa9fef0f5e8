package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.base.Ticker;
import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hostile black-box tests of Pool's documented promises (docs/pool.md and Javadoc). */
final class PoolAttackTest {
    private static final long BUDGET_NS = Duration.ofSeconds(3).toNanos();

    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("atk").destroy(factory::destroyed);
    }

    private static void atRest(Pool<?> pool) {
        PoolStats s = pool.stats();
        int max = pool.maxSize();
        if (max > 0) {
            assertTrue(s.size() <= max, "size above bound: " + s + " max " + max);
        }
        assertTrue(s.idle() >= 0 && s.idle() <= s.size(), s.toString());
        assertEquals(s.size(), s.idle() + s.lent(), s.toString());
        assertEquals(0, s.waiting(), "waiters at rest: " + s);
    }

    private static Thread daemon(Runnable r) {
        Thread t = new Thread(r);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void awaitWaiting(Pool<?> pool, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (pool.stats().waiting() < n) {
            assertTrue(System.nanoTime() < deadline, "never saw " + n + " waiting");
            Thread.onSpinWait();
        }
    }

    /** Waits until {@code n} wait, while {@code waiter} is alive; false if it ended first. */
    private static boolean awaitWaitingWhile(Pool<?> pool, int n, Thread waiter) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (pool.stats().waiting() < n) {
            if (!waiter.isAlive()) {
                return false;
            }
            assertTrue(System.nanoTime() < deadline, "never saw " + n + " waiting");
            Thread.onSpinWait();
        }
        return true;
    }

    // ---- 1: unfair, woken and interrupted at once passes the wake-up on

    @Test
    @Timeout(60)
    void unfair_interruptRacingReturn_nextWaiterServed() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 400) {
            rounds++;
            try (Pool<Res> pool = builder().maxSize(1).fair(false).build()) {
                Lease<Res> held = pool.borrow();
                AtomicReference<Object> r1 = new AtomicReference<>();
                AtomicReference<Object> r2 = new AtomicReference<>();
                Thread w1 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        r1.set(l);
                    } catch (Throwable e) {
                        r1.set(e);
                    }
                });
                awaitWaiting(pool, 1);
                Thread w2 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                        r2.set(l);
                    } catch (Throwable e) {
                        r2.set(e);
                    }
                });
                awaitWaiting(pool, 2);
                CyclicBarrier go = new CyclicBarrier(2);
                Thread closer = daemon(() -> {
                    try {
                        go.await();
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                    held.close();
                });
                go.await();
                w1.interrupt();
                closer.join(10_000);
                w1.join(10_000);
                w2.join(10_000);
                assertFalse(w2.isAlive());
                assertInstanceOf(Lease.class, r2.get(), "round " + rounds + ": second waiter "
                        + r2.get() + " (first got " + r1.get() + ")");
                atRest(pool);
            }
        }
    }

    @Test
    @Timeout(60)
    void unfair_asyncCancelRacingReturn_nextWaiterServed() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 400) {
            rounds++;
            try (Pool<Res> pool = builder().maxSize(1).fair(false).build()) {
                Lease<Res> held = pool.borrow();
                CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
                assertFalse(f1.isDone());
                AtomicReference<Object> r2 = new AtomicReference<>();
                Thread w2 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                        r2.set(l);
                    } catch (Throwable e) {
                        r2.set(e);
                    }
                });
                awaitWaiting(pool, 2);
                CyclicBarrier go = new CyclicBarrier(2);
                Thread closer = daemon(() -> {
                    try {
                        go.await();
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                    held.close();
                });
                go.await();
                boolean cancelled = f1.cancel(false);
                if (!cancelled) {
                    f1.join().close();
                }
                closer.join(10_000);
                w2.join(10_000);
                assertInstanceOf(Lease.class, r2.get(), "round " + rounds + " second waiter");
                atRest(pool);
            }
        }
    }

    @Test
    @Timeout(60)
    void unfair_timeoutRacingReturn_nextWaiterServed() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 200) {
            rounds++;
            try (Pool<Res> pool = builder().maxSize(1).fair(false).build()) {
                Lease<Res> held = pool.borrow();
                long t0 = System.nanoTime();
                long wait = TimeUnit.MILLISECONDS.toNanos(20);
                AtomicReference<Object> r2 = new AtomicReference<>();
                Thread w1 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofNanos(wait))) {
                        assertNotNull(l);
                        // fine
                    } catch (Throwable e) {
                        // timeout expected sometimes
                    }
                });
                if (!awaitWaitingWhile(pool, 1, w1)) {
                    // a loaded machine: w1's 20 ms ran out before it was seen waiting
                    held.close();
                    continue;
                }
                Thread w2 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                        r2.set(l);
                    } catch (Throwable e) {
                        r2.set(e);
                    }
                });
                if (!awaitWaitingWhile(pool, 2, w1)) {
                    // a loaded machine: w1 timed out before w2 joined; no race this round
                    held.close();
                    w2.join(10_000);
                    assertInstanceOf(Lease.class, r2.get(), "round " + rounds + " second waiter");
                    continue;
                }
                long at = t0 + wait + (rounds % 7 - 3) * 100_000L;
                while (System.nanoTime() < at) {
                    Thread.onSpinWait();
                }
                held.close();
                w1.join(10_000);
                w2.join(10_000);
                assertInstanceOf(Lease.class, r2.get(), "round " + rounds + " second waiter");
                atRest(pool);
            }
        }
    }

    // ---- 2: setMaxSize racing creating borrows

    @Test
    @Timeout(60)
    void setMaxSize_racingCreatingTryBorrows_neverAboveBound() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 2000) {
            rounds++;
            try (Pool<Res> pool = builder().maxSize(2).build()) {
                CyclicBarrier go = new CyclicBarrier(3);
                AtomicReference<Lease<Res>> a = new AtomicReference<>();
                AtomicReference<Lease<Res>> b = new AtomicReference<>();
                Thread ta = daemon(() -> {
                    await(go);
                    a.set(pool.tryBorrow());
                });
                Thread tb = daemon(() -> {
                    await(go);
                    b.set(pool.tryBorrow());
                });
                await(go);
                pool.setMaxSize(1);
                ta.join(10_000);
                tb.join(10_000);
                int held = (a.get() != null ? 1 : 0) + (b.get() != null ? 1 : 0);
                Lease<Res> extra = pool.tryBorrow();
                if (held >= 1 && extra != null) {
                    throw new AssertionError("round " + rounds + ": tryBorrow beyond bound 1 with "
                            + held + " held: " + pool.stats());
                }
                if (extra != null) {
                    extra.close();
                }
                if (a.get() != null) {
                    a.get().close();
                }
                if (b.get() != null) {
                    b.get().close();
                }
                atRest(pool);
                assertTrue(pool.stats().size() <= 1, "round " + rounds + ": " + pool.stats());
                assertTrue(factory.alive.get() <= 1, "alive " + factory.alive.get());
            }
        }
    }

    @Test
    @Timeout(60)
    void setMaxSize_flipping_underBorrowers_settlesWithinBound() throws Exception {
        try (Pool<Res> pool = builder().maxSize(3).fair(false).build()) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> bad = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ts.add(daemon(() -> {
                    while (!stop.get()) {
                        try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                            if (!l.get().inUse.compareAndSet(false, true)) {
                                bad.set(new AssertionError("lent twice " + l.get()));
                            }
                            l.get().inUse.set(false);
                        } catch (Throwable e) {
                            bad.compareAndSet(null, e);
                        }
                    }
                }));
            }
            long end = System.nanoTime() + BUDGET_NS;
            int i = 0;
            while (System.nanoTime() < end) {
                pool.setMaxSize(++i % 2 == 0 ? 3 : 1);
            }
            pool.setMaxSize(1);
            stop.set(true);
            for (Thread t : ts) {
                t.join(10_000);
            }
            assertNull(bad.get());
            atRest(pool);
            assertTrue(pool.stats().size() <= 1, pool.stats().toString());
            assertTrue(factory.alive.get() <= 1, "alive " + factory.alive.get());
        }
    }

    // ---- 3: borrowAsync dependents that block; long chains

    @Test
    @Timeout(30)
    void async_dependentClosesThenBlocksOnNextFuture_noDeadlock() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
            CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
            CompletableFuture<String> out = new CompletableFuture<>();
            f1.thenAccept(l -> {
                l.close();
                try {
                    f2.get(10, TimeUnit.SECONDS).close();
                    out.complete("ok");
                } catch (Throwable e) {
                    out.completeExceptionally(e);
                }
            });
            held.close();
            assertEquals("ok", out.get(15, TimeUnit.SECONDS));
            atRest(pool);
        }
    }

    /** Every dependent closes and then blocks on the next future: past 32 deep on the shared thread. */
    @Test
    @Timeout(60)
    void async_chainOfBlockingDependents_pastNestingLimit_noDeadlock() throws Exception {
        int n = 200;
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            List<CompletableFuture<Lease<Res>>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                fs.add(pool.borrowAsync());
            }
            AtomicInteger done = new AtomicInteger();
            AtomicReference<Throwable> bad = new AtomicReference<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                fs.get(i).thenAccept(l -> {
                    l.close();
                    try {
                        if (k + 1 < n) {
                            fs.get(k + 1).get(20, TimeUnit.SECONDS);
                        }
                        done.incrementAndGet();
                    } catch (Throwable e) {
                        bad.compareAndSet(null, e);
                    }
                });
            }
            Thread closer = daemon(held::close);
            closer.join(40_000);
            assertFalse(closer.isAlive(), "close() of the first lease never returned: deadlock");
            PoolFixtures.eventually(() -> done.get() == n || bad.get() != null, "chain done");
            assertNull(bad.get());
            atRest(pool);
        }
    }

    @Test
    @Timeout(30)
    void async_dependentClosesThenBorrows_noDeadlock() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
            List<CompletableFuture<Lease<Res>>> rest = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                CompletableFuture<Lease<Res>> f = pool.borrowAsync();
                f.thenAccept(Lease::close);
                rest.add(f);
            }
            CompletableFuture<String> out = new CompletableFuture<>();
            f1.thenAccept(l -> {
                l.close();
                try (Lease<Res> again = pool.borrow(Duration.ofSeconds(10))) {
                    again.get();
                    out.complete("ok");
                } catch (Throwable e) {
                    out.completeExceptionally(e);
                }
            });
            held.close();
            assertEquals("ok", out.get(15, TimeUnit.SECONDS));
            for (CompletableFuture<Lease<Res>> f : rest) {
                assertTrue(f.isDone());
            }
            atRest(pool);
        }
    }

    @Test
    @Timeout(60)
    void async_chain20k_noStackOverflow() throws Exception {
        int n = 20_000;
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            AtomicInteger done = new AtomicInteger();
            AtomicReference<Throwable> bad = new AtomicReference<>();
            List<CompletableFuture<Lease<Res>>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                CompletableFuture<Lease<Res>> f = pool.borrowAsync();
                f.whenComplete((l, e) -> {
                    if (e != null) {
                        bad.compareAndSet(null, e);
                    } else {
                        l.close();
                        done.incrementAndGet();
                    }
                });
                fs.add(f);
            }
            held.close();
            PoolFixtures.eventually(() -> done.get() == n || bad.get() != null, "20k chain");
            assertNull(bad.get());
            atRest(pool);
        }
    }

    // ---- 4: fair: never overtake the oldest waiter, also when its object fails validation

    @Test
    @Timeout(60)
    void fair_handedObjectFailsValidation_laterBorrowersDoNotOvertake() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 300) {
            rounds++;
            AtomicBoolean broken = new AtomicBoolean();
            try (Pool<Res> pool = builder().maxSize(1).validate(r -> !broken.get()).build()) {
                Lease<Res> held = pool.borrow();
                AtomicReference<Object> r1 = new AtomicReference<>();
                CountDownLatch w1Got = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                Thread w1 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        r1.set(l);
                        w1Got.countDown();
                        release.await();
                    } catch (Throwable e) {
                        r1.set(e);
                        w1Got.countDown();
                    }
                });
                awaitWaiting(pool, 1);
                broken.set(true);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicReference<String> overtook = new AtomicReference<>();
                Thread spinner = daemon(() -> {
                    while (!stop.get()) {
                        Lease<Res> l = pool.tryBorrow();
                        if (l != null) {
                            overtook.compareAndSet(null, "tryBorrow got " + l.get()
                                    + " while w1 " + r1.get());
                            l.close();
                        }
                        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
                        if (f.isDone()) {
                            overtook.compareAndSet(null, "borrowAsync done at once: " + f);
                            f.thenAccept(Lease::close);
                        } else if (!f.cancel(false)) {
                            f.join().close();
                        }
                    }
                });
                held.close();
                TestThreads.await(w1Got);
                stop.set(true);
                spinner.join(10_000);
                broken.set(false);
                assertInstanceOf(Lease.class, r1.get(), "round " + rounds);
                assertNull(overtook.get(), "round " + rounds);
                release.countDown();
                w1.join(10_000);
                atRest(pool);
            }
        }
    }

    // ---- 5: join waits for factory calls begun before close()

    @Test
    @Timeout(30)
    void join_waitsForInFlightFactoryCall() throws Exception {
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        AtomicInteger destroyed = new AtomicInteger();
        Pool<Res> pool = Pool.<Res>builder(() -> {
            inFactory.countDown();
            letGo.await();
            return new Res(1);
        }).name("atk").maxSize(1).destroy(r -> destroyed.incrementAndGet()).build();
        AtomicReference<Object> got = new AtomicReference<>();
        Thread b = daemon(() -> {
            try {
                Lease<Res> l = pool.borrow();
                got.set(l);
            } catch (Throwable e) {
                got.set(e);
            }
        });
        TestThreads.await(inFactory);
        pool.close();
        assertFalse(pool.join(Duration.ofMillis(50)), "true while the factory still runs");
        letGo.countDown();
        b.join(10_000);
        if (got.get() instanceof Lease) {
            assertFalse(pool.join(Duration.ofMillis(50)), "true while lent");
            ((Lease<?>) got.get()).close();
        }
        assertTrue(pool.join(Duration.ofSeconds(10)));
        assertEquals(1, destroyed.get());
    }

    @Test
    @Timeout(30)
    void join_waitsForInFlightAsyncFactoryCall() throws Exception {
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger destroyed = new AtomicInteger();
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (calls.incrementAndGet() == 2) {
                inFactory.countDown();
                letGo.await();
            }
            return new Res(calls.get());
        }).name("atk").maxSize(1).destroy(r -> destroyed.incrementAndGet()).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        held.invalidate(); // the async waiter now makes an object on a daemon thread
        TestThreads.await(inFactory);
        pool.close();
        assertFalse(pool.join(Duration.ofMillis(50)), "true while the factory still runs");
        letGo.countDown();
        try {
            f.get(10, TimeUnit.SECONDS).close();
        } catch (ExecutionException e) {
            // closed: fine
        }
        assertTrue(pool.join(Duration.ofSeconds(10)));
        assertEquals(2, destroyed.get());
    }

    // ---- 6: validate on every lend, with a negative ticker

    @Test
    void validate_everyLend_negativeTicker() throws Exception {
        for (long base : new long[] {-1L, -1_000_000_000L, Long.MIN_VALUE + 10, Long.MAX_VALUE - 10}) {
            AtomicInteger checks = new AtomicInteger();
            Ticker t = new Ticker() {
                @Override
                public long read() {
                    return base;
                }
            };
            try (Pool<Res> pool = builder().maxSize(1).ticker(t).validate(r -> {
                checks.incrementAndGet();
                return true;
            }).build()) {
                pool.borrow().close();
                for (int i = 1; i <= 5; i++) {
                    pool.borrow().close();
                    assertEquals(i, checks.get(), "ticker " + base + " lend " + i);
                }
                Lease<Res> l = pool.tryBorrow();
                l.close();
                assertEquals(6, checks.get(), "tryBorrow ticker " + base);
                pool.borrowAsync().join().close();
                assertEquals(7, checks.get(), "borrowAsync ticker " + base);
            }
        }
    }

    @Test
    void validateAfterIdleZero_everyLend_negativeTicker() throws Exception {
        AtomicInteger checks = new AtomicInteger();
        PoolFixtures.FakeTicker t = new PoolFixtures.FakeTicker();
        t.now.set(-5_000_000_000L);
        try (Pool<Res> pool = builder().maxSize(1).ticker(t).validateAfterIdle(Duration.ZERO)
                .validate(r -> {
                    checks.incrementAndGet();
                    return true;
                }).build()) {
            pool.borrow().close();
            for (int i = 1; i <= 5; i++) {
                pool.borrow().close();
                assertEquals(i, checks.get(), "lend " + i);
            }
        }
    }

    // ---- 7: Errors from user code are thrown and leave the pool consistent

    @Test
    @Timeout(30)
    void errorFromValidateOfHandedObject_waiterGetsIt_nextWaiterNotLost() throws Exception {
        AtomicBoolean boom = new AtomicBoolean();
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (boom.getAndSet(false)) {
                throw new OutOfMemoryError("validate boom");
            }
            return true;
        }).build()) {
            Lease<Res> held = pool.borrow();
            TestThreads.Call w1 = TestThreads.startCall(() -> pool.borrow());
            awaitWaiting(pool, 1);
            AtomicReference<Object> r2 = new AtomicReference<>();
            Thread w2 = daemon(() -> {
                try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                    r2.set(l);
                } catch (Throwable e) {
                    r2.set(e);
                }
            });
            awaitWaiting(pool, 2);
            boom.set(true);
            held.close();
            Throwable e1 = w1.join();
            assertInstanceOf(OutOfMemoryError.class, e1);
            w2.join(10_000);
            assertInstanceOf(Lease.class, r2.get(), "second waiter lost after Error");
            atRest(pool);
            assertEquals(0, factory.alive.get() - pool.stats().size());
        }
    }

    @Test
    @Timeout(30)
    void errorFromFactoryOfWaiter_nextWaiterNotLost() throws Exception {
        AtomicBoolean boom = new AtomicBoolean();
        AtomicInteger made = new AtomicInteger();
        try (Pool<Res> pool = Pool.<Res>builder(() -> {
            if (boom.getAndSet(false)) {
                throw new StackOverflowError("factory boom");
            }
            return new Res(made.incrementAndGet());
        }).name("atk").maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            TestThreads.Call w1 = TestThreads.startCall(() -> pool.borrow());
            awaitWaiting(pool, 1);
            AtomicReference<Object> r2 = new AtomicReference<>();
            Thread w2 = daemon(() -> {
                try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                    r2.set(l);
                } catch (Throwable e) {
                    r2.set(e);
                }
            });
            awaitWaiting(pool, 2);
            boom.set(true);
            held.invalidate();
            assertInstanceOf(StackOverflowError.class, w1.join());
            w2.join(10_000);
            assertInstanceOf(Lease.class, r2.get(), "second waiter lost after factory Error");
            atRest(pool);
            assertEquals(1, pool.stats().failedCreations());
        }
    }

    @Test
    @Timeout(30)
    void errorFromOnReturnAndDestroy_thrownToCloser_waiterServed() throws Exception {
        AtomicBoolean resetBoom = new AtomicBoolean();
        AtomicBoolean destroyBoom = new AtomicBoolean();
        try (Pool<Res> pool = Pool.builder(factory).name("atk").maxSize(1)
                .onReturn(r -> {
                    if (resetBoom.getAndSet(false)) {
                        throw new AssertionError("reset boom");
                    }
                })
                .destroy(r -> {
                    factory.destroyed(r);
                    if (destroyBoom.getAndSet(false)) {
                        throw new AssertionError("destroy boom");
                    }
                }).build()) {
            for (int round = 0; round < 2; round++) {
                Lease<Res> held = pool.borrow();
                AtomicReference<Object> r2 = new AtomicReference<>();
                Thread w = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                        r2.set(l);
                    } catch (Throwable e) {
                        r2.set(e);
                    }
                });
                awaitWaiting(pool, 1);
                if (round == 0) {
                    resetBoom.set(true);
                    AssertionError e = assertThrows(AssertionError.class, held::close);
                    assertEquals("reset boom", e.getMessage());
                } else {
                    destroyBoom.set(true);
                    AssertionError e = assertThrows(AssertionError.class, held::invalidate);
                    assertEquals("destroy boom", e.getMessage());
                }
                assertTrue(held.isClosed());
                w.join(10_000);
                assertInstanceOf(Lease.class, r2.get(), "round " + round + " waiter lost");
                atRest(pool);
                assertEquals(pool.stats().size(), factory.alive.get());
            }
        }
    }

    @Test
    @Timeout(30)
    void errorFromValidate_inAsyncGrant_failsFuture_nextServed() throws Exception {
        AtomicBoolean boom = new AtomicBoolean();
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (boom.getAndSet(false)) {
                throw new OutOfMemoryError("validate boom");
            }
            return true;
        }).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
            CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
            boom.set(true);
            try {
                held.close();
            } catch (OutOfMemoryError e) {
                // the doc does not say whether the returner sees it; allowed
            }
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> f1.get(10, TimeUnit.SECONDS));
            assertInstanceOf(OutOfMemoryError.class, e.getCause());
            f2.get(10, TimeUnit.SECONDS).close();
            atRest(pool);
        }
    }

    @Test
    void errorFromDestroyInClose_suppressedAdded_allDestroyed() throws Exception {
        AtomicInteger destroyed = new AtomicInteger();
        Pool<Res> pool = Pool.builder(factory).name("atk").maxSize(3).destroy(r -> {
            destroyed.incrementAndGet();
            throw new AssertionError("d" + r.id);
        }).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        Lease<Res> c = pool.borrow();
        a.close();
        b.close();
        c.close();
        AssertionError e = assertThrows(AssertionError.class, pool::close);
        assertEquals(2, e.getSuppressed().length, "suppressed " + List.of(e.getSuppressed()));
        assertEquals(3, destroyed.get());
        assertTrue(pool.join(Duration.ofSeconds(5)));
        assertEquals(0, pool.stats().size());
    }

    // ---- 8: interrupts: message, no leftover waiter or permit; lease closed message

    @Test
    @Timeout(30)
    void interruptedWaits_messages_noLeftovers() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            try (Pool<Res> pool = builder().name("db").maxSize(1).fair(fair).build()) {
                Lease<Res> held = pool.borrow();
                InterruptedException e1 = TestThreads.assertInterruptedWhileParked(pool::borrow);
                assertEquals("db: interrupted in borrow()", e1.getMessage());
                assertEquals(0, pool.stats().waiting());
                InterruptedException e2 = TestThreads.assertInterruptedWhileParked(
                        () -> pool.borrow(Duration.ofSeconds(20)));
                assertEquals("db: interrupted in borrow(Duration)", e2.getMessage());
                assertEquals(0, pool.stats().waiting());
                // pre-set interrupt flag, nothing free
                Thread.currentThread().interrupt();
                InterruptedException e3 = assertThrows(InterruptedException.class, pool::borrow);
                assertEquals("db: interrupted in borrow()", e3.getMessage());
                assertFalse(Thread.interrupted());
                assertEquals(0, pool.stats().waiting());
                held.close();
                // fair pool: no phantom waiter blocks tryBorrow
                Lease<Res> l = pool.tryBorrow();
                assertNotNull(l, "fair=" + fair + ": tryBorrow null after interrupted waiters left");
                assertThrows(IllegalStateException.class, () -> {
                    l.close();
                    l.get();
                });
                IllegalStateException ise = assertThrows(IllegalStateException.class, l::get);
                assertEquals("db: lease already closed", ise.getMessage());
                // object free at once: the flag is checked first all the same
                Thread.currentThread().interrupt();
                InterruptedException e4 = assertThrows(InterruptedException.class, pool::borrow);
                assertEquals("db: interrupted in borrow()", e4.getMessage());
                assertFalse(Thread.interrupted(), "flag cleared");
                pool.borrow().close();
            } catch (AssertionError e) {
                throw new AssertionError("fair=" + fair + ": " + e.getMessage(), e);
            }
        }
    }

    @Test
    @Timeout(30)
    void join_interrupted_message() throws Exception {
        Pool<Res> pool = builder().name("db").maxSize(1).build();
        Lease<Res> held = pool.borrow();
        pool.close();
        InterruptedException e = TestThreads.assertInterruptedWhileParked(
                () -> pool.join(Duration.ofSeconds(20)));
        assertEquals("db: interrupted in join()", e.getMessage());
        held.close();
        assertTrue(pool.join(Duration.ofSeconds(5)));
    }

    @Test
    @Timeout(60)
    void fair_interruptRacingReturn_objectNotLost() throws Exception {
        long end = System.nanoTime() + BUDGET_NS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 300) {
            rounds++;
            try (Pool<Res> pool = builder().maxSize(1).fair(true).build()) {
                Lease<Res> held = pool.borrow();
                AtomicReference<Object> r1 = new AtomicReference<>();
                Thread w1 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        r1.set(l);
                    } catch (Throwable e) {
                        r1.set(e);
                    }
                });
                awaitWaiting(pool, 1);
                AtomicReference<Object> r2 = new AtomicReference<>();
                Thread w2 = daemon(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(5))) {
                        r2.set(l);
                    } catch (Throwable e) {
                        r2.set(e);
                    }
                });
                awaitWaiting(pool, 2);
                CyclicBarrier go = new CyclicBarrier(2);
                Thread closer = daemon(() -> {
                    await(go);
                    held.close();
                });
                go.await();
                w1.interrupt();
                closer.join(10_000);
                w1.join(10_000);
                w2.join(10_000);
                assertInstanceOf(Lease.class, r2.get(), "round " + rounds + " (w1 " + r1.get() + ")");
                atRest(pool);
                Lease<Res> l = pool.tryBorrow();
                assertNotNull(l, "round " + rounds + ": object lost " + pool.stats());
                l.close();
            }
        }
    }

    // ---- older promises

    @Test
    @Timeout(60)
    void stress_oneBorrowerAtATime_concurrentDoubleClose_stats() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            try (Pool<Res> pool = builder().maxSize(2).fair(fair).build()) {
                AtomicReference<Throwable> bad = new AtomicReference<>();
                long end = System.nanoTime() + BUDGET_NS / 2;
                List<Thread> ts = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    int k = i;
                    ts.add(daemon(() -> {
                        int n = 0;
                        while (System.nanoTime() < end) {
                            try {
                                Lease<Res> l = (n++ & 1) == 0 ? pool.borrow(Duration.ofSeconds(5))
                                        : pool.borrowAsync().get(5, TimeUnit.SECONDS);
                                Res r = l.get();
                                if (!r.inUse.compareAndSet(false, true)) {
                                    bad.compareAndSet(null, new AssertionError("twice " + r));
                                }
                                r.inUse.set(false);
                                if (k == 0 && (n % 5 == 0)) {
                                    l.invalidate();
                                }
                                l.close();
                                l.close();
                                if (!l.isClosed()) {
                                    bad.compareAndSet(null, new AssertionError("not closed"));
                                }
                            } catch (Throwable e) {
                                bad.compareAndSet(null, e);
                            }
                        }
                    }));
                }
                for (Thread t : ts) {
                    t.join(20_000);
                }
                assertNull(bad.get());
                atRest(pool);
                PoolStats s = pool.stats();
                assertEquals(s.created() - s.destroyed(), s.size(), s.toString());
                assertEquals(factory.alive.get(), s.size(), s.toString());
            }
        }
    }

    @Test
    @Timeout(30)
    void closeWhileWaiting_allWakeWithClosed_join() throws Exception {
        Pool<Res> pool = builder().name("db").maxSize(1).build();
        Lease<Res> held = pool.borrow();
        TestThreads.Call w = TestThreads.startCall(() -> pool.borrow());
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 2);
        pool.close();
        Throwable t = w.join();
        assertInstanceOf(ClosedException.class, t);
        assertEquals("db: pool closed", t.getMessage());
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClosedException.class, e.getCause());
        assertThrows(ClosedException.class, pool::tryBorrow);
        held.close();
        held.close();
        assertTrue(pool.join(Duration.ofSeconds(5)));
        assertEquals(0, factory.alive.get());
        assertEquals(0, pool.stats().size());
    }

    @Test
    void timeoutMessage_andStats() throws Exception {
        try (Pool<Res> pool = builder().name("db").maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            TimeoutException e = assertThrows(TimeoutException.class,
                    () -> pool.borrow(Duration.ofMillis(5)));
            assertEquals("db: no object free within PT0.005S (size 1 of 1, 0 waiting)", e.getMessage());
            assertThrows(TimeoutException.class, () -> pool.borrow(Duration.ZERO));
            assertEquals(2, pool.stats().timeouts());
            assertEquals(0, pool.stats().waiting());
            assertThrows(IllegalArgumentException.class, () -> pool.borrow(Duration.ofNanos(-1)));
            held.close();
            assertSame(held.isClosed(), true);
        }
    }

    private static void await(CyclicBarrier b) {
        try {
            b.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
