package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.refkit.PoolFixtures.FakeTicker;
import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile black-box tests of issue 9's changes to Pool (join, state, the interrupt rule) and
 * RunState (join, Registration, listeners), from the public Javadoc and docs alone.
 */
final class Attack9PoolRunStateTest {
    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("atk").destroy(factory::destroyed);
    }

    // ------------------------------------------------------------------ helpers

    private static void awaitQuietly(CountDownLatch l) {
        try {
            if (!l.await(WAIT_S, TimeUnit.SECONDS)) {
                throw new AssertionError("latch timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static void awaitBarrier(CyclicBarrier b) {
        try {
            b.await(WAIT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void awaitWaiting(Pool<?> pool, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (pool.stats().waiting() < n) {
            if (System.nanoTime() > deadline) {
                fail("never saw " + n + " waiting: " + pool);
            }
            Thread.onSpinWait();
        }
    }

    /** The value of a future, or what it threw. */
    private static Object outcome(Future<?> f) throws Exception {
        try {
            return f.get(WAIT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /** Borrows every one of {@code max} objects at once (each within a second), then returns them. */
    private static void assertWholePoolBorrowable(Pool<Res> pool, int max, String when)
            throws Exception {
        List<Lease<Res>> all = new ArrayList<>();
        try {
            for (int i = 0; i < max; i++) {
                try {
                    all.add(pool.borrow(Duration.ofSeconds(2)));
                } catch (java.util.concurrent.TimeoutException e) {
                    fail(when + ": only " + i + " of " + max + " objects could be borrowed at once: "
                            + pool + " " + pool.stats(), e);
                }
            }
            assertNull(pool.tryBorrow(), when + ": more than maxSize objects lent: " + pool);
        } finally {
            for (Lease<Res> l : all) {
                l.close();
            }
        }
        assertEquals(0, pool.stats().waiting(), when + ": waiters left behind: " + pool.stats());
    }

    // ================================================================== Pool.join

    @Test
    @Timeout(30)
    void poolJoin_beforeClose_waitsForCloseAndNeverClosesItself() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        try (Lease<Res> l = pool.borrow()) {
            assertNotNull(l.get());
        }
        assertFalse(pool.join(Duration.ofMillis(50)), "join(50ms) before close() returned true");
        assertEquals(Pool.State.OPEN, pool.state());
        Future<Void> j = TestThreads.forkParked(() -> {
            pool.join();
            return null;
        });
        assertFalse(j.isDone(), "join() returned before close(): " + (j.isDone() ? outcome(j) : ""));
        assertFalse(pool.isClosed(), "join() closed the pool itself");
        assertEquals(Pool.State.OPEN, pool.state(), "join() changed the state");
        try (Lease<Res> l = pool.tryBorrow()) {
            assertNotNull(l, "pool stopped lending while a join waits");
        }
        pool.close();
        assertNull(outcome(j), "join() after close");
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEquals(0, factory.alive.get(), "objects left undestroyed after join()");
    }

    @Test
    @Timeout(30)
    void poolJoin_leaseOutAfterClose_waitsForItsReturn() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        Lease<Res> out = pool.borrow();
        try (Lease<Res> l = pool.borrow()) {
            assertNotNull(l.get());
        }
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state(), "a lease is out after close()");
        assertEquals("Pool[atk]{CLOSING, idle=0, lent=1, waiting=0}", pool.toString());
        assertFalse(pool.join(Duration.ofMillis(50)), "join returned with a lease out");
        Future<Void> j = TestThreads.forkParked(() -> {
            pool.join();
            return null;
        });
        assertFalse(j.isDone(), "join() returned with a lease out");
        assertFalse(out.get().closed.get(), "lent object destroyed before its return");
        out.close();
        assertNull(outcome(j));
        assertTrue(out.isClosed());
        assertEquals(Pool.State.CLOSED, pool.state());
        assertTrue(pool.join(Duration.ZERO), "join(0) once CLOSED");
        assertEquals(0, factory.alive.get());
        assertEquals("Pool[atk]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
    }

    @Test
    @Timeout(30)
    void poolJoin_interruptedOnEntry_throwsEvenWhenClosed() throws Exception {
        Pool<Res> pool = builder().build();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, pool::join);
        assertEquals("atk: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag still set after join() threw");
        assertEquals(Pool.State.OPEN, pool.state());

        pool.close();
        assertTrue(pool.join(Duration.ZERO));
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, pool::join,
                "join() on a CLOSED pool with the flag set must throw (flag checked on entry)");
        assertEquals("atk: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());

        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> pool.join(Duration.ofSeconds(1)),
                "join(Duration) on a CLOSED pool with the flag set");
        assertEquals("atk: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());

        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, () -> pool.join(Duration.ZERO),
                "join(ZERO) with the flag set");
        assertFalse(Thread.interrupted());
    }

    @Test
    @Timeout(30)
    void poolJoin_interruptedWhileParked_throwsFlagClearAndPoolUntouched() throws Exception {
        Pool<Res> pool = builder().build();
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                pool.join();
            } catch (InterruptedException x) {
                flagAfter.set(Thread.currentThread().isInterrupted());
                throw x;
            }
            return null;
        });
        assertEquals("atk: interrupted in join()", e.getMessage());
        assertFalse(flagAfter.get(), "flag set after join() threw");

        AtomicBoolean flagAfterTimed = new AtomicBoolean(true);
        e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return pool.join(Duration.ofSeconds(60));
            } catch (InterruptedException x) {
                flagAfterTimed.set(Thread.currentThread().isInterrupted());
                throw x;
            }
        });
        assertEquals("atk: interrupted in join()", e.getMessage());
        assertFalse(flagAfterTimed.get());
        assertEquals(Pool.State.OPEN, pool.state(), "an interrupted join changed the pool");
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S)));
        pool.close();
        assertEquals(Boolean.TRUE, outcome(j), "a join after interrupted ones");
    }

    @Test
    @Timeout(30)
    void poolJoinTimed_leaseOut_returnsFalseInTime() throws Exception {
        Pool<Res> pool = builder().build();
        long t0 = System.nanoTime();
        assertFalse(pool.join(Duration.ofMillis(200)), "open pool");
        long el = System.nanoTime() - t0;
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(200), "returned early: " + el + " ns");
        assertTrue(el < TimeUnit.SECONDS.toNanos(5), "returned late: " + el + " ns");

        Lease<Res> out = pool.borrow();
        pool.close();
        t0 = System.nanoTime();
        assertFalse(pool.join(Duration.ofMillis(300)), "lease still out");
        el = System.nanoTime() - t0;
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(300), "returned early: " + el + " ns");
        assertTrue(el < TimeUnit.SECONDS.toNanos(5), "returned late: " + el + " ns");
        t0 = System.nanoTime();
        assertFalse(pool.join(Duration.ZERO));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1), "join(ZERO) waited");
        assertThrows(IllegalArgumentException.class, () -> pool.join(Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> pool.join(null));

        Future<Boolean> huge = TestThreads.forkParked(
                () -> pool.join(Duration.ofSeconds(Long.MAX_VALUE)));
        assertFalse(huge.isDone(), "join(huge) returned at once");
        out.close();
        assertEquals(Boolean.TRUE, outcome(huge));
    }

    @Test
    @Timeout(30)
    void poolJoin_factoryCallBegunBeforeClose_waitsAndDestroysItsObject() throws Exception {
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch releaseFactory = new CountDownLatch(1);
        Pool<Res> pool = Pool.<Res>builder(() -> {
            inFactory.countDown();
            awaitQuietly(releaseFactory);
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(1).build();
        CompletableFuture<Lease<Res>> b = TestThreads.fork(pool::borrow);
        TestThreads.await(inFactory);
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state(), "a factory call is under way");
        assertFalse(pool.join(Duration.ofMillis(50)), "join returned during a factory call");
        releaseFactory.countDown();
        Object got = outcome(b);
        if (got instanceof Lease) {
            ((Lease<?>) got).close();
            fail("borrow() got a lease on an object made after close(); the Javadoc says each"
                    + " such object is destroyed as its call returns");
        }
        assertInstanceOf(ClosedException.class, got, String.valueOf(got));
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "join after the factory returned: " + pool);
        assertEquals(1, factory.made.get());
        assertEquals(0, factory.alive.get(), "object made during close() not destroyed");
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    @Timeout(30)
    void poolJoin_backgroundMinIdleFactoryAtClose_waitsForIt() throws Exception {
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch releaseFactory = new CountDownLatch(1);
        Pool<Res> pool = Pool.<Res>builder(() -> {
            inFactory.countDown();
            awaitQuietly(releaseFactory);
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(2).minIdle(1).build();
        TestThreads.await(inFactory);
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state(), "background factory call under way");
        assertFalse(pool.join(Duration.ofMillis(50)));
        releaseFactory.countDown();
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "join: " + pool);
        assertEquals(0, factory.alive.get(), "background object not destroyed");
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    @Timeout(30)
    void poolJoin_lastLeaseInvalidatedAfterClose_joinEnds() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        Lease<Res> out = pool.borrow();
        Res r = out.get();
        pool.close();
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S)));
        assertFalse(j.isDone());
        out.invalidate();
        assertEquals(Boolean.TRUE, outcome(j), pool.toString());
        assertEquals(1, r.closes.get());
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    @Timeout(30)
    void poolJoin_lastReturnAfterCloseWhileDestroyerRuns_waitsForDestroyer() throws Exception {
        AtomicBoolean block = new AtomicBoolean();
        CountDownLatch inDestroy = new CountDownLatch(1);
        CountDownLatch releaseDestroy = new CountDownLatch(1);
        AtomicReference<Pool<Res>> ref = new AtomicReference<>();
        AtomicReference<Pool.State> seen = new AtomicReference<>();
        Pool<Res> pool = builder().maxSize(1).destroy(r -> {
            if (block.get()) {
                seen.set(ref.get().state());
                inDestroy.countDown();
                awaitQuietly(releaseDestroy);
            }
            factory.destroyed(r);
        }).build();
        ref.set(pool);
        Lease<Res> out = pool.borrow();
        pool.close();
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S)));
        block.set(true);
        CompletableFuture<Void> returner = TestThreads.fork(() -> {
            out.close();
            return null;
        });
        TestThreads.await(inDestroy);
        try {
            assertEquals(Pool.State.CLOSING, seen.get(), "state() inside the last destroyer");
            assertEquals(Pool.State.CLOSING, pool.state(), "state() while the last destroyer runs");
            assertFalse(pool.join(Duration.ofMillis(50)), "join returned while a destroyer runs");
            assertFalse(j.isDone(), "parked join returned while the last destroyer runs");
        } finally {
            releaseDestroy.countDown();
        }
        assertNull(outcome(returner));
        assertEquals(Boolean.TRUE, outcome(j));
        assertEquals(0, factory.alive.get());
    }

    @Test
    @Timeout(30)
    void poolJoin_closeDestroyingIdleObjects_parkedJoinWaitsForLastDestroyer() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch inSecond = new CountDownLatch(1);
        CountDownLatch releaseSecond = new CountDownLatch(1);
        Pool<Res> pool = builder().maxSize(2).destroy(r -> {
            if (calls.incrementAndGet() == 2) {
                inSecond.countDown();
                awaitQuietly(releaseSecond);
            }
            factory.destroyed(r);
        }).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        a.close();
        b.close();
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S)));
        CompletableFuture<Void> closer = TestThreads.fork(() -> {
            pool.close();
            return null;
        });
        TestThreads.await(inSecond);
        try {
            assertEquals(Pool.State.CLOSING, pool.state(), "an idle object is being destroyed");
            assertFalse(pool.join(Duration.ofMillis(50)), "join while close() destroys");
            assertFalse(j.isDone(), "parked join returned before the last destroyer returned");
        } finally {
            releaseSecond.countDown();
        }
        assertNull(outcome(closer));
        assertEquals(Boolean.TRUE, outcome(j));
        assertEquals(0, factory.alive.get());
    }

    @Test
    @Timeout(120)
    void poolClose_racesHandOffToWaiter_objectDestroyedExactlyOnce() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            for (int i = 0; i < 150; i++) {
                String what = "fair=" + fair + " round " + i;
                Pool<Res> pool = builder().maxSize(1).fair(fair).build();
                Lease<Res> held = pool.borrow();
                Res r = held.get();
                CompletableFuture<Lease<Res>> w = TestThreads.fork(pool::borrow);
                awaitWaiting(pool, 1);
                CyclicBarrier go = new CyclicBarrier(2);
                Thread closer = TestThreads.start(() -> {
                    awaitBarrier(go);
                    pool.close();
                });
                awaitBarrier(go);
                held.close();
                TestThreads.joinAll(List.of(closer));
                Object got = outcome(w);
                if (got instanceof Lease) {
                    assertSame(r, ((Lease<?>) got).get(), what);
                    assertFalse(r.closed.get(), what + ": lent object destroyed");
                    assertEquals(Pool.State.CLOSING, pool.state(), what);
                    ((Lease<?>) got).close();
                } else {
                    assertInstanceOf(ClosedException.class, got, what + ": " + got);
                }
                assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), what + ": " + pool);
                assertEquals(1, r.closes.get(), what + ": destroyed " + r.closes.get() + " times");
            }
        }
    }

    @Test
    @Timeout(30)
    void poolTryBorrow_interruptedAndClosed_throwsClosedKeepsFlag() {
        Pool<Res> pool = builder().build();
        pool.close();
        Thread.currentThread().interrupt();
        try {
            assertThrows(ClosedException.class, pool::tryBorrow);
            assertTrue(Thread.currentThread().isInterrupted(), "tryBorrow cleared the flag");
            CompletableFuture<Lease<Res>> f = pool.borrowAsync();
            assertTrue(f.isCompletedExceptionally());
            assertTrue(Thread.currentThread().isInterrupted(), "borrowAsync cleared the flag");
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    @Timeout(30)
    void poolJoinTimed_wokenByEarlierReturns_keepsWaitingTimeLeft() throws Exception {
        Pool<Res> pool = builder().maxSize(3).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        Lease<Res> c = pool.borrow();
        pool.close();
        long t0 = System.nanoTime();
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofMillis(400)));
        a.close(); // each return wakes the joiner, which must go back to sleep
        b.close();
        Object got = outcome(j);
        long el = System.nanoTime() - t0;
        assertEquals(Boolean.FALSE, got, "join with a lease still out");
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(400), "join gave up early: " + el);
        c.close();
        assertTrue(pool.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void poolUnbounded_joinAndInterruptRule_hold() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        b.close();
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, pool::borrow, "unbounded, idle object");
        assertFalse(Thread.interrupted());
        assertEquals(1, pool.stats().idle());
        pool.close();
        assertEquals("Pool[atk]{CLOSING, idle=0, lent=1, waiting=0}", pool.toString());
        Future<Boolean> j = TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S)));
        assertFalse(j.isDone());
        a.close();
        assertEquals(Boolean.TRUE, outcome(j));
        assertEquals(0, factory.alive.get());
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    @Timeout(30)
    void poolUnfair_interruptedOnEntryWithIdleObject_throwsAndChangesNothing() throws Exception {
        Pool<Res> pool = builder().maxSize(2).fair(false).build();
        try (Lease<Res> l = pool.borrow()) {
            assertNotNull(l.get());
        }
        String before = pool.stats().toString();
        for (int i = 0; i < 2; i++) {
            Thread.currentThread().interrupt();
            if (i == 0) {
                assertThrows(InterruptedException.class, pool::borrow);
            } else {
                assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ofSeconds(1)));
            }
            assertFalse(Thread.interrupted());
        }
        assertEquals(before, pool.stats().toString());
        assertWholePoolBorrowable(pool, 2, "unfair, after interrupted borrows");
    }

    @Test
    @Timeout(30)
    void poolFair_asyncWaiterOnly_tryBorrowReturnsNull() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        assertEquals(1, pool.stats().waiting());
        Res r = held.get();
        held.close();
        assertNull(pool.tryBorrow(), "tryBorrow overtook an async waiter");
        Lease<Res> got = f.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(r, got.get());
        got.close();
    }

    @Test
    @Timeout(30)
    void poolJoin_closeWhileAsyncFactoryRuns_waitsFutureFailsObjectDestroyed() throws Exception {
        AtomicBoolean block = new AtomicBoolean();
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch releaseFactory = new CountDownLatch(1);
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (block.getAndSet(false)) {
                inFactory.countDown();
                awaitQuietly(releaseFactory);
            }
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        block.set(true);
        held.invalidate(); // f's permit: its object is made on a daemon thread
        TestThreads.await(inFactory);
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state(), "an object is being made");
        assertFalse(pool.join(Duration.ofMillis(50)));
        releaseFactory.countDown();
        Object got = outcome(f);
        if (got instanceof Lease) {
            ((Lease<?>) got).close();
        }
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), pool.toString());
        assertEquals(0, factory.alive.get());
        assertInstanceOf(ClosedException.class, got, "future of an object made after close(): " + got);
    }

    // ================================================================== Pool.state, toString

    @Test
    @Timeout(30)
    void poolState_fromDestroyerDuringClose_closingWithoutBlocking() throws Exception {
        AtomicReference<Pool<Res>> ref = new AtomicReference<>();
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Pool<Res> pool = Pool.builder(factory).name("atk").maxSize(2).destroy(r -> {
            Pool<Res> p = ref.get();
            seen.add(p.state() + "|" + p.isClosed() + "|" + p + "|" + p.stats());
            factory.destroyed(r);
        }).build();
        ref.set(pool);
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        a.close();
        b.close();
        CompletableFuture<Void> closer = TestThreads.fork(() -> {
            pool.close();
            return null;
        });
        assertNull(outcome(closer), "close() with destroyers calling state()");
        assertEquals(2, seen.size(), seen.toString());
        for (String s : seen) {
            assertTrue(s.startsWith("CLOSING|true|Pool[atk]{CLOSING, "),
                    "state seen by a destroyer during close(): " + s);
        }
        assertEquals(Pool.State.CLOSED, pool.state(), "after close() with only idle objects");
        assertTrue(pool.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void poolState_fromValidatorWhileCloseRuns_closingAndCloseDoesNotWait() throws Exception {
        AtomicReference<Pool<Res>> ref = new AtomicReference<>();
        AtomicBoolean armed = new AtomicBoolean();
        CountDownLatch inValidator = new CountDownLatch(1);
        CountDownLatch releaseValidator = new CountDownLatch(1);
        AtomicReference<String> seen = new AtomicReference<>();
        Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (armed.get()) {
                inValidator.countDown();
                awaitQuietly(releaseValidator);
                seen.set(ref.get().state() + " " + ref.get());
            }
            return true;
        }).build();
        ref.set(pool);
        try (Lease<Res> l = pool.borrow()) {
            assertNotNull(l.get());
        }
        armed.set(true);
        CompletableFuture<Lease<Res>> b = TestThreads.fork(pool::borrow);
        TestThreads.await(inValidator);
        CompletableFuture<Void> closer = TestThreads.fork(() -> {
            pool.close();
            return null;
        });
        try {
            closer.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            releaseValidator.countDown();
            fail("close() waited for a validator of an object being checked");
        }
        assertEquals(Pool.State.CLOSING, pool.state(), "an object is being checked");
        releaseValidator.countDown();
        Object got = outcome(b);
        assertNotNull(seen.get());
        assertTrue(seen.get().startsWith("CLOSING Pool[atk]{CLOSING, "), seen.get());
        if (got instanceof Lease) {
            assertEquals(Pool.State.CLOSING, pool.state());
            ((Lease<?>) got).close();
        } else {
            assertInstanceOf(ClosedException.class, got, String.valueOf(got));
        }
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), pool.toString());
        assertEquals(0, factory.alive.get());
        assertEquals(1, factory.made.get());
    }

    @Test
    @Timeout(30)
    void poolToString_openWithWaiters_matchesDocumentedForm() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        assertEquals("Pool[atk]{OPEN, idle=0, lent=0, waiting=0}", pool.toString());
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        b.close();
        assertEquals("Pool[atk]{OPEN, idle=1, lent=1, waiting=0}", pool.toString());
        b = pool.borrow();
        Future<Lease<Res>> w = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 2);
        assertEquals("Pool[atk]{OPEN, idle=0, lent=2, waiting=2}", pool.toString());
        pool.close();
        Object got = outcome(w);
        assertInstanceOf(ClosedException.class, got);
        assertEquals("atk: pool closed", ((Throwable) got).getMessage());
        assertInstanceOf(ClosedException.class, outcome(f));
        assertEquals("Pool[atk]{CLOSING, idle=0, lent=2, waiting=0}", pool.toString());
        a.close();
        b.close();
        assertEquals("Pool[atk]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
        assertTrue(Pool.builder(Object::new).build().toString().startsWith("Pool[pool]{OPEN, "));
    }

    // ================================================================== the interrupt rule

    @Test
    @Timeout(30)
    void poolBorrow_interruptedOnEntryWithIdleObject_throwsAndChangesNothing() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        try (Lease<Res> l = pool.borrow()) {
            assertNotNull(l.get());
        }
        String before = pool.stats().toString();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, pool::borrow,
                "borrow() with the flag set and an idle object");
        assertEquals("atk: interrupted in borrow()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag set after borrow() threw");
        assertEquals(before, pool.stats().toString(), "an interrupted borrow() changed the stats");

        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ofSeconds(5)));
        assertEquals("atk: interrupted in borrow(Duration)", e.getMessage());
        assertFalse(Thread.interrupted());
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ZERO),
                "borrow(ZERO) with the flag set");
        assertEquals("atk: interrupted in borrow(Duration)", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(before, pool.stats().toString(), "interrupted timed borrows changed the stats");
        assertEquals(1, factory.made.get());
        assertWholePoolBorrowable(pool, 2, "after interrupted borrows");
    }

    @Test
    @Timeout(30)
    void poolBorrow_interruptedOnEntryEmptyPool_factoryNotCalled() throws Exception {
        Pool<Res> pool = builder().maxSize(3).build();
        for (int i = 0; i < 3; i++) {
            Thread.currentThread().interrupt();
            if (i == 0) {
                assertThrows(InterruptedException.class, pool::borrow);
            } else {
                assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ofSeconds(1)));
            }
            assertFalse(Thread.interrupted());
        }
        assertEquals(0, factory.made.get(), "factory called for an interrupted borrow");
        PoolStats s = pool.stats();
        assertEquals(0, s.size(), s.toString());
        assertEquals(0, s.borrows(), s.toString());
        assertEquals(0, s.waiting(), s.toString());
        assertEquals(0, s.timeouts(), s.toString());
        assertWholePoolBorrowable(pool, 3, "after interrupted borrows on an empty pool");
    }

    @Test
    @Timeout(30)
    void poolBorrow_interruptedOnEntryWhileOthersWait_waitingCountAndLineUnchanged()
            throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        Future<Lease<Res>> w = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, pool::borrow);
        assertFalse(Thread.interrupted());
        assertEquals(1, pool.stats().waiting(), "waiting count after an interrupted borrow");
        Object o = held.get();
        held.close();
        Object got = outcome(w);
        assertInstanceOf(Lease.class, got, "waiter not served after an interrupted borrow");
        assertSame(o, ((Lease<?>) got).get());
        ((Lease<?>) got).close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolBorrow_interruptedOnEntryClosedPool_interruptWins() throws Exception {
        Pool<Res> pool = builder().build();
        pool.close();
        Thread.currentThread().interrupt();
        Throwable t = assertThrows(Throwable.class, pool::borrow);
        boolean flag = Thread.interrupted();
        assertInstanceOf(InterruptedException.class, t,
                "flag is checked on entry, before the pool state: " + t);
        assertFalse(flag);
        assertThrows(ClosedException.class, pool::borrow);
    }

    @Test
    @Timeout(30)
    void poolTryBorrowAndBorrowAsync_interrupted_ignoreAndKeepFlag() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        try {
            Thread.currentThread().interrupt();
            Lease<Res> a = pool.tryBorrow();
            assertNotNull(a, "tryBorrow() looked at the flag");
            assertTrue(Thread.currentThread().isInterrupted(), "tryBorrow() cleared the flag");
            CompletableFuture<Lease<Res>> fb = pool.borrowAsync();
            assertTrue(fb.isDone(), "borrowAsync with a free slot");
            assertFalse(fb.isCompletedExceptionally(), fb.toString());
            assertTrue(Thread.currentThread().isInterrupted(), "borrowAsync() cleared the flag");
            CompletableFuture<Lease<Res>> fc = pool.borrowAsync();
            assertFalse(fc.isDone(), "borrowAsync with a full pool while interrupted: " + fc);
            assertTrue(Thread.currentThread().isInterrupted());
            assertNull(pool.tryBorrow());
            assertTrue(Thread.currentThread().isInterrupted());
            Thread.interrupted();
            a.close();
            Lease<Res> c = fc.get(WAIT_S, TimeUnit.SECONDS);
            c.close();
            fb.get().close();
        } finally {
            Thread.interrupted();
        }
        assertWholePoolBorrowable(pool, 2, "after");
    }

    @Test
    @Timeout(120)
    void poolBorrow_interruptRacesHandOff_objectNeverLost() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            for (boolean timed : new boolean[] {false, true}) {
                for (int i = 0; i < 150; i++) {
                    raceInterruptWithHandOff(fair, timed, i);
                }
            }
        }
    }

    private void raceInterruptWithHandOff(boolean fair, boolean timed, int round) throws Exception {
        String what = "fair=" + fair + " timed=" + timed + " round " + round;
        Pool<Res> pool = builder().maxSize(2).fair(fair).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        AtomicReference<Object> result = new AtomicReference<>();
        AtomicBoolean flagAfterIe = new AtomicBoolean();
        Thread w = TestThreads.start(() -> {
            try {
                result.set(timed ? pool.borrow(Duration.ofSeconds(WAIT_S)) : pool.borrow());
            } catch (InterruptedException e) {
                flagAfterIe.set(Thread.currentThread().isInterrupted());
                result.set(e);
            } catch (Throwable e) {
                result.set(e);
            }
        });
        awaitWaiting(pool, 1);
        CyclicBarrier go = new CyclicBarrier(2);
        Thread closer = TestThreads.start(() -> {
            awaitBarrier(go);
            a.close();
        });
        awaitBarrier(go);
        w.interrupt();
        TestThreads.joinAll(List.of(closer, w));
        Object got = result.get();
        if (got instanceof Lease) {
            ((Lease<?>) got).close();
        } else {
            assertInstanceOf(InterruptedException.class, got, what + ": " + got);
            assertFalse(flagAfterIe.get(), what + ": flag set after InterruptedException");
        }
        b.close();
        assertEquals(0, pool.stats().waiting(), what + ": " + pool.stats());
        assertWholePoolBorrowable(pool, 2, what);
        pool.close();
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), what + ": " + pool);
    }

    @Test
    @Timeout(120)
    void poolBorrow_interruptRacesHandOffWithSecondWaiter_secondWaiterServed() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            for (int i = 0; i < 150; i++) {
                String what = "fair=" + fair + " round " + i;
                Pool<Res> pool = builder().maxSize(1).fair(fair).build();
                Lease<Res> held = pool.borrow();
                AtomicReference<Object> r1 = new AtomicReference<>();
                Thread w1 = TestThreads.start(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        r1.set(l);
                    } catch (Throwable e) {
                        r1.set(e);
                    }
                });
                awaitWaiting(pool, 1);
                CompletableFuture<Lease<Res>> w2 = TestThreads.fork(
                        () -> pool.borrow(Duration.ofSeconds(5)));
                awaitWaiting(pool, 2);
                CyclicBarrier go = new CyclicBarrier(2);
                Thread closer = TestThreads.start(() -> {
                    awaitBarrier(go);
                    held.close();
                });
                awaitBarrier(go);
                w1.interrupt();
                TestThreads.joinAll(List.of(closer, w1));
                Object got2 = outcome(w2);
                assertInstanceOf(Lease.class, got2, what + ": second waiter got " + got2
                        + " (first got " + r1.get() + ") " + pool.stats());
                ((Lease<?>) got2).close();
                assertWholePoolBorrowable(pool, 1, what);
                pool.close();
            }
        }
    }

    @Test
    @Timeout(30)
    void poolBorrow_interruptedWhileParked_statsWaitingAndTimeoutsUnchanged() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        long borrows = pool.stats().borrows();
        InterruptedException e = TestThreads.assertInterruptedWhileParked(pool::borrow);
        assertEquals("atk: interrupted in borrow()", e.getMessage());
        e = TestThreads.assertInterruptedWhileParked(() -> pool.borrow(Duration.ofSeconds(60)));
        assertEquals("atk: interrupted in borrow(Duration)", e.getMessage());
        PoolStats s = pool.stats();
        assertEquals(0, s.waiting(), s.toString());
        assertEquals(0, s.timeouts(), "an interrupt counted as a timeout: " + s);
        assertEquals(borrows, s.borrows(), s.toString());
        held.close();
        assertWholePoolBorrowable(pool, 1, "after interrupted waits");
    }

    // ================================================================== hand-off, fairness

    @Test
    @Timeout(30)
    void poolFair_waitersServedInArrivalOrder_tryBorrowNeverOvertakes() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        int n = 6;
        for (int i = 0; i < n; i++) {
            int id = i;
            threads.add(TestThreads.start(() -> {
                try (Lease<Res> l = pool.borrow()) {
                    assertNotNull(l.get());
                    order.add(id);
                } catch (Exception e) {
                    order.add(-100 - id);
                }
            }));
            awaitWaiting(pool, i + 1);
        }
        assertNull(pool.tryBorrow(), "fair tryBorrow() while borrowers wait");
        held.close();
        TestThreads.joinAll(threads);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add(i);
        }
        assertEquals(expected, order);
        assertEquals(1, factory.made.get());
    }

    @Test
    @Timeout(60)
    void poolFair_returnRacesTryBorrow_oldestWaiterAlwaysGetsIt() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        for (int i = 0; i < 300; i++) {
            Lease<Res> held = pool.borrow();
            Res obj = held.get();
            CompletableFuture<Lease<Res>> w = TestThreads.fork(pool::borrow);
            awaitWaiting(pool, 1);
            CyclicBarrier go = new CyclicBarrier(2);
            AtomicReference<Lease<Res>> stolen = new AtomicReference<>();
            Thread thief = TestThreads.start(() -> {
                awaitBarrier(go);
                stolen.set(pool.tryBorrow());
            });
            awaitBarrier(go);
            held.close();
            TestThreads.joinAll(List.of(thief));
            if (stolen.get() != null) {
                stolen.get().close();
                w.get(WAIT_S, TimeUnit.SECONDS).close();
                fail("round " + i + ": tryBorrow overtook a waiter in a fair pool");
            }
            Lease<Res> got = w.get(WAIT_S, TimeUnit.SECONDS);
            assertSame(obj, got.get(), "round " + i);
            got.close();
        }
    }

    @Test
    @Timeout(30)
    void poolFair_handedObjectFailsValidation_oldestWaiterMakesNewOneAhead() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Pool<Res> pool = builder().maxSize(1).validate(r -> !armed.getAndSet(false)).build();
        Lease<Res> held = pool.borrow();
        Res old = held.get();
        CompletableFuture<Lease<Res>> w1 = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> w2 = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 2);
        armed.set(true);
        held.close();
        Lease<Res> got1 = w1.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(old, got1.get(), "an object that failed validation was lent");
        assertTrue(old.closed.get(), "failed object not destroyed");
        assertFalse(w2.isDone(), "second waiter overtook the first");
        got1.close();
        w2.get(WAIT_S, TimeUnit.SECONDS).close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolClose_twoThreadsAtOnce_eachIdleDestroyedOnceManyJoinersReturn() throws Exception {
        for (int round = 0; round < 100; round++) {
            Pool<Res> pool = builder().maxSize(3).build();
            List<Lease<Res>> ls = List.of(pool.borrow(), pool.borrow(), pool.borrow());
            List<Res> rs = new ArrayList<>();
            for (Lease<Res> l : ls) {
                rs.add(l.get());
                l.close();
            }
            List<Future<Boolean>> joins = new ArrayList<>();
            if (round % 10 == 0) {
                for (int k = 0; k < 3; k++) {
                    joins.add(TestThreads.forkParked(() -> pool.join(Duration.ofSeconds(WAIT_S))));
                }
            }
            CyclicBarrier go = new CyclicBarrier(2);
            Thread other = TestThreads.start(() -> {
                awaitBarrier(go);
                pool.close();
            });
            awaitBarrier(go);
            pool.close();
            TestThreads.joinAll(List.of(other));
            assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "round " + round + ": " + pool);
            for (Res r : rs) {
                assertEquals(1, r.closes.get(), "round " + round + ": " + r);
            }
            for (Future<Boolean> j : joins) {
                assertEquals(Boolean.TRUE, outcome(j), "round " + round);
            }
        }
    }

    // ================================================================== exactly-once return

    @Test
    @Timeout(60)
    void poolLease_racingCloses_returnedExactlyOnce() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        for (int i = 0; i < 300; i++) {
            Lease<Res> l = pool.borrow();
            int n = 4;
            CyclicBarrier go = new CyclicBarrier(n);
            List<Thread> ts = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                ts.add(TestThreads.start(() -> {
                    awaitBarrier(go);
                    l.close();
                }));
            }
            TestThreads.joinAll(ts);
            assertTrue(l.isClosed());
            PoolStats s = pool.stats();
            assertEquals(1, s.size(), "round " + i + ": " + s);
            assertEquals(1, s.idle(), "round " + i + ": " + s);
            Lease<Res> x = pool.tryBorrow();
            assertNotNull(x, "round " + i);
            assertNull(pool.tryBorrow(), "round " + i + ": object returned twice, lent twice");
            x.close();
        }
        assertEquals(1, factory.made.get());
    }

    @Test
    @Timeout(60)
    void poolLease_closeRacesInvalidate_exactlyOneWins() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        for (int i = 0; i < 300; i++) {
            Lease<Res> l = pool.borrow();
            Res r = l.get();
            CyclicBarrier go = new CyclicBarrier(4);
            List<Thread> ts = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                boolean inv = k % 2 == 0;
                ts.add(TestThreads.start(() -> {
                    awaitBarrier(go);
                    if (inv) {
                        l.invalidate();
                    } else {
                        l.close();
                    }
                }));
            }
            TestThreads.joinAll(ts);
            PoolStats s = pool.stats();
            if (r.closed.get()) {
                assertEquals(1, r.closes.get(), "round " + i + ": destroyed twice");
                assertEquals(0, s.size(), "round " + i + ": destroyed but alive: " + s);
            } else {
                assertEquals(1, s.size(), "round " + i + ": " + s);
                assertEquals(1, s.idle(), "round " + i + ": " + s);
            }
            assertEquals(s.created() - s.destroyed(), s.size(), "round " + i + ": " + s);
            Lease<Res> x = pool.tryBorrow();
            assertNotNull(x, "round " + i + ": " + s);
            assertNull(pool.tryBorrow(), "round " + i + ": two objects lent with maxSize 1");
            x.close();
        }
    }

    @Test
    @Timeout(30)
    void poolLease_staleLeaseAfterReborrow_doesNothing() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> l = pool.borrow();
        Res r = l.get();
        l.close();
        Lease<Res> l2 = pool.borrow();
        assertSame(r, l2.get());
        l.close();
        l.invalidate();
        assertTrue(l.isClosed());
        assertFalse(l2.isClosed());
        assertFalse(r.closed.get(), "a stale invalidate destroyed the next borrower's object");
        assertNull(pool.tryBorrow(), "a stale close returned the next borrower's object");
        IllegalStateException e = assertThrows(IllegalStateException.class, l::get);
        assertEquals("atk: lease already closed", e.getMessage());
        l2.invalidate();
        assertTrue(r.closed.get());
        assertThrows(IllegalStateException.class, l2::get);
    }

    @Test
    @Timeout(30)
    void poolInvalidate_withWaiter_destroysAndWaiterGetsNewObject() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> l = pool.borrow();
        Res r = l.get();
        CompletableFuture<Lease<Res>> w = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        l.invalidate();
        assertEquals(1, r.closes.get(), "invalidated object destroyed once");
        Lease<Res> got = w.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(r, got.get());
        PoolStats s = pool.stats();
        assertEquals(2, s.created(), s.toString());
        assertEquals(1, s.destroyed(), s.toString());
        assertEquals(1, s.size(), s.toString());
        got.close();
        l.invalidate(); // closed lease: nothing
        assertEquals(1, pool.stats().destroyed());
    }

    // ================================================================== setMaxSize

    @Test
    @Timeout(30)
    void poolSetMaxSize_shrinkWhileWaiting_destroysReturnsUntilFitThenServes() throws Exception {
        Pool<Res> pool = builder().maxSize(3).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        Lease<Res> c = pool.borrow();
        CompletableFuture<Lease<Res>> w = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        pool.setMaxSize(1);
        assertEquals(1, pool.maxSize());
        assertFalse(a.get().closed.get(), "shrink took an object from a borrower");
        a.close();
        b.close();
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), "returned objects not destroyed by the shrink: " + s);
        assertEquals(2, s.destroyed(), s.toString());
        assertFalse(w.isDone(), "waiter served above the new bound: " + pool);
        assertEquals(1, s.waiting(), s.toString());
        Res cr = c.get();
        c.close();
        Lease<Res> got = w.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(cr, got.get());
        got.close();
        assertEquals(3, factory.maxAlive.get());
        assertWholePoolBorrowable(pool, 1, "after the shrink");
    }

    @Test
    @Timeout(30)
    void poolSetMaxSize_growWhileWaiting_servesWaitersAtOnce() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        List<CompletableFuture<Lease<Res>>> ws = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ws.add(TestThreads.fork(pool::borrow));
            awaitWaiting(pool, i + 1);
        }
        CompletableFuture<Lease<Res>> async = pool.borrowAsync();
        awaitWaiting(pool, 4);
        pool.setMaxSize(5);
        List<Lease<Res>> got = new ArrayList<>();
        for (CompletableFuture<Lease<Res>> w : ws) {
            got.add(w.get(WAIT_S, TimeUnit.SECONDS));
        }
        got.add(async.get(WAIT_S, TimeUnit.SECONDS));
        assertEquals(0, pool.stats().waiting());
        assertEquals(5, pool.stats().size());
        assertNull(pool.tryBorrow(), "more than 5 lent");
        for (Lease<Res> l : got) {
            l.close();
        }
        held.close();
        assertThrows(IllegalArgumentException.class, () -> pool.setMaxSize(0));
        pool.close();
        assertThrows(ClosedException.class, () -> pool.setMaxSize(2));
        Pool<Res> unb = builder().maxSize(0).build();
        assertThrows(IllegalStateException.class, () -> unb.setMaxSize(2));
    }

    // ================================================================== errors from user code

    @Test
    @Timeout(30)
    void poolFactoryError_borrowerGetsItAndPoolWholeAfter() throws Exception {
        AtomicBoolean armed = new AtomicBoolean(true);
        Error boom = new Error("factory boom");
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(2).build();
        Error e = assertThrows(Error.class, pool::borrow);
        assertSame(boom, e);
        assertEquals(1, pool.stats().failedCreations());
        assertEquals(0, pool.stats().size());
        assertWholePoolBorrowable(pool, 2, "after a factory Error");
    }

    @Test
    @Timeout(30)
    void poolFactoryError_forWaiterOnPermit_nextWaiterNotLost() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("factory boom");
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> w1 = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> w2 = TestThreads.fork(
                () -> pool.borrow(Duration.ofSeconds(10)));
        awaitWaiting(pool, 2);
        armed.set(true);
        held.invalidate();
        Object got1 = outcome(w1);
        assertSame(boom, got1, "first waiter: " + got1);
        Object got2 = outcome(w2);
        assertInstanceOf(Lease.class, got2, "second waiter lost after the first's factory Error: "
                + got2 + " " + pool.stats());
        ((Lease<?>) got2).close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolFactoryError_forAsyncWaiter_failsFutureWithIt() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("factory boom");
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
        armed.set(true);
        held.invalidate();
        Object got = outcome(f);
        assertSame(boom, got, "async waiter: " + got);
        Object got2 = outcome(f2);
        assertInstanceOf(Lease.class, got2, "second async waiter lost: " + got2);
        ((Lease<?>) got2).close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolValidatorError_borrowerGetsItSlotFreed() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("validator boom");
        Pool<Res> pool = builder().maxSize(2).validate(r -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
            return true;
        }).build();
        Lease<Res> l = pool.borrow();
        Res r = l.get();
        l.close();
        armed.set(true);
        Error e = assertThrows(Error.class, pool::borrow);
        assertSame(boom, e);
        PoolStats s = pool.stats();
        assertEquals(s.created() - s.destroyed(), s.size(), s.toString());
        assertTrue(r.closed.get() || s.idle() == 1, "object neither destroyed nor idle: " + s);
        assertWholePoolBorrowable(pool, 2, "after a validator Error");
    }

    @Test
    @Timeout(30)
    void poolValidatorError_onHandOffToWaiter_nextWaiterNotLost() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("validator boom");
        Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
            return true;
        }).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> w1 = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> w2 = TestThreads.fork(
                () -> pool.borrow(Duration.ofSeconds(10)));
        awaitWaiting(pool, 2);
        armed.set(true);
        Throwable closeErr = null;
        try {
            held.close();
        } catch (Error x) {
            closeErr = x;
        }
        Object got1 = outcome(w1);
        Object got2 = outcome(w2);
        assertTrue(got1 == boom || closeErr == boom,
                "the validator Error reached nobody: w1=" + got1 + " close=" + closeErr);
        if (got1 instanceof Lease) {
            ((Lease<?>) got1).close();
        }
        assertInstanceOf(Lease.class, got2, "second waiter lost: " + got2 + " " + pool.stats());
        ((Lease<?>) got2).close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolDestroyerError_onClose_allDestroyedSuppressedAndClosed() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(3).destroy(r -> {
            int n = calls.incrementAndGet();
            factory.destroyed(r);
            throw new Error("destroy " + n);
        }).build();
        List<Lease<Res>> ls = List.of(pool.borrow(), pool.borrow(), pool.borrow());
        for (Lease<Res> l : ls) {
            l.close();
        }
        Error e = assertThrows(Error.class, pool::close);
        assertEquals(3, calls.get(), "every idle object destroyed");
        assertEquals(2, e.getSuppressed().length, "further errors suppressed: " + e);
        assertTrue(pool.isClosed());
        assertEquals(Pool.State.CLOSED, pool.state(), "slots freed all the same");
        assertTrue(pool.join(Duration.ZERO));
        pool.close(); // a second call does nothing
        assertEquals(3, calls.get());
    }

    @Test
    @Timeout(30)
    void poolDestroyerError_onInvalidate_thrownLeaseClosedSlotFreed() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("destroy boom");
        Pool<Res> pool = builder().maxSize(2).destroy(r -> {
            factory.destroyed(r);
            if (armed.getAndSet(false)) {
                throw boom;
            }
        }).build();
        Lease<Res> l = pool.borrow();
        armed.set(true);
        Error e = assertThrows(Error.class, l::invalidate);
        assertSame(boom, e);
        assertTrue(l.isClosed());
        assertEquals(0, pool.stats().size(), pool.stats().toString());
        assertWholePoolBorrowable(pool, 2, "after a destroyer Error on invalidate");
    }

    @Test
    @Timeout(30)
    void poolOnReturnError_closeThrowsAfterDestroyingSlotFreed() throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("reset boom");
        Pool<Res> pool = builder().maxSize(1).onReturn(r -> {
            if (armed.getAndSet(false)) {
                throw boom;
            }
        }).build();
        Lease<Res> l = pool.borrow();
        Res r = l.get();
        CompletableFuture<Lease<Res>> w = TestThreads.fork(pool::borrow);
        awaitWaiting(pool, 1);
        armed.set(true);
        Error e = assertThrows(Error.class, l::close);
        assertSame(boom, e);
        assertTrue(l.isClosed());
        assertTrue(r.closed.get(), "object not destroyed before the Error");
        Lease<Res> got = w.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(r, got.get());
        got.close();
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolDestroyerError_onShrink_boundHoldsAllTheSame() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(3).destroy(r -> {
            calls.incrementAndGet();
            factory.destroyed(r);
            throw new Error("destroy");
        }).build();
        List<Lease<Res>> ls = List.of(pool.borrow(), pool.borrow(), pool.borrow());
        for (Lease<Res> l : ls) {
            l.close();
        }
        assertThrows(Error.class, () -> pool.setMaxSize(1));
        assertEquals(1, pool.maxSize());
        assertTrue(pool.stats().size() <= 1, "bound does not hold after a destroyer Error: "
                + pool.stats());
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolDestroyerError_onShrinkFirstCallOnly_boundHoldsAndPoolComesBackWithin()
            throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Error boom = new Error("destroy once");
        Pool<Res> pool = builder().maxSize(3).destroy(r -> {
            factory.destroyed(r);
            if (armed.getAndSet(false)) {
                throw boom;
            }
        }).build();
        List<Lease<Res>> ls = List.of(pool.borrow(), pool.borrow(), pool.borrow());
        for (Lease<Res> l : ls) {
            l.close();
        }
        armed.set(true);
        assertSame(boom, assertThrows(Error.class, () -> pool.setMaxSize(1)));
        assertEquals(1, pool.maxSize());
        PoolStats afterShrink = pool.stats();
        // whatever happens next, a borrow and return must bring the pool within the bound
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.tryBorrow();
        if (b != null) {
            b.close();
        }
        a.close();
        PoolStats afterReturns = pool.stats();
        assertNull(b, "two objects lent at once with maxSize 1 after a destroyer Error in the"
                + " shrink; stats right after setMaxSize: " + afterShrink
                + "; after both leases came back: " + afterReturns);
        assertTrue(afterReturns.size() <= 1, "pool never comes back within the bound: "
                + afterReturns + "; right after setMaxSize: " + afterShrink);
    }

    @Test
    @Timeout(30)
    void poolSetMaxSize_shrinkRacesFactoryCall_poolComesBackWithinBound() throws Exception {
        CountDownLatch inFactory = new CountDownLatch(1);
        CountDownLatch releaseFactory = new CountDownLatch(1);
        AtomicBoolean block = new AtomicBoolean();
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (block.getAndSet(false)) {
                inFactory.countDown();
                awaitQuietly(releaseFactory);
            }
            return factory.call();
        }).name("atk").destroy(factory::destroyed).maxSize(2).build();
        Lease<Res> a = pool.borrow();
        block.set(true);
        CompletableFuture<Lease<Res>> b = TestThreads.fork(pool::borrow);
        TestThreads.await(inFactory);
        pool.setMaxSize(1);
        releaseFactory.countDown();
        Object got = outcome(b);
        if (got instanceof Lease) {
            ((Lease<?>) got).close();
        }
        a.close();
        PoolStats s = pool.stats();
        assertTrue(s.size() <= 1, "pool not back within the bound after every return: " + s);
        assertWholePoolBorrowable(pool, 1, "after");
    }

    @Test
    @Timeout(30)
    void poolBorrowTimed_timesOut_countsTimeoutAndLeavesLine() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        long t0 = System.nanoTime();
        java.util.concurrent.TimeoutException e = assertThrows(
                java.util.concurrent.TimeoutException.class,
                () -> pool.borrow(Duration.ofMillis(50)));
        long el = System.nanoTime() - t0;
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(50), "early: " + el);
        assertTrue(e.getMessage().matches(
                "atk: no object free within PT0\\.05S \\(size 1 of 1, \\d+ waiting\\)"),
                e.getMessage());
        t0 = System.nanoTime();
        assertThrows(java.util.concurrent.TimeoutException.class, () -> pool.borrow(Duration.ZERO));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1), "borrow(ZERO) waited");
        PoolStats s = pool.stats();
        assertEquals(2, s.timeouts(), s.toString());
        assertEquals(0, s.waiting(), s.toString());
        held.close();
        assertWholePoolBorrowable(pool, 1, "after timeouts");
    }

    // ================================================================== close races borrow

    @Test
    @Timeout(120)
    void poolClose_racesBorrowers_everyObjectDestroyedOnceAndJoinEnds() throws Exception {
        for (int round = 0; round < 40; round++) {
            Map<Res, Integer> destroyed = Collections.synchronizedMap(new IdentityHashMap<>());
            List<Res> made = Collections.synchronizedList(new ArrayList<>());
            Pool<Res> pool = Pool.<Res>builder(() -> {
                Res r = factory.call();
                made.add(r);
                return r;
            }).name("atk").maxSize(2).destroy(r -> destroyed.merge(r, 1, Integer::sum)).build();
            int n = 4;
            CyclicBarrier go = new CyclicBarrier(n + 1);
            CountDownLatch someBorrows = new CountDownLatch(10);
            List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());
            List<Thread> ts = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                boolean async = k == 3;
                ts.add(TestThreads.start(() -> {
                    awaitBarrier(go);
                    while (true) {
                        try {
                            Lease<Res> l = async ? pool.borrowAsync().get(WAIT_S, TimeUnit.SECONDS)
                                    : pool.borrow(Duration.ofSeconds(WAIT_S));
                            assertFalse(l.get().closed.get());
                            l.close();
                            someBorrows.countDown();
                        } catch (ClosedException e) {
                            return;
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof ClosedException)) {
                                unexpected.add(e.getCause());
                            }
                            return;
                        } catch (Throwable e) {
                            unexpected.add(e);
                            return;
                        }
                    }
                }));
            }
            awaitBarrier(go);
            TestThreads.await(someBorrows);
            pool.close();
            TestThreads.joinAll(ts);
            assertEquals(List.of(), unexpected, "round " + round);
            assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "round " + round + ": " + pool);
            assertEquals(Pool.State.CLOSED, pool.state());
            synchronized (made) {
                for (Res r : made) {
                    assertEquals(Integer.valueOf(1), destroyed.get(r),
                            "round " + round + ": " + r + " destroyed " + destroyed.get(r) + " times");
                }
            }
            assertEquals(made.size(), destroyed.size());
        }
    }

    // ================================================================== RunState.join

    @Test
    @Timeout(30)
    void runStateJoin_beforeAnyStart_waitsForFirstRunsStop() throws Exception {
        RunState rs = new RunState("rs");
        assertFalse(rs.join(Duration.ofMillis(50)), "join(50ms) in IDLE");
        rs.cancel(); // a cancel in IDLE stops nothing
        assertFalse(rs.join(Duration.ofMillis(20)), "join(20ms) in IDLE after a cancel");
        assertEquals(RunState.State.IDLE, rs.state());
        Future<Void> j = TestThreads.forkParked(() -> {
            rs.join();
            return null;
        });
        Future<Boolean> jt = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        assertFalse(j.isDone(), "join() returned in IDLE");
        assertFalse(jt.isDone(), "join(Duration) returned in IDLE");
        rs.start();
        assertEquals(RunState.State.STOPPING, rs.state(), "began cancelled");
        assertFalse(j.isDone(), "join() returned on start()");
        rs.stop();
        assertNull(outcome(j));
        assertEquals(Boolean.TRUE, outcome(jt));
    }

    @Test
    @Timeout(30)
    void runStateJoin_afterStop_returnsAtOnce() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        rs.stop();
        long t0 = System.nanoTime();
        assertTrue(rs.join(Duration.ZERO));
        assertTrue(rs.join(Duration.ofSeconds(10)));
        rs.join();
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2), "join waited in STOPPED");
        assertEquals(RunState.State.STOPPED, rs.state());
    }

    @Test
    @Timeout(60)
    void runStateJoin_stopFollowedAtOnceByStart_endsWait() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        for (int i = 0; i < 150; i++) {
            Future<Void> j = TestThreads.forkParked(() -> {
                rs.join();
                return null;
            });
            Future<Boolean> jt = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
            rs.stop();
            rs.start();
            assertNull(outcome(j), "round " + i);
            assertEquals(Boolean.TRUE, outcome(jt), "round " + i + ": join(Duration)");
            assertEquals(RunState.State.RUNNING, rs.state());
        }
        // and from IDLE: start, stop, start at once
        RunState fresh = new RunState("fresh");
        Future<Boolean> jt = TestThreads.forkParked(() -> fresh.join(Duration.ofSeconds(WAIT_S)));
        fresh.start();
        fresh.stop();
        fresh.start();
        assertEquals(Boolean.TRUE, outcome(jt), "join from IDLE after start, stop, start");
    }

    @Test
    @Timeout(30)
    void runStateJoin_whileRunning_timesOutInTimeAndStopsNothing() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        long t0 = System.nanoTime();
        assertFalse(rs.join(Duration.ofMillis(200)));
        long el = System.nanoTime() - t0;
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(200), "early: " + el);
        assertTrue(el < TimeUnit.SECONDS.toNanos(5), "late: " + el);
        assertEquals(RunState.State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
        assertThrows(IllegalArgumentException.class, () -> rs.join(Duration.ofNanos(-1)));
        assertThrows(NullPointerException.class, () -> rs.join(null));
        Future<Boolean> huge = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(Long.MAX_VALUE)));
        assertFalse(huge.isDone());
        rs.stop();
        assertEquals(Boolean.TRUE, outcome(huge));
    }

    @Test
    @Timeout(30)
    void runStateJoin_interruptedOnEntryEvenWhenStopped_throwsFlagClear() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        rs.stop();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, rs::join);
        assertEquals("rs: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> rs.join(Duration.ZERO));
        assertEquals("rs: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(RunState.State.STOPPED, rs.state());
    }

    @Test
    @Timeout(30)
    void runStateJoin_interruptedWhileParked_throwsStateUnchanged() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        AtomicBoolean flag = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                rs.join();
            } catch (InterruptedException x) {
                flag.set(Thread.currentThread().isInterrupted());
                throw x;
            }
            return null;
        });
        assertEquals("rs: interrupted in join()", e.getMessage());
        assertFalse(flag.get());
        e = TestThreads.assertInterruptedWhileParked(() -> rs.join(Duration.ofSeconds(60)));
        assertEquals("rs: interrupted in join()", e.getMessage());
        assertEquals(RunState.State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        rs.stop();
        assertEquals(Boolean.TRUE, outcome(j));
    }

    @Test
    @Timeout(30)
    void runStateJoin_stopListenerStillRunning_doesNotReturn() throws Exception {
        RunState rs = new RunState("rs");
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        rs.onStop(r -> {
            in.countDown();
            awaitQuietly(release);
        });
        rs.start();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        CompletableFuture<Void> stopper = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(in);
        assertEquals(RunState.State.STOPPED, rs.state());
        assertFalse(rs.join(Duration.ofMillis(50)), "join returned while a stop listener runs");
        assertFalse(j.isDone(), "parked join returned while a stop listener runs");
        release.countDown();
        assertNull(outcome(stopper));
        assertEquals(Boolean.TRUE, outcome(j));
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void runStateJoin_startDuringSlowStopListener_joinEndsOnceListenerReturns()
            throws Exception {
        RunState rs = new RunState("rs");
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean once = new AtomicBoolean(true);
        rs.onStop(r -> {
            if (once.getAndSet(false)) {
                in.countDown();
                awaitQuietly(release);
            }
        });
        rs.start();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        CompletableFuture<Void> stopper = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(in);
        rs.start(); // run 2 begins while run 1's stop listener runs
        assertFalse(j.isDone(), "join returned before run 1's stop listener returned");
        release.countDown();
        assertNull(outcome(stopper));
        assertEquals(Boolean.TRUE, outcome(j), "join of run 1 once its stop listener returned");
        assertEquals(RunState.State.RUNNING, rs.state());
        rs.stop();
    }

    // ================================================================== Registration

    @Test
    @Timeout(30)
    void registration_isTopLevelPublicInterface() {
        assertNull(Registration.class.getEnclosingClass(), "Registration is nested");
        assertTrue(Modifier.isPublic(Registration.class.getModifiers()));
        assertTrue(Registration.class.isInterface());
        assertTrue(AutoCloseable.class.isAssignableFrom(Registration.class));
    }

    @Test
    @Timeout(30)
    void registrationClose_twice_removesListenerIdempotently() {
        RunState rs = new RunState("reg");
        AtomicInteger starts = new AtomicInteger();
        AtomicInteger cancels = new AtomicInteger();
        AtomicInteger stops = new AtomicInteger();
        Registration a = rs.onStart(r -> starts.incrementAndGet());
        Registration b = rs.onCancel(r -> cancels.incrementAndGet());
        Registration c = rs.onStop(r -> stops.incrementAndGet());
        rs.start();
        rs.cancel();
        rs.stop();
        assertEquals(1, starts.get());
        assertEquals(1, cancels.get());
        assertEquals(1, stops.get());
        for (Registration r : List.of(a, b, c)) {
            r.close();
            r.close();
        }
        rs.start();
        rs.cancel();
        rs.stop();
        assertEquals(1, starts.get(), "start listener called after close()");
        assertEquals(1, cancels.get(), "cancel listener called after close()");
        assertEquals(1, stops.get(), "stop listener called after close()");
    }

    @Test
    @Timeout(30)
    void registration_tryWithResources_removedAtEndOfBlock() {
        RunState rs = new RunState("reg");
        AtomicInteger stops = new AtomicInteger();
        try (Registration r = rs.onStop(x -> stops.incrementAndGet())) {
            assertNotNull(r);
            rs.start();
            rs.stop();
        }
        rs.start();
        rs.stop();
        assertEquals(1, stops.get());
    }

    @Test
    @Timeout(30)
    void registration_sameListenerTwice_closingOneKeepsTheOther() {
        RunState rs = new RunState("reg");
        AtomicInteger calls = new AtomicInteger();
        Consumer<RunState> l = r -> calls.incrementAndGet();
        Registration first = rs.onStart(l);
        Registration second = rs.onStart(l);
        rs.start();
        assertEquals(2, calls.get(), "a listener registered twice runs twice");
        rs.stop();
        first.close();
        rs.start();
        assertEquals(3, calls.get(), "closing one registration removed the other too");
        rs.stop();
        second.close();
        rs.start();
        assertEquals(3, calls.get());
    }

    @Test
    @Timeout(30)
    void registrationClose_fromInsideItsOwnListener_notCalledAgain() {
        RunState rs = new RunState("reg");
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Registration> reg = new AtomicReference<>();
        reg.set(rs.onStart(r -> {
            calls.incrementAndGet();
            reg.get().close();
        }));
        rs.start();
        rs.stop();
        rs.start();
        assertEquals(1, calls.get());
    }

    @Test
    @Timeout(30)
    void registrationClose_whileListenerRunsOnAnotherThread_returnsWithoutWaiting()
            throws Exception {
        RunState rs = new RunState("reg");
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        Registration r = rs.onStart(x -> {
            calls.incrementAndGet();
            in.countDown();
            awaitQuietly(release);
        });
        CompletableFuture<Void> starter = TestThreads.fork(() -> {
            rs.start();
            return null;
        });
        TestThreads.await(in);
        CompletableFuture<Void> closer = TestThreads.fork(() -> {
            r.close();
            return null;
        });
        try {
            closer.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            release.countDown();
            fail("Registration.close() waited for a listener call under way");
        }
        release.countDown();
        assertNull(outcome(starter));
        rs.stop();
        rs.start();
        assertEquals(1, calls.get());
    }

    @Test
    @Timeout(30)
    void registrationClose_ofLaterListenerDuringTransition_calledAtMostOnceThenNever() {
        RunState rs = new RunState("reg");
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Registration> second = new AtomicReference<>();
        rs.onStart(r -> second.get().close());
        second.set(rs.onStart(r -> calls.incrementAndGet()));
        rs.start();
        assertTrue(calls.get() <= 1, "removed during a transition, called " + calls.get());
        int first = calls.get();
        rs.stop();
        rs.start();
        assertEquals(first, calls.get(), "called after its registration was closed");
        rs.stop();
    }

    @Test
    @Timeout(30)
    void registrationCancelOnShutdown_closeTwiceThenRegisterAgain() {
        RunState rs = new RunState("hooked");
        Registration r = rs.cancelOnShutdown();
        assertNotNull(r);
        r.close();
        r.close();
        assertFalse(rs.isCancelled(), "closing the hook cancelled the RunState");
        try (Registration again = rs.cancelOnShutdown(Duration.ofSeconds(1))) {
            assertNotNull(again);
        }
        Registration twice = rs.cancelOnShutdown();
        Registration thrice = rs.cancelOnShutdown();
        twice.close();
        thrice.close();
        assertThrows(IllegalArgumentException.class, () -> rs.cancelOnShutdown(Duration.ofSeconds(-1)));
        assertEquals(RunState.State.IDLE, rs.state());
    }

    // ================================================================== listener order

    @Test
    @Timeout(30)
    void runStateListener_twoThreadsStartAtOnce_callsNeverOverlapAndKeepOrder() throws Exception {
        RunState rs = new RunState("ord");
        AtomicInteger depth = new AtomicInteger();
        AtomicInteger maxDepth = new AtomicInteger();
        AtomicInteger n = new AtomicInteger();
        List<String> calls = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        rs.onStart(r -> {
            maxDepth.accumulateAndGet(depth.incrementAndGet(), Math::max);
            int k = n.incrementAndGet();
            calls.add(k + ":" + Thread.currentThread().getName());
            if (k == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            }
            depth.decrementAndGet();
        });
        AtomicReference<Throwable> aThrew = new AtomicReference<>();
        Thread a = new Thread(() -> {
            try {
                rs.start();
            } catch (Throwable t) {
                aThrew.set(t);
            }
        }, "starter-A");
        a.setDaemon(true);
        a.start();
        TestThreads.await(firstIn);
        rs.stop();
        CompletableFuture<Void> second = TestThreads.fork(() -> {
            Thread.currentThread().setName("starter-B");
            rs.start();
            return null;
        });
        try {
            second.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            releaseFirst.countDown();
            fail("the second start() blocked behind the first's listener call");
        }
        assertEquals(1, maxDepth.get(), "calls to one listener overlapped: " + calls);
        assertEquals(1, n.get(), "second call ran before the first returned: " + calls);
        releaseFirst.countDown();
        TestThreads.joinAll(List.of(a));
        assertNull(aThrew.get());
        assertEquals(List.of("1:starter-A", "2:starter-A"), calls,
                "the first thread runs the second call, after its own");
        assertEquals(1, maxDepth.get());
    }

    @Test
    @Timeout(30)
    void runStateListener_secondCallThrowsErrorOnFirstThread_errorReachesFirstThread()
            throws Exception {
        RunState rs = new RunState("ord");
        AtomicInteger n = new AtomicInteger();
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        Error boom = new AssertionError("second call");
        rs.onCancel(r -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            } else {
                throw boom;
            }
        });
        rs.start();
        CompletableFuture<Void> a = TestThreads.fork(() -> {
            rs.cancel();
            return null;
        });
        TestThreads.await(firstIn);
        rs.stop();
        rs.start();
        CompletableFuture<Void> b = TestThreads.fork(() -> {
            rs.cancel();
            return null;
        });
        Object gotB;
        try {
            gotB = b.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            releaseFirst.countDown();
            throw new AssertionError("second cancel() blocked behind the first's listener");
        } catch (ExecutionException e) {
            gotB = e.getCause();
        }
        assertEquals(RunState.State.STOPPING, rs.state());
        releaseFirst.countDown();
        Object gotA = outcome(a);
        assertNull(gotB, "second thread got the Error of a call it did not run: " + gotB);
        assertSame(boom, gotA, "first thread, which ran the second call, gets its Error");
        assertEquals(2, n.get());
    }

    @Test
    @Timeout(30)
    void runStateJoin_stopWhoseListenerCallIsDelegated_waitsForThatCall() throws Exception {
        RunState rs = new RunState("ord");
        AtomicInteger n = new AtomicInteger();
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        List<Integer> done = Collections.synchronizedList(new ArrayList<>());
        rs.onStop(r -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            }
            done.add(k);
        });
        rs.start();
        CompletableFuture<Void> a = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(firstIn);
        rs.start(); // run 2
        CompletableFuture<Void> b = TestThreads.fork(() -> {
            rs.stop(); // run 2's stop; its listener call is queued behind run 1's
            return null;
        });
        try {
            b.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            releaseFirst.countDown();
            throw new AssertionError("second stop() blocked behind the first's listener");
        }
        assertEquals(RunState.State.STOPPED, rs.state());
        boolean joined = rs.join(Duration.ofMillis(50));
        List<Integer> doneAtJoin = new ArrayList<>(done);
        releaseFirst.countDown();
        assertNull(outcome(a));
        assertFalse(joined, "join(50ms) in STOPPED returned true while run 1's stop listener"
                + " was still running and run 2's (queued behind it) had not run; listener calls"
                + " finished at that moment: " + doneAtJoin);
        assertTrue(rs.join(Duration.ofSeconds(WAIT_S)));
        assertEquals(List.of(1, 2), done);
    }

    @Test
    @Timeout(30)
    void runStateListener_delegatedStopCallThrowsError_reachesFirstStopper() throws Exception {
        RunState rs = new RunState("ord");
        AtomicInteger n = new AtomicInteger();
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        Error boom = new AssertionError("second stop call");
        rs.onStop(r -> {
            if (n.incrementAndGet() == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            } else {
                throw boom;
            }
        });
        rs.start();
        CompletableFuture<Void> a = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(firstIn);
        rs.start();
        CompletableFuture<Void> b = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        Object gotB;
        try {
            gotB = b.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            releaseFirst.countDown();
            throw new AssertionError("second stop() blocked behind the first's listener");
        } catch (ExecutionException e) {
            gotB = e.getCause();
        }
        releaseFirst.countDown();
        assertNull(gotB);
        assertSame(boom, outcome(a));
        assertEquals(2, n.get());
        assertEquals(RunState.State.STOPPED, rs.state());
        assertTrue(rs.join(Duration.ofSeconds(WAIT_S)));
    }

    @Test
    @Timeout(30)
    void runStateJoinTimed_wokenByOtherTransitions_keepsWaitingTimeLeft() throws Exception {
        RunState rs = new RunState("rs");
        rs.start();
        long t0 = System.nanoTime();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofMillis(400)));
        rs.pause();
        rs.resume();
        rs.cancel();
        Object got = outcome(j);
        long el = System.nanoTime() - t0;
        assertEquals(Boolean.FALSE, got, "join returned true without a stop");
        assertTrue(el >= TimeUnit.MILLISECONDS.toNanos(400), "join gave up early: " + el);
        assertEquals(RunState.State.STOPPING, rs.state());
        rs.stop();
    }

    @Test
    @Timeout(30)
    void runStateJoin_inIdleThenRunBodyOnAnotherThread_endsWhenBodyEnds() throws Exception {
        RunState rs = new RunState("rs");
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch releaseBody = new CountDownLatch(1);
        CompletableFuture<Void> runner = TestThreads.fork(() -> {
            rs.run(() -> {
                inBody.countDown();
                awaitQuietly(releaseBody);
            });
            return null;
        });
        TestThreads.await(inBody);
        assertFalse(j.isDone(), "join returned while the body runs");
        releaseBody.countDown();
        assertNull(outcome(runner));
        assertEquals(Boolean.TRUE, outcome(j));
    }

    @Test
    @Timeout(30)
    void registrationClose_whileAnotherThreadRunsItsCall_laterTransitionNeverReachesIt()
            throws Exception {
        RunState rs = new RunState("reg");
        AtomicInteger n = new AtomicInteger();
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        Registration reg = rs.onStop(r -> {
            if (n.incrementAndGet() == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            }
        });
        rs.start();
        CompletableFuture<Void> a = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(firstIn);
        reg.close();
        rs.start();
        CompletableFuture<Void> b = TestThreads.fork(() -> {
            rs.stop(); // begins after close() returned: must never reach the listener
            return null;
        });
        try {
            b.get(5, TimeUnit.SECONDS);
        } finally {
            releaseFirst.countDown();
        }
        assertNull(outcome(a));
        assertEquals(1, n.get(), "a transition begun after Registration.close() reached the listener");
    }

    @Test
    @Timeout(30)
    void runStateJoin_parkedForRunWhoseStopListenerCallIsDelegated_waitsForThatCall()
            throws Exception {
        RunState rs = new RunState("ord");
        AtomicInteger n = new AtomicInteger();
        CountDownLatch firstIn = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        List<Integer> done = Collections.synchronizedList(new ArrayList<>());
        rs.onStop(r -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                firstIn.countDown();
                awaitQuietly(releaseFirst);
            }
            done.add(k);
        });
        rs.start();
        CompletableFuture<Void> a = TestThreads.fork(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(firstIn);
        rs.start(); // run 2
        CompletableFuture<Void> b;
        Future<Boolean> j;
        List<Integer> doneAtReturn;
        boolean returnedEarly;
        try {
            j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
            b = TestThreads.fork(() -> {
                rs.stop(); // run 2's stop listener call goes to thread a's queue
                return null;
            });
            b.get(5, TimeUnit.SECONDS);
            Object early = null;
            try {
                early = j.get(200, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                early = null;
            }
            returnedEarly = early != null;
            doneAtReturn = new ArrayList<>(done);
        } finally {
            releaseFirst.countDown();
        }
        assertNull(outcome(a));
        assertFalse(returnedEarly, "a join parked during run 2 returned after run 2's stop() but"
                + " before run 2's stop listener ran (it was queued behind run 1's, still running);"
                + " listener calls finished then: " + doneAtReturn);
        assertEquals(Boolean.TRUE, outcome(j));
        assertEquals(List.of(1, 2), done);
    }

    @Test
    @Timeout(60)
    void runStateListener_twoThreadsCycleStartStop_noOverlapAndEveryCallMade() throws Exception {
        RunState rs = new RunState("cyc");
        AtomicInteger startDepth = new AtomicInteger();
        AtomicInteger stopDepth = new AtomicInteger();
        AtomicInteger maxStartDepth = new AtomicInteger();
        AtomicInteger maxStopDepth = new AtomicInteger();
        AtomicInteger startCalls = new AtomicInteger();
        AtomicInteger stopCalls = new AtomicInteger();
        rs.onStart(r -> {
            maxStartDepth.accumulateAndGet(startDepth.incrementAndGet(), Math::max);
            startCalls.incrementAndGet();
            Thread.yield();
            startDepth.decrementAndGet();
        });
        rs.onStop(r -> {
            maxStopDepth.accumulateAndGet(stopDepth.incrementAndGet(), Math::max);
            stopCalls.incrementAndGet();
            Thread.yield();
            stopDepth.decrementAndGet();
        });
        AtomicInteger starts = new AtomicInteger();
        AtomicInteger stops = new AtomicInteger();
        CyclicBarrier go = new CyclicBarrier(2);
        List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            ts.add(TestThreads.start(() -> {
                awaitBarrier(go);
                for (int i = 0; i < 5000; i++) {
                    try {
                        rs.start();
                        starts.incrementAndGet();
                    } catch (IllegalStateException e) {
                        // the other thread's run is going
                    } catch (Throwable e) {
                        unexpected.add(e);
                    }
                    try {
                        rs.stop();
                        stops.incrementAndGet();
                    } catch (IllegalStateException e) {
                        // already stopped
                    } catch (Throwable e) {
                        unexpected.add(e);
                    }
                }
            }));
        }
        TestThreads.joinAll(ts);
        assertEquals(List.of(), unexpected);
        assertEquals(1, maxStartDepth.get(), "start listener calls overlapped");
        assertEquals(1, maxStopDepth.get(), "stop listener calls overlapped");
        assertEquals(starts.get(), startCalls.get(), "start listener calls vs successful starts");
        assertEquals(stops.get(), stopCalls.get(), "stop listener calls vs successful stops");
        assertEquals(RunState.State.STOPPED, rs.state());
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void runStateListener_firstCallThrowsWithSecondQueued_secondStillRuns() throws Exception {
        for (boolean error : new boolean[] {false, true}) {
            RunState rs = new RunState("q" + error);
            AtomicInteger n = new AtomicInteger();
            CountDownLatch firstIn = new CountDownLatch(1);
            CountDownLatch releaseFirst = new CountDownLatch(1);
            Error boom = new AssertionError("first call");
            rs.onStart(r -> {
                if (n.incrementAndGet() == 1) {
                    firstIn.countDown();
                    awaitQuietly(releaseFirst);
                    if (error) {
                        throw boom;
                    }
                    throw new IllegalStateException("first call (runtime)");
                }
            });
            CompletableFuture<Void> a = TestThreads.fork(() -> {
                rs.start();
                return null;
            });
            TestThreads.await(firstIn);
            rs.stop();
            CompletableFuture<Void> b = TestThreads.fork(() -> {
                rs.start();
                return null;
            });
            try {
                b.get(5, TimeUnit.SECONDS);
            } finally {
                releaseFirst.countDown();
            }
            Object gotA = outcome(a);
            assertEquals(2, n.get(), "error=" + error + ": the queued call was dropped after the"
                    + " first call threw");
            if (error) {
                assertSame(boom, gotA);
            } else {
                assertNull(gotA);
            }
            assertEquals(RunState.State.RUNNING, rs.state());
        }
    }

    // ================================================================== listener failures

    @Test
    @Timeout(30)
    void runStateListener_runtimeException_loggedOthersRun() {
        RunState rs = new RunState("rte");
        List<Integer> ran = Collections.synchronizedList(new ArrayList<>());
        rs.onCancel(r -> ran.add(1));
        rs.onCancel(r -> {
            ran.add(2);
            throw new IllegalStateException("listener says no");
        });
        rs.onCancel(r -> ran.add(3));
        rs.start();
        rs.cancel();
        assertEquals(List.of(1, 2, 3), ran);
        assertEquals(RunState.State.STOPPING, rs.state());
        rs.stop();
    }

    @Test
    @Timeout(30)
    void runStateListener_errorsInStop_rethrownAfterTransitionLaterListenersRun()
            throws Exception {
        RunState rs = new RunState("err");
        Error first = new AssertionError("first");
        Error second = new OutOfMemoryError("second (fake)");
        AtomicInteger third = new AtomicInteger();
        rs.onStop(r -> {
            throw first;
        });
        rs.onStop(r -> {
            throw second;
        });
        rs.onStop(r -> third.incrementAndGet());
        rs.start();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        Error e = assertThrows(Error.class, rs::stop);
        assertSame(first, e);
        assertEquals(1, e.getSuppressed().length);
        assertSame(second, e.getSuppressed()[0]);
        assertEquals(1, third.get(), "later listener skipped");
        assertEquals(RunState.State.STOPPED, rs.state());
        assertTrue(rs.stopTime().isPresent());
        assertEquals(Boolean.TRUE, outcome(j), "join not woken by a stop whose listener threw");
        assertTrue(rs.join(Duration.ZERO));
        rs.start(); // consistent: may start again
        assertEquals(RunState.State.RUNNING, rs.state());
        assertThrows(AssertionError.class, rs::stop);
        assertEquals(2, third.get());
    }

    @Test
    @Timeout(30)
    void runStateListener_errorInStartAndCancel_stateConsistentWaitersWoken() throws Exception {
        RunState rs = new RunState("err");
        Error boom = new AssertionError("start");
        AtomicInteger later = new AtomicInteger();
        Registration r1 = rs.onStart(r -> {
            throw boom;
        });
        rs.onStart(r -> later.incrementAndGet());
        assertSame(boom, assertThrows(Error.class, rs::start));
        assertEquals(RunState.State.RUNNING, rs.state());
        assertEquals(1, later.get());
        r1.close();

        RunState child = rs.child("kid");
        Error cboom = new AssertionError("cancel");
        AtomicInteger laterCancel = new AtomicInteger();
        rs.onCancel(r -> {
            throw cboom;
        });
        rs.onCancel(r -> laterCancel.incrementAndGet());
        Future<Boolean> sleeper = TestThreads.forkParked(() -> rs.sleep(Duration.ofSeconds(60)));
        assertSame(cboom, assertThrows(Error.class, rs::cancel));
        assertEquals(RunState.State.STOPPING, rs.state());
        assertEquals(1, laterCancel.get());
        assertTrue(child.isCancelled(), "child not cancelled");
        assertEquals(Boolean.FALSE, outcome(sleeper), "sleeper not woken");
        rs.stop();
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void runStateRun_startListenerError_bodySkippedRunStopped() {
        RunState rs = new RunState("err");
        Error boom = new AssertionError("start");
        rs.onStart(r -> {
            throw boom;
        });
        AtomicBoolean ran = new AtomicBoolean();
        assertSame(boom, assertThrows(Error.class, () -> rs.run(() -> ran.set(true))));
        assertFalse(ran.get());
        assertEquals(RunState.State.STOPPED, rs.state());
        assertTrue(rs.isCancelled());
    }

    // ================================================================== listeners transition

    @Test
    @Timeout(30)
    void runStateListener_startListenerCancels_stateStoppingCancelListenersOnce() {
        RunState rs = new RunState("self");
        AtomicInteger cancels = new AtomicInteger();
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.onStart(RunState::cancel);
        rs.start();
        assertEquals(RunState.State.STOPPING, rs.state());
        assertTrue(rs.isCancelled());
        assertEquals(1, cancels.get());
        rs.stop();
    }

    @Test
    @Timeout(30)
    void runStateListener_startListenerRestartsOwnRun_nestedCallDeferredNotOverlapping() {
        RunState rs = new RunState("self");
        AtomicInteger depth = new AtomicInteger();
        AtomicInteger maxDepth = new AtomicInteger();
        AtomicInteger calls = new AtomicInteger();
        List<String> states = Collections.synchronizedList(new ArrayList<>());
        rs.onStart(r -> {
            maxDepth.accumulateAndGet(depth.incrementAndGet(), Math::max);
            int k = calls.incrementAndGet();
            states.add(k + ":" + r.state());
            if (k == 1) {
                r.stop();
                r.start();
                states.add("nested start returned, calls=" + calls.get());
            }
            depth.decrementAndGet();
        });
        rs.start();
        assertEquals(2, calls.get(), states.toString());
        assertEquals(1, maxDepth.get(), "calls to one listener overlapped (nested): " + states);
        assertEquals(RunState.State.RUNNING, rs.state());
        rs.stop();
    }

    @Test
    @Timeout(30)
    void runStateListener_stopListenerStartsAgain_joinEndsStateRunning() throws Exception {
        RunState rs = new RunState("self");
        AtomicBoolean once = new AtomicBoolean(true);
        rs.onStop(r -> {
            if (once.getAndSet(false)) {
                r.start();
            }
        });
        rs.start();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        rs.stop();
        assertEquals(RunState.State.RUNNING, rs.state());
        assertEquals(Boolean.TRUE, outcome(j), "join of run 1 after its stop listener returned");
        rs.stop();
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    @Timeout(30)
    void runStateListener_cancelListenerStops_joinEnds() throws Exception {
        RunState rs = new RunState("self");
        rs.onCancel(RunState::stop);
        rs.start();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        rs.cancel();
        assertEquals(RunState.State.STOPPED, rs.state());
        assertEquals(Boolean.TRUE, outcome(j));
    }

    @Test
    @Timeout(30)
    void runStateListener_addedDuringTransition_notCalledForIt() {
        RunState rs = new RunState("add");
        AtomicInteger lateCalls = new AtomicInteger();
        AtomicBoolean once = new AtomicBoolean(true);
        rs.onStart(r -> {
            if (once.getAndSet(false)) {
                r.onStart(x -> lateCalls.incrementAndGet());
            }
        });
        rs.start();
        assertEquals(0, lateCalls.get(), "listener added during a start called for it");
        rs.stop();
        rs.start();
        assertEquals(1, lateCalls.get());
        rs.stop();
    }

    @Test
    @Timeout(30)
    void runStateQueries_whileListenerBlocksOnAnotherThread_neverBlock() throws Exception {
        RunState rs = new RunState("q");
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        rs.onStart(r -> {
            in.countDown();
            awaitQuietly(release);
        });
        CompletableFuture<Void> starter = TestThreads.fork(() -> {
            rs.start();
            return null;
        });
        TestThreads.await(in);
        CompletableFuture<String> q = TestThreads.fork(() -> rs.toString() + rs.state()
                + rs.isCancelled() + rs.runTime() + rs.join(Duration.ZERO));
        try {
            String got = q.get(5, TimeUnit.SECONDS);
            assertTrue(got.startsWith("RunState[q]{RUNNING, cancelled=false"), got);
        } finally {
            release.countDown();
        }
        assertNull(outcome(starter));
        rs.pause();
        Future<Boolean> j = TestThreads.forkParked(() -> rs.join(Duration.ofSeconds(WAIT_S)));
        rs.stop(); // from PAUSED
        assertEquals(Boolean.TRUE, outcome(j));
    }

    // ================================================================== toString, cancel, cycles

    @Test
    @Timeout(30)
    void runStateToString_eachState_matchesDocumentedForm() {
        FakeTicker t = new FakeTicker();
        RunState rs = RunState.builder("ts").ticker(t).build();
        assertEquals("RunState[ts]{IDLE, cancelled=false, runTime=PT0S}", rs.toString());
        rs.start();
        t.advance(Duration.ofMillis(200));
        assertEquals("RunState[ts]{RUNNING, cancelled=false, runTime=PT0.2S}", rs.toString());
        rs.pause();
        assertEquals("RunState[ts]{PAUSED, cancelled=false, runTime=PT0.2S}", rs.toString());
        rs.resume();
        rs.cancel();
        assertEquals("RunState[ts]{STOPPING, cancelled=true, runTime=PT0.2S}", rs.toString());
        rs.stop();
        t.advance(Duration.ofSeconds(1));
        assertEquals("RunState[ts]{STOPPED, cancelled=true, runTime=PT0.2S}", rs.toString());
        RunState other = RunState.builder("o").ticker(t).build();
        other.cancel();
        assertEquals("RunState[o]{IDLE, cancelled=true, runTime=PT0S}", other.toString());
        assertTrue(new RunState().toString().startsWith("RunState[runstate-"));
    }

    @Test
    @Timeout(30)
    void runStateCancelBeforeStart_startBeginsCancelledListenersNotRepeated() throws Exception {
        RunState rs = new RunState("early");
        AtomicInteger cancels = new AtomicInteger();
        List<RunState.State> seenAtStart = Collections.synchronizedList(new ArrayList<>());
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.onStart(r -> seenAtStart.add(r.state()));
        rs.cancel();
        rs.cancel();
        assertEquals(1, cancels.get());
        assertTrue(rs.isCancelled());
        rs.start();
        assertEquals(RunState.State.STOPPING, rs.state());
        assertEquals(List.of(RunState.State.STOPPING), seenAtStart);
        assertEquals(1, cancels.get(), "start re-ran the cancel listeners");
        long t0 = System.nanoTime();
        assertFalse(rs.sleep(Duration.ofSeconds(30)));
        assertTrue(rs.awaitCancellation(Duration.ofSeconds(30)));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
        rs.stop();
        rs.start();
        assertEquals(RunState.State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
        rs.cancel();
        rs.stop();
        rs.cancel(); // a new cancel, for the next run
        assertEquals(3, cancels.get());
        rs.start();
        assertEquals(RunState.State.STOPPING, rs.state());
        rs.stop();
    }

    @Test
    @Timeout(60)
    void runStateCycles_manyStartStopWithChild_countsAndStatesHold() throws Exception {
        RunState p = new RunState("p");
        RunState c = p.child("c");
        AtomicInteger childCancels = new AtomicInteger();
        AtomicInteger childStarts = new AtomicInteger();
        AtomicInteger childStops = new AtomicInteger();
        c.onCancel(r -> childCancels.incrementAndGet());
        c.onStart(r -> childStarts.incrementAndGet());
        c.onStop(r -> childStops.incrementAndGet());
        int rounds = 300;
        int expectedStarts = 0;
        for (int i = 0; i < rounds; i++) {
            String at = "round " + i;
            p.start();
            c.start();
            expectedStarts++;
            assertEquals(RunState.State.RUNNING, c.state(), at);
            assertFalse(c.isCancelled(), at);
            Future<Boolean> j = i % 15 == 0
                    ? TestThreads.forkParked(() -> c.join(Duration.ofSeconds(WAIT_S))) : null;
            if (i % 2 == 0) {
                p.cancel();
                assertEquals(RunState.State.STOPPING, c.state(), at);
                assertTrue(c.isCancelled(), at);
                c.stop();
                if (j != null) {
                    assertEquals(Boolean.TRUE, outcome(j), at);
                }
                c.start();
                assertEquals(RunState.State.STOPPING, c.state(),
                        at + ": child run begins cancelled while the parent is");
                expectedStarts++;
            } else if (j != null) {
                c.stop();
                assertEquals(Boolean.TRUE, outcome(j), at);
                c.start();
                expectedStarts++;
            }
            c.stop();
            p.stop();
            assertEquals(RunState.State.STOPPED, c.state(), at);
            assertEquals(RunState.State.STOPPED, p.state(), at);
        }
        assertEquals(rounds / 2, childCancels.get(), "child cancel listener calls");
        assertEquals(expectedStarts, childStarts.get());
        assertEquals(childStarts.get(), childStops.get());
        p.start();
        c.start();
        assertEquals(RunState.State.RUNNING, c.state());
        assertFalse(c.isCancelled());
        c.stop();
        p.stop();
    }
}
