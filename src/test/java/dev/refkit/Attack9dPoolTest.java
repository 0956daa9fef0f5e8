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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile black-box tests of {@link Pool} after PoolCore came to extend PoolLine and a bounded
 * pool's hint path came to use the slot's own transition: idle counts of unbounded pools,
 * resizing, close, cancellation, double closes, throwing hooks, interrupts and stats, from the
 * public Javadoc and docs/pool.md alone.
 */
@Timeout(60)
final class Attack9dPoolTest {
    private final Factory factory = new Factory();
    /** Every object the factory made, in order. */
    private final ConcurrentLinkedQueue<Res> made = new ConcurrentLinkedQueue<>();

    private Pool.Builder<Res> builder() {
        return Pool.<Res>builder(() -> {
            Res r = factory.call();
            made.add(r);
            return r;
        }).name("atk").destroy(factory::destroyed);
    }

    // ------------------------------------------------------------------ helpers

    private static void awaitBarrier(CyclicBarrier b) {
        try {
            b.await(WAIT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void awaitWaiting(Pool<?> pool, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (pool.stats().waiting() != n) {
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

    /** Asserts size and idle of a quiet pool, and that they agree with the objects alive. */
    private void assertQuiet(Pool<Res> pool, int size, int idle, String when) {
        PoolStats s = pool.stats();
        assertEquals(size, s.size(), when + ": size " + s);
        assertEquals(idle, s.idle(), when + ": idle " + s);
        assertEquals(0, s.waiting(), when + ": waiting " + s);
        assertEquals(factory.alive.get(), s.size(), when + ": objects alive vs size " + s);
        assertEquals(s.created() - s.destroyed(), s.size(), when + ": created - destroyed " + s);
    }

    /** Borrows maxSize objects at once without waiting, then checks the pool is full. */
    private static void assertLendsExactly(Pool<Res> pool, int max, String when) {
        List<Lease<Res>> all = new ArrayList<>();
        try {
            for (int i = 0; i < max; i++) {
                Lease<Res> l = pool.tryBorrow();
                assertNotNull(l, when + ": only " + i + " of " + max + " lendable: " + pool.stats());
                all.add(l);
            }
            assertNull(pool.tryBorrow(), when + ": more than " + max + " lent: " + pool.stats());
        } finally {
            for (Lease<Res> l : all) {
                l.close();
            }
        }
    }

    private void assertEachDestroyedOnce(String when) {
        for (Res r : made) {
            assertEquals(1, r.closes.get(), when + ": " + r + " destroyed " + r.closes.get() + " times");
        }
    }

    // ================================================================== unbounded, maxIdle

    /** An unbounded pool keeps at most maxIdle returned objects and destroys the rest. */
    @Test
    void unboundedReturn_beyondMaxIdle_destroysExtrasAndCountsIdle() {
        Pool<Res> pool = builder().maxSize(0).maxIdle(2).build();
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            out.add(pool.tryBorrow());
        }
        assertQuiet(pool, 5, 0, "five lent");
        for (Lease<Res> l : out) {
            l.close();
        }
        assertQuiet(pool, 2, 2, "five returned, maxIdle 2");
        assertEquals(3, pool.stats().destroyed());
        assertEquals("Pool[atk]{OPEN, idle=2, lent=0, waiting=0}", pool.toString());
        pool.close();
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEachDestroyedOnce("after close");
    }

    /** Borrowing back the same object through the hint path keeps an unbounded pool's idle count exact. */
    @Test
    void unboundedHintPath_manyCyclesOneThread_idleCountStaysOne() {
        Pool<Res> pool = builder().maxSize(0).maxIdle(3).build();
        for (int i = 0; i < 1000; i++) {
            try (Lease<Res> l = pool.tryBorrow()) {
                assertNotNull(l);
                PoolStats s = pool.stats();
                assertEquals(0, s.idle(), "cycle " + i + ": idle while the only object is lent " + s);
                assertEquals(1, s.lent(), "cycle " + i + ": lent " + s);
            }
        }
        assertQuiet(pool, 1, 1, "after 1000 cycles");
        assertEquals(1, pool.stats().created(), "hint path made new objects");
        // Now the count must still let three idle objects stay, and destroy the fourth.
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(pool.tryBorrow());
        }
        assertQuiet(pool, 4, 0, "four lent");
        out.forEach(Lease::close);
        assertQuiet(pool, 3, 3, "four returned, maxIdle 3");
    }

    /** One thread returns, another takes the object by scanning; the first thread's hint then misses. */
    @Test
    void unboundedScanAfterHint_otherThreadTakesObject_idleCountExact() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).build();
        Lease<Res> first = pool.borrow();
        Res r = first.get();
        first.close(); // hint of this thread now points at r
        assertQuiet(pool, 1, 1, "returned");
        Lease<Res> other = TestThreads.fork(pool::borrow).get(WAIT_S, TimeUnit.SECONDS);
        assertSame(r, other.get(), "other thread did not find the idle object");
        assertQuiet(pool, 1, 0, "taken by another thread");
        Lease<Res> mine = pool.borrow(); // hint misses: must make a new one
        assertNotSame(r, mine.get(), "one object lent twice");
        assertQuiet(pool, 2, 0, "two lent");
        other.close();
        mine.close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
    }

    /** With maxIdle(0) an unbounded pool destroys every returned object. */
    @Test
    void unboundedReturn_maxIdleZero_destroysEveryObject() {
        Pool<Res> pool = builder().maxSize(0).maxIdle(0).build();
        for (int i = 0; i < 10; i++) {
            Lease<Res> l = pool.tryBorrow();
            Res r = l.get();
            l.close();
            assertTrue(r.closed.get(), "cycle " + i + ": returned object kept with maxIdle 0");
            assertQuiet(pool, 0, 0, "cycle " + i);
        }
        assertEquals(10, pool.stats().created());
    }

    /** Many threads cycling an unbounded pool leave idle == size <= maxIdle and every object accounted. */
    @Test
    void unboundedManyThreads_manyCycles_idleCountRightAtRest() throws Exception {
        int threads = 6;
        int maxIdle = 3;
        Pool<Res> pool = builder().maxSize(0).maxIdle(maxIdle).build();
        CyclicBarrier start = new CyclicBarrier(threads);
        AtomicReference<Throwable> bad = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(TestThreads.start(() -> {
                awaitBarrier(start);
                try {
                    for (int i = 0; i < 5000; i++) {
                        Lease<Res> a = pool.borrow();
                        if (!a.get().inUse.compareAndSet(false, true)) {
                            bad.compareAndSet(null, new AssertionError(a.get() + " lent twice"));
                        }
                        Lease<Res> b = (i & 3) == 0 ? pool.borrow() : null;
                        a.get().inUse.set(false);
                        a.close();
                        if (b != null) {
                            b.close();
                        }
                        PoolStats s = pool.stats();
                        if (s.idle() > maxIdle || s.idle() < 0) {
                            bad.compareAndSet(null, new AssertionError("idle out of range: " + s));
                        }
                    }
                } catch (Throwable e) {
                    bad.compareAndSet(null, e);
                }
            }));
        }
        TestThreads.joinAll(ts);
        if (bad.get() != null) {
            throw new AssertionError(bad.get());
        }
        PoolStats s = pool.stats();
        assertEquals(s.size(), s.idle(), "at rest every object idle: " + s);
        assertTrue(s.idle() <= maxIdle, "more idle than maxIdle: " + s);
        assertEquals(threads * 5000L * 5 / 4, s.borrows(), "borrows counted: " + s);
        assertQuiet(pool, s.size(), s.idle(), "at rest");
        // The count must be exact: lending maxIdle+1 and returning them keeps exactly maxIdle.
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i <= maxIdle; i++) {
            out.add(pool.tryBorrow());
        }
        assertEquals(0, pool.stats().idle(), "idle after lending all: " + pool.stats());
        out.forEach(Lease::close);
        assertQuiet(pool, maxIdle, maxIdle, "after refill");
        pool.close();
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEachDestroyedOnce("after close");
    }

    /** A validator refusing the hint-path object in an unbounded pool lowers the idle count with it. */
    @Test
    void unboundedValidateFails_onHintPath_idleCountLowered() {
        AtomicBoolean ok = new AtomicBoolean(true);
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).validate(r -> ok.get()).build();
        Lease<Res> l = pool.tryBorrow();
        Res first = l.get();
        l.close();
        assertQuiet(pool, 1, 1, "returned");
        ok.set(false);
        Lease<Res> l2 = pool.tryBorrow();
        assertNotSame(first, l2.get(), "refused object lent");
        assertTrue(first.closed.get(), "refused object not destroyed");
        assertQuiet(pool, 1, 0, "new one lent");
        ok.set(true);
        Lease<Res> l3 = pool.tryBorrow();
        l2.close();
        l3.close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
    }

    /** A validator throwing an Error in an unbounded pool frees the object and keeps the idle count right. */
    @Test
    void unboundedValidateThrowsError_onHintPath_idleCountLowered() {
        AtomicBoolean boom = new AtomicBoolean();
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).validate(r -> {
            if (boom.get()) {
                throw new AssertionError("validator Error");
            }
            return true;
        }).build();
        pool.tryBorrow().close();
        assertQuiet(pool, 1, 1, "returned");
        boom.set(true);
        Error e = assertThrows(Error.class, pool::tryBorrow);
        assertEquals("validator Error", e.getMessage());
        boom.set(false);
        assertQuiet(pool, 0, 0, "after the validator Error");
        Lease<Res> a = pool.tryBorrow();
        Lease<Res> b = pool.tryBorrow();
        assertQuiet(pool, 2, 0, "two lent");
        a.close();
        b.close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
    }

    /** An object expired on an unbounded pool's hint path is destroyed and uncounted. */
    @Test
    void unboundedExpired_onHintPath_destroyedAndUncounted() {
        FakeTicker ticker = new FakeTicker();
        Pool<Res> pool = builder().maxSize(0).maxIdle(2).ticker(ticker)
                .maxIdleTime(Duration.ofHours(1)).build();
        Lease<Res> a = pool.tryBorrow();
        Lease<Res> b = pool.tryBorrow();
        Res ra = a.get();
        Res rb = b.get();
        a.close();
        b.close();
        assertQuiet(pool, 2, 2, "returned");
        ticker.advance(Duration.ofHours(2));
        Lease<Res> c = pool.tryBorrow();
        assertNotSame(ra, c.get());
        assertNotSame(rb, c.get());
        assertTrue(ra.closed.get() && rb.closed.get(), "expired objects kept");
        assertQuiet(pool, 1, 0, "fresh one lent");
        c.close();
        assertQuiet(pool, 1, 1, "returned");
        pool.close();
    }

    /** onReturn throwing in an unbounded pool destroys the object and leaves idle right. */
    @Test
    void unboundedOnReturnThrows_runtimeAndError_objectDestroyedIdleRight() {
        AtomicReference<RuntimeException> rte = new AtomicReference<>();
        AtomicReference<Error> err = new AtomicReference<>();
        Pool<Res> pool = builder().maxSize(0).maxIdle(2).onReturn(r -> {
            if (rte.get() != null) {
                throw rte.get();
            }
            if (err.get() != null) {
                throw err.get();
            }
        }).build();
        pool.tryBorrow().close();
        assertQuiet(pool, 1, 1, "one idle");
        rte.set(new IllegalStateException("reset failed"));
        Lease<Res> l = pool.tryBorrow();
        l.close(); // logged, not thrown
        assertTrue(l.isClosed());
        assertQuiet(pool, 0, 0, "reset failed");
        rte.set(null);
        err.set(new AssertionError("reset Error"));
        Lease<Res> l2 = pool.tryBorrow();
        Error e = assertThrows(Error.class, l2::close);
        assertEquals("reset Error", e.getMessage());
        assertTrue(l2.isClosed());
        assertQuiet(pool, 0, 0, "reset Error");
        err.set(null);
        Lease<Res> x = pool.tryBorrow();
        Lease<Res> y = pool.tryBorrow();
        Lease<Res> z = pool.tryBorrow();
        x.close();
        y.close();
        z.close();
        assertQuiet(pool, 2, 2, "three returned, maxIdle 2");
    }

    /** An unbounded pool rejects setMaxSize. */
    @Test
    void setMaxSize_unbounded_throwsIllegalState() {
        Pool<Res> pool = builder().maxSize(0).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.setMaxSize(3));
        assertEquals("atk: an unbounded pool cannot be resized", e.getMessage());
        assertEquals(0, pool.maxSize());
        assertThrows(IllegalArgumentException.class, () -> pool.setMaxSize(0));
    }

    /** Closing an unbounded pool while threads cycle it destroys each object exactly once. */
    @Test
    void unboundedClose_whileThreadsCycle_eachObjectDestroyedOnce() throws Exception {
        int threads = 4;
        Pool<Res> pool = builder().maxSize(0).maxIdle(2).build();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        CountDownLatch running = new CountDownLatch(threads * 100);
        AtomicReference<Throwable> bad = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(TestThreads.start(() -> {
                awaitBarrier(start);
                try {
                    while (true) {
                        Lease<Res> l = pool.borrow();
                        assertFalse(l.get().closed.get(), "destroyed object lent");
                        l.close();
                        running.countDown();
                    }
                } catch (ClosedException expected) {
                    // the end
                } catch (Throwable e) {
                    bad.compareAndSet(null, e);
                }
            }));
        }
        awaitBarrier(start);
        TestThreads.await(running);
        pool.close();
        TestThreads.joinAll(ts);
        if (bad.get() != null) {
            throw new AssertionError(bad.get());
        }
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "join never ended: " + pool);
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEquals("Pool[atk]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
        assertEquals(0, factory.alive.get());
        assertEachDestroyedOnce("after close");
    }

    // ================================================================== bounded hint path, resize

    /** A bounded pool's hint-path borrow shows in stats as lent, and the object comes back idle. */
    @Test
    void boundedHintPath_manyCycles_statsExact() {
        Pool<Res> pool = builder().maxSize(2).build();
        for (int i = 0; i < 1000; i++) {
            try (Lease<Res> l = pool.tryBorrow()) {
                assertSame(made.peek(), l.get(), "cycle " + i + ": hint missed the only object");
                PoolStats s = pool.stats();
                assertEquals(1, s.lent(), "cycle " + i + " " + s);
                assertEquals(0, s.idle(), "cycle " + i + " " + s);
            }
        }
        assertQuiet(pool, 1, 1, "after 1000 cycles");
        assertEquals(1000, pool.stats().borrows());
        assertLendsExactly(pool, 2, "after cycles");
    }

    /** A validator Error on a bounded pool's hint path frees the slot: the pool still lends maxSize. */
    @Test
    void boundedValidateThrowsError_hintPath_noSlotLeaked() {
        AtomicInteger errors = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (errors.getAndDecrement() > 0) {
                throw new OutOfMemoryError("validator Error");
            }
            return true;
        }).build();
        for (int i = 0; i < 5; i++) {
            pool.tryBorrow().close();
            errors.set(1);
            Error e = assertThrows(OutOfMemoryError.class, pool::tryBorrow, "round " + i);
            assertEquals("validator Error", e.getMessage());
            assertQuiet(pool, 0, 0, "round " + i + " after the Error");
        }
        errors.set(0);
        assertLendsExactly(pool, 1, "after five validator Errors");
        assertEquals(5, factory.made.get() - 1, "objects made");
    }

    /** A validator RuntimeException on the hint path is logged, the object destroyed, another made. */
    @Test
    void boundedValidateThrowsRuntime_hintPath_anotherLent() {
        AtomicBoolean boom = new AtomicBoolean();
        Pool<Res> pool = builder().maxSize(2).validate(r -> {
            if (boom.get()) {
                throw new IllegalStateException("validator fails");
            }
            return true;
        }).build();
        for (int i = 0; i < 20; i++) {
            Lease<Res> a = pool.tryBorrow();
            Lease<Res> b = pool.tryBorrow();
            a.close();
            b.close();
            boom.set(true);
            Lease<Res> c = pool.tryBorrow();
            assertNotNull(c, "round " + i + ": nothing lent after failing checks " + pool.stats());
            boom.set(false);
            assertQuiet(pool, 1, 0, "round " + i);
            c.close();
        }
        assertLendsExactly(pool, 2, "after failures");
    }

    /** onReturn Error on a bounded pool: close throws once the object is destroyed; no slot leaked. */
    @Test
    void boundedOnReturnThrowsError_manyTimes_poolStillLendsMaxSize() {
        AtomicBoolean boom = new AtomicBoolean(true);
        Pool<Res> pool = builder().maxSize(2).onReturn(r -> {
            if (boom.get()) {
                throw new StackOverflowError("reset Error");
            }
        }).build();
        for (int i = 0; i < 10; i++) {
            Lease<Res> a = pool.tryBorrow();
            Lease<Res> b = pool.tryBorrow();
            assertNotNull(b, "round " + i + ": slot leaked " + pool.stats());
            assertThrows(StackOverflowError.class, a::close);
            assertThrows(StackOverflowError.class, b::close);
        }
        boom.set(false);
        assertQuiet(pool, 0, 0, "after reset Errors");
        assertLendsExactly(pool, 2, "after reset Errors");
    }

    /** A destroyer throwing RuntimeException still frees the slot. */
    @Test
    void invalidate_destroyerThrows_slotFreed() {
        AtomicInteger destroys = new AtomicInteger();
        Pool<Res> pool = Pool.<Res>builder(() -> new Res(destroys.get())).name("atk").maxSize(1)
                .destroy(r -> {
                    destroys.incrementAndGet();
                    throw new IllegalStateException("destroy fails");
                }).build();
        for (int i = 0; i < 5; i++) {
            Lease<Res> l = pool.tryBorrow();
            assertNotNull(l, "round " + i + ": slot leaked " + pool.stats());
            l.invalidate();
            assertTrue(l.isClosed());
            assertEquals(0, pool.stats().size(), pool.stats().toString());
        }
        assertEquals(5, destroys.get());
    }

    /** Growing serves a waiting thread and a waiting future at once, without any return. */
    @Test
    void setMaxSize_grow_servesThreadAndFutureWaiters() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        Future<Lease<Res>> t = TestThreads.forkParked(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 2);
        pool.setMaxSize(3);
        Lease<Res> lt = t.get(WAIT_S, TimeUnit.SECONDS);
        Lease<Res> lf = f.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(lt.get(), lf.get());
        assertQuiet(pool, 3, 0, "grown");
        assertNull(pool.tryBorrow());
        held.close();
        lt.close();
        lf.close();
        assertLendsExactly(pool, 3, "after grow");
    }

    /** Shrinking destroys idle objects now and lent ones as they come back, never more. */
    @Test
    void setMaxSize_shrinkWithLentAndIdle_destroysDownToBound() {
        Pool<Res> pool = builder().maxSize(4).build();
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(pool.tryBorrow());
        }
        out.get(0).close();
        out.get(1).close();
        assertQuiet(pool, 4, 2, "two idle");
        pool.setMaxSize(1);
        assertEquals(1, pool.maxSize());
        PoolStats s = pool.stats();
        assertEquals(2, s.size(), "idle objects not destroyed at once: " + s);
        assertEquals(0, s.idle(), s.toString());
        assertNull(pool.tryBorrow(), "lent beyond the new bound");
        out.get(2).close();
        assertQuiet(pool, 1, 0, "one returned while over the bound");
        out.get(3).close();
        assertQuiet(pool, 1, 1, "back within the bound");
        assertLendsExactly(pool, 1, "after shrink");
        pool.setMaxSize(3);
        assertLendsExactly(pool, 3, "after regrow");
    }

    /** Resizing up and down while threads borrow leaves the pool lending exactly the final bound. */
    @Test
    void setMaxSize_shrinkAndGrowWhileThreadsBorrow_endsAtBound() throws Exception {
        int threads = 5;
        Pool<Res> pool = builder().maxSize(3).build();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch borrows = new CountDownLatch(20_000);
        AtomicReference<Throwable> bad = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int me = t;
            ts.add(TestThreads.start(() -> {
                awaitBarrier(start);
                try {
                    while (!stop.get()) {
                        Lease<Res> l = (me & 1) == 0 ? pool.borrow(Duration.ofSeconds(WAIT_S))
                                : pool.borrowAsync().get(WAIT_S, TimeUnit.SECONDS);
                        Res r = l.get();
                        if (!r.inUse.compareAndSet(false, true) || r.closed.get()) {
                            bad.compareAndSet(null, new AssertionError(r + " lent twice or dead"));
                        }
                        r.inUse.set(false);
                        borrows.countDown();
                        if ((me & 2) != 0 && r.id % 7 == 0) {
                            l.invalidate();
                        } else {
                            l.close();
                        }
                    }
                } catch (Throwable e) {
                    bad.compareAndSet(null, e);
                }
            }));
        }
        awaitBarrier(start);
        int[] sizes = {1, 6, 2, 1, 5, 3, 1, 4};
        for (int round = 0; borrows.getCount() > 0 && bad.get() == null; round++) {
            pool.setMaxSize(sizes[round % sizes.length]);
        }
        pool.setMaxSize(3);
        stop.set(true);
        TestThreads.joinAll(ts);
        if (bad.get() != null) {
            throw new AssertionError(bad.get());
        }
        PoolStats s = pool.stats();
        assertTrue(s.size() <= 3, "over the bound at rest: " + s);
        assertQuiet(pool, s.size(), s.size(), "at rest");
        assertLendsExactly(pool, 3, "after resizing");
        pool.close();
        assertTrue(pool.join(Duration.ofSeconds(WAIT_S)));
        assertEachDestroyedOnce("after close");
    }

    // ================================================================== close while waiting

    /** close() wakes every waiter (threads and futures) with ClosedException; lent objects die on return. */
    @Test
    void close_whileBorrowersWait_allClosedAndEachObjectDestroyedOnce() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        List<TestThreads.Call> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            TestThreads.Call c = TestThreads.startCall(i == 1 ? () -> pool.borrow(Duration.ofSeconds(WAIT_S))
                    : pool::borrow);
            calls.add(c);
            awaitWaiting(pool, i + 1);
        }
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 4);
        Future<Void> joiner = TestThreads.forkParked(() -> {
            pool.join();
            return null;
        });
        pool.close();
        for (TestThreads.Call c : calls) {
            Throwable got = c.join();
            assertInstanceOf(ClosedException.class, got, String.valueOf(got));
            assertEquals("atk: pool closed", got.getMessage());
        }
        assertInstanceOf(ClosedException.class, outcome(f));
        assertEquals(Pool.State.CLOSING, pool.state());
        assertEquals("Pool[atk]{CLOSING, idle=0, lent=2, waiting=0}", pool.toString());
        assertFalse(joiner.isDone(), "join ended with leases out");
        assertFalse(a.get().closed.get(), "lent object destroyed under its borrower");
        a.close();
        a.close();
        assertTrue(a.isClosed());
        assertEquals(Pool.State.CLOSING, pool.state());
        b.invalidate();
        assertNull(outcome(joiner));
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEachDestroyedOnce("after join");
        assertThrows(ClosedException.class, pool::tryBorrow);
        assertThrows(ClosedException.class, pool::borrow);
        assertInstanceOf(ClosedException.class, outcome(pool.borrowAsync()));
        pool.close(); // second call does nothing
        assertEachDestroyedOnce("after second close");
    }

    // ================================================================== async cancel, fair tryBorrow

    /** A cancelled async waiter gives up its place; the returned object goes to the next waiter. */
    @Test
    void borrowAsync_cancelledWhileWaiting_objectGoesToNextWaiter() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
        CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
        awaitWaiting(pool, 2);
        assertTrue(f1.cancel(false));
        awaitWaiting(pool, 1);
        Res r = held.get();
        held.close();
        Lease<Res> got = f2.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(r, got.get());
        assertQuiet(pool, 1, 0, "next waiter served");
        got.close();
        assertQuiet(pool, 1, 1, "returned");
        assertLendsExactly(pool, 1, "after cancel");
    }

    /** Cancelling async futures racing with returns never loses or duplicates an object. */
    @Test
    void borrowAsync_cancelRacesReturn_noObjectLost() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        for (int i = 0; i < 500; i++) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f = pool.borrowAsync();
            CyclicBarrier go = new CyclicBarrier(2);
            Future<Boolean> canceller = TestThreads.fork(() -> {
                awaitBarrier(go);
                return f.cancel(false);
            });
            awaitBarrier(go);
            held.close();
            boolean cancelled = canceller.get(WAIT_S, TimeUnit.SECONDS);
            if (!cancelled) {
                f.get(WAIT_S, TimeUnit.SECONDS).close();
            }
            PoolStats s = pool.stats();
            assertEquals(0, s.waiting(), "round " + i + " " + s);
            assertEquals(1, s.idle(), "round " + i + ": object lost (cancelled=" + cancelled + ") " + s);
        }
        assertLendsExactly(pool, 1, "after cancel races");
    }

    /** With fair(true), tryBorrow returns null while borrowers wait, even as an object comes back. */
    @Test
    void tryBorrow_fairWithWaiters_returnsNullAndWaiterGetsObject() throws Exception {
        Pool<Res> pool = builder().maxSize(1).fair(true).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        Future<Lease<Res>> t = TestThreads.forkParked(pool::borrow);
        awaitWaiting(pool, 2);
        assertNull(pool.tryBorrow(), "tryBorrow overtook waiters");
        Res r = held.get();
        held.close();
        Lease<Res> lf = f.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(r, lf.get(), "oldest waiter not served first");
        assertNull(pool.tryBorrow(), "tryBorrow overtook the waiting thread");
        lf.close();
        Lease<Res> lt = t.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(r, lt.get());
        assertNull(pool.tryBorrow());
        lt.close();
        assertQuiet(pool, 1, 1, "all back");
        Lease<Res> again = pool.tryBorrow();
        assertNotNull(again, "tryBorrow refused with no waiters");
        again.close();
    }

    // ================================================================== double close

    /** Two threads closing one lease at once return the object once. */
    @Test
    void leaseClose_twoThreadsAtOnce_objectReturnedOnce() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        for (int i = 0; i < 300; i++) {
            Lease<Res> l = pool.borrow();
            CyclicBarrier go = new CyclicBarrier(2);
            boolean invalidateOther = (i & 1) == 1;
            Future<Object> other = TestThreads.fork(() -> {
                awaitBarrier(go);
                if (invalidateOther) {
                    l.invalidate();
                } else {
                    l.close();
                }
                return null;
            });
            awaitBarrier(go);
            l.close();
            outcome(other);
            assertTrue(l.isClosed());
            assertThrows(IllegalStateException.class, l::get);
            PoolStats s = pool.stats();
            assertTrue(s.size() <= 1 && s.idle() == s.size() && s.waiting() == 0, "round " + i + " " + s);
            assertEquals(factory.alive.get(), s.size(), "round " + i + " " + s);
            Lease<Res> a = pool.tryBorrow();
            assertNotNull(a, "round " + i + ": slot lost " + s);
            assertNull(pool.tryBorrow(), "round " + i + ": object returned twice");
            a.close();
        }
        for (Res r : made) {
            assertTrue(r.closes.get() <= 1, r + " destroyed twice");
        }
    }

    /** A stale lease closed after its object was lent again does not return the new borrower's object. */
    @Test
    void leaseClose_staleAfterRelend_doesNothing() {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> first = pool.tryBorrow();
        first.close();
        Lease<Res> second = pool.tryBorrow();
        assertSame(second.get(), made.peek());
        first.close();
        first.invalidate();
        assertFalse(second.isClosed());
        assertFalse(second.get().closed.get(), "stale invalidate destroyed the new borrower's object");
        assertNull(pool.tryBorrow(), "stale close returned the new borrower's object");
        assertQuiet(pool, 1, 0, "second still lent");
        second.close();
        assertQuiet(pool, 1, 1, "back");
    }

    /** invalidate destroys the object once and frees the slot. */
    @Test
    void invalidate_thenCloseAndInvalidateAgain_destroysOnceFreesSlot() {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> l = pool.tryBorrow();
        Res r = l.get();
        l.invalidate();
        l.invalidate();
        l.close();
        assertEquals(1, r.closes.get());
        assertQuiet(pool, 0, 0, "invalidated");
        Lease<Res> n = pool.tryBorrow();
        assertNotNull(n);
        assertNotSame(r, n.get());
        n.close();
    }

    // ================================================================== interrupts, timeouts

    /** Interrupted on entry: throws even with an idle object, clears the flag, lends nothing. */
    @Test
    void borrow_interruptedOnEntry_throwsFlagClearNothingLent() {
        Pool<Res> pool = builder().maxSize(1).build();
        pool.tryBorrow().close();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, pool::borrow);
        assertEquals("atk: interrupted in borrow()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag still set");
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ofSeconds(1)));
        assertEquals("atk: interrupted in borrow(Duration)", e.getMessage());
        assertFalse(Thread.interrupted(), "flag still set");
        assertQuiet(pool, 1, 1, "nothing lent");
        Thread.currentThread().interrupt();
        Lease<Res> t = pool.tryBorrow();
        assertTrue(Thread.interrupted(), "tryBorrow touched the flag");
        assertNotNull(t);
        t.close();
    }

    /** Interrupted while waiting: throws, flag clear, no place in line, the object goes to the next. */
    @Test
    void borrow_interruptedWhileWaiting_leavesLineAndHoldsNothing() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return pool.borrow(Duration.ofSeconds(WAIT_S));
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("atk: interrupted in borrow(Duration)", e.getMessage());
        assertFalse(flagAfter.get(), "flag still set after the throw");
        assertEquals(0, pool.stats().waiting(), pool.stats().toString());
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        held.close();
        Lease<Res> got = f.get(WAIT_S, TimeUnit.SECONDS);
        got.close();
        assertQuiet(pool, 1, 1, "back");
        assertLendsExactly(pool, 1, "after the interrupt");
    }

    /** A zero timeout on a full pool throws at once, with the documented message, and is counted. */
    @Test
    void borrowTimeout_zeroOnFullPool_throwsNamedAndCounted() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow(Duration.ZERO);
        TimeoutException e = assertThrows(TimeoutException.class, () -> pool.borrow(Duration.ZERO));
        assertEquals("atk: no object free within PT0S (size 1 of 1, 0 waiting)", e.getMessage());
        e = assertThrows(TimeoutException.class, () -> pool.borrow(Duration.ofMillis(20)));
        assertEquals("atk: no object free within PT0.02S (size 1 of 1, 0 waiting)", e.getMessage());
        assertEquals(2, pool.stats().timeouts());
        assertEquals(0, pool.stats().waiting());
        assertThrows(IllegalArgumentException.class, () -> pool.borrow(Duration.ofMillis(-1)));
        held.close();
        assertLendsExactly(pool, 1, "after timeouts");
        assertNotNull(pool.borrow(Duration.ofSeconds(Long.MAX_VALUE)), "huge timeout");
    }

    /** A waiter timing out while another waits behind it is counted, and the one behind is served. */
    @Test
    void borrowTimeout_firstWaiterTimesOut_secondServed() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        TestThreads.Call first = TestThreads.startCall(() -> pool.borrow(Duration.ofMillis(100)));
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> second = pool.borrowAsync();
        Throwable got = first.join();
        assertInstanceOf(TimeoutException.class, got);
        assertTrue(got.getMessage().startsWith("atk: no object free within PT0.1S (size 1 of 1, "),
                got.getMessage());
        awaitWaiting(pool, 1);
        held.close();
        second.get(WAIT_S, TimeUnit.SECONDS).close();
        assertQuiet(pool, 1, 1, "back");
        assertEquals(1, pool.stats().timeouts());
    }

    // ================================================================== stats, toString

    /** stats() and toString() agree through the life of a pool. */
    @Test
    void toStringAndStats_throughLife_matchFormat() throws Exception {
        Pool<Res> pool = builder().name("db").maxSize(2).build();
        assertEquals("Pool[db]{OPEN, idle=0, lent=0, waiting=0}", pool.toString());
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        a.close();
        assertEquals("Pool[db]{OPEN, idle=1, lent=1, waiting=0}", pool.toString());
        a = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        assertEquals("Pool[db]{OPEN, idle=0, lent=2, waiting=1}", pool.toString());
        PoolStats s = pool.stats();
        assertEquals(2, s.size());
        assertEquals(2, s.created());
        assertEquals(3, s.borrows());
        a.close();
        Lease<Res> lf = f.get(WAIT_S, TimeUnit.SECONDS);
        assertEquals(4, pool.stats().borrows());
        assertEquals("Pool[db]{OPEN, idle=0, lent=2, waiting=0}", pool.toString());
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state());
        assertTrue(pool.isClosed());
        assertEquals("Pool[db]{CLOSING, idle=0, lent=2, waiting=0}", pool.toString());
        lf.close();
        b.close();
        assertEquals("Pool[db]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
        assertEquals(2, pool.stats().destroyed());
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    /** Factory failures are counted, thrown to the borrower and free the slot. */
    @Test
    void borrow_factoryThrows_countedAndSlotFreed() {
        Pool<Res> pool = builder().maxSize(1).build();
        factory.fail = true;
        for (int i = 0; i < 3; i++) {
            IllegalStateException e = assertThrows(IllegalStateException.class, pool::tryBorrow);
            assertEquals("factory says no", e.getMessage());
        }
        factory.fail = false;
        assertEquals(3, pool.stats().failedCreations());
        assertQuiet(pool, 0, 0, "after failures");
        assertLendsExactly(pool, 1, "after factory failures");
    }

    // ================================================================== round two

    /** A factory call running when close() is called: its object is destroyed as it returns, join waits. */
    @Test
    void close_duringFactoryCall_objectDestroyedOnReturnJoinWaits() throws Exception {
        for (int maxSize : new int[] {0, 2}) {
            CountDownLatch inFactory = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger destroyed = new AtomicInteger();
            Pool<Res> pool = Pool.<Res>builder(() -> {
                inFactory.countDown();
                TestThreads.await(release);
                return new Res(1);
            }).name("atk").maxSize(maxSize).destroy(r -> destroyed.incrementAndGet()).build();
            TestThreads.Call borrower = TestThreads.startCall(pool::borrow);
            TestThreads.await(inFactory);
            pool.close();
            assertEquals(Pool.State.CLOSING, pool.state(), "maxSize " + maxSize + ": factory still running");
            assertFalse(pool.join(Duration.ZERO), "maxSize " + maxSize + ": join with a factory call running");
            release.countDown();
            Throwable got = borrower.join();
            assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "maxSize " + maxSize + ": join never ended " + pool);
            assertEquals(1, destroyed.get(), "maxSize " + maxSize + ": object of the factory call; borrower got " + got);
            assertInstanceOf(ClosedException.class, got, "maxSize " + maxSize);
            assertEquals(Pool.State.CLOSED, pool.state());
        }
    }

    /** A destroyer Error in close() is thrown after every other idle object is destroyed, and the pool closes. */
    @Test
    void close_destroyerThrowsError_othersDestroyedPoolClosed() throws Exception {
        for (int maxSize : new int[] {0, 4}) {
            AtomicInteger destroys = new AtomicInteger();
            Pool<Res> pool = Pool.<Res>builder(() -> new Res(0)).name("atk").maxSize(maxSize).maxIdle(4)
                    .destroy(r -> {
                        destroys.incrementAndGet();
                        throw new AssertionError("destroy Error " + destroys.get());
                    }).build();
            List<Lease<Res>> out = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                out.add(pool.tryBorrow());
            }
            out.forEach(Lease::close);
            assertEquals(4, pool.stats().idle(), "maxSize " + maxSize + " " + pool.stats());
            Error e = assertThrows(Error.class, pool::close);
            assertEquals("destroy Error 1", e.getMessage());
            assertEquals(3, e.getSuppressed().length, "maxSize " + maxSize + ": later Errors suppressed");
            assertEquals(4, destroys.get());
            assertEquals(Pool.State.CLOSED, pool.state(), "maxSize " + maxSize);
            assertTrue(pool.join(Duration.ZERO));
            assertEquals(0, pool.stats().size(), pool.stats().toString());
        }
    }

    /** A destroyer Error during a shrink: the shrink finishes, waiters are served, then the Error is thrown. */
    @Test
    void setMaxSize_shrinkDestroyerThrowsError_shrinkCompletesThenThrows() {
        AtomicBoolean boom = new AtomicBoolean();
        Pool<Res> pool = builder().maxSize(4).destroy(r -> {
            factory.destroyed(r);
            if (boom.get()) {
                throw new AssertionError("destroy Error");
            }
        }).build();
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(pool.tryBorrow());
        }
        out.forEach(Lease::close);
        boom.set(true);
        Error e = assertThrows(Error.class, () -> pool.setMaxSize(1));
        assertEquals("destroy Error", e.getMessage());
        assertEquals(2, e.getSuppressed().length, "later Errors suppressed");
        boom.set(false);
        assertEquals(1, pool.maxSize());
        assertQuiet(pool, 1, 1, "after the shrink");
        assertLendsExactly(pool, 1, "after the shrink");
    }

    /** Shrinking below the lent count while a thread waits: the waiter is served only once the pool fits. */
    @Test
    void setMaxSize_shrinkWithWaiter_waiterServedWhenPoolFits() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        Lease<Res> a = pool.borrow();
        Lease<Res> b = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 1);
        pool.setMaxSize(1);
        a.close(); // destroyed: the pool is over the bound
        assertFalse(f.isDone(), "waiter served while the pool is over its bound: " + pool.stats());
        assertEquals(1, pool.stats().size(), pool.stats().toString());
        Res rb = b.get();
        b.close();
        Lease<Res> got = f.get(WAIT_S, TimeUnit.SECONDS);
        assertSame(rb, got.get());
        assertNull(pool.tryBorrow());
        got.close();
        assertQuiet(pool, 1, 1, "fits");
    }

    /** Two threads resizing at once while others borrow: the last bound wins and the pool lends exactly it. */
    @Test
    void setMaxSize_twoResizersAndBorrowers_poolEndsLendingLastBound() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        CyclicBarrier start = new CyclicBarrier(6); // three borrowers, two resizers, this thread
        CountDownLatch borrows = new CountDownLatch(10_000);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> bad = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            ts.add(TestThreads.start(() -> {
                awaitBarrier(start);
                try {
                    while (!stop.get()) {
                        Lease<Res> l = pool.tryBorrow();
                        if (l == null) {
                            l = pool.borrow(Duration.ofSeconds(WAIT_S));
                        }
                        borrows.countDown();
                        l.close();
                    }
                } catch (Throwable e) {
                    bad.compareAndSet(null, e);
                }
            }));
        }
        List<Thread> resizers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            int base = t;
            resizers.add(TestThreads.start(() -> {
                awaitBarrier(start);
                try {
                    for (int i = 0; borrows.getCount() > 0; i++) {
                        pool.setMaxSize(1 + (i + base * 3) % 5);
                    }
                } catch (Throwable e) {
                    bad.compareAndSet(null, e);
                }
            }));
        }
        awaitBarrier(start);
        TestThreads.joinAll(resizers);
        pool.setMaxSize(2);
        stop.set(true);
        TestThreads.joinAll(ts);
        if (bad.get() != null) {
            throw new AssertionError(bad.get());
        }
        PoolStats s = pool.stats();
        assertTrue(s.size() <= 2, s.toString());
        assertQuiet(pool, s.size(), s.size(), "at rest");
        assertLendsExactly(pool, 2, "after concurrent resizes");
    }

    /** An unbounded pool's borrowAsync completes at once, and its idle count stays right. */
    @Test
    void unboundedBorrowAsync_completesAtOnce_idleCountRight() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).build();
        CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
        CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
        assertTrue(f1.isDone() && f2.isDone(), "unbounded borrowAsync waited");
        f1.get().close();
        f2.get().close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
        Lease<Res> l = pool.borrowAsync().get();
        assertQuiet(pool, 1, 0, "idle one lent");
        l.close();
        assertQuiet(pool, 1, 1, "back");
    }

    /** minIdle upkeep on an unbounded pool tops up idle objects, and the idle count stays exact. */
    @Test
    void unboundedMinIdle_upkeepAndCycles_idleCountExact() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(3).minIdle(2).build();
        awaitQuiet(pool, 2, 2, "topped up");
        Lease<Res> a = pool.tryBorrow();
        Lease<Res> b = pool.tryBorrow();
        awaitQuiet(pool, 4, 2, "topped up while two lent");
        a.close();
        b.close();
        assertQuiet(pool, 3, 3, "returned beyond maxIdle 3");
        for (int i = 0; i < 100; i++) {
            pool.tryBorrow().close();
        }
        pool.maintain(); // the background upkeep is idle: at least minIdle objects are idle
        assertQuiet(pool, 3, 3, "after cycles");
        pool.close();
        assertEachDestroyedOnce("after close");
    }

    /** Waits (polling) until the background upkeep has brought the pool to size and idle. */
    private void awaitQuiet(Pool<Res> pool, int size, int idle, String when) throws InterruptedException {
        PoolFixtures.eventually(() -> {
            PoolStats s = pool.stats();
            return s.size() == size && s.idle() == idle && factory.alive.get() == size;
        }, when + ": " + pool.stats() + ", alive " + factory.alive.get());
        assertQuiet(pool, size, idle, when);
    }

    /** Validators throwing from several threads at once never leak a slot of a bounded pool. */
    @Test
    void boundedValidateThrowsSometimes_manyThreads_noSlotLeaked() throws Exception {
        int max = 3;
        AtomicInteger calls = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(max).validate(r -> {
            int n = calls.incrementAndGet();
            if (n % 5 == 0) {
                throw new IllegalStateException("validator fails");
            }
            if (n % 11 == 0) {
                throw new AssertionError("validator Error");
            }
            return n % 7 != 0;
        }).onReturn(r -> {
            if (r.id % 13 == 0) {
                throw new IllegalStateException("reset fails");
            }
        }).build();
        CyclicBarrier start = new CyclicBarrier(4);
        AtomicReference<Throwable> bad = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            ts.add(TestThreads.start(() -> {
                awaitBarrier(start);
                for (int i = 0; i < 3000; i++) {
                    try {
                        Lease<Res> l = pool.borrow(Duration.ofSeconds(WAIT_S));
                        if (!l.get().inUse.compareAndSet(false, true)) {
                            bad.compareAndSet(null, new AssertionError(l.get() + " lent twice"));
                        }
                        l.get().inUse.set(false);
                        l.close();
                    } catch (AssertionError e) {
                        if (!"validator Error".equals(e.getMessage())) {
                            bad.compareAndSet(null, e);
                        }
                    } catch (Throwable e) {
                        bad.compareAndSet(null, e);
                    }
                }
            }));
        }
        TestThreads.joinAll(ts);
        if (bad.get() != null) {
            throw new AssertionError(bad.get());
        }
        PoolStats s = pool.stats();
        assertQuiet(pool, s.size(), s.size(), "at rest");
        calls.set(1); // next checks pass: 2, 3, 4
        assertLendsExactly(pool, max, "after throwing validators");
    }

    /** Fair and unfair: a waiter interrupted as the object comes back passes it on; the next waiter is served. */
    @Test
    void borrow_interruptRacesHandOff_nextWaiterServed() throws Exception {
        for (int i = 0; i < 100; i++) {
            Pool<Res> pool = builder().maxSize(1).fair((i & 1) == 0).build();
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> first = new CompletableFuture<>();
            AtomicBoolean flagAfter = new AtomicBoolean();
            Thread firstThread = TestThreads.start(() -> {
                try {
                    first.complete(pool.borrow());
                } catch (Throwable e) {
                    flagAfter.set(Thread.currentThread().isInterrupted());
                    first.completeExceptionally(e);
                }
            });
            awaitWaiting(pool, 1);
            Future<Lease<Res>> second = TestThreads.forkParked(() -> pool.borrow(Duration.ofSeconds(WAIT_S)));
            awaitWaiting(pool, 2);
            CyclicBarrier go = new CyclicBarrier(2);
            Future<Object> closer = TestThreads.fork(() -> {
                awaitBarrier(go);
                held.close();
                return null;
            });
            awaitBarrier(go);
            firstThread.interrupt();
            outcome(closer);
            Object got = outcome(first);
            if (got instanceof Lease) {
                ((Lease<?>) got).close(); // served before the interrupt: fine
            } else {
                assertInstanceOf(InterruptedException.class, got, "round " + i);
                assertFalse(flagAfter.get(), "round " + i + ": flag still set");
            }
            Lease<Res> l2 = second.get(WAIT_S, TimeUnit.SECONDS);
            l2.close();
            assertQuiet(pool, 1, 1, "round " + i);
            pool.close();
            assertTrue(pool.join(Duration.ZERO), "round " + i + ": " + pool);
        }
    }

    // ================================================================== round three

    /** The expiry sweep of an unbounded pool lowers the idle count with every object it destroys. */
    @Test
    void unboundedSweep_expiredIdle_idleCountLowered() {
        FakeTicker ticker = new FakeTicker();
        Pool<Res> pool = builder().maxSize(0).maxIdle(3).ticker(ticker)
                .maxIdleTime(Duration.ofMinutes(1)).build();
        List<Lease<Res>> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            out.add(pool.tryBorrow());
        }
        out.forEach(Lease::close);
        assertQuiet(pool, 3, 3, "three idle");
        ticker.advance(Duration.ofMinutes(2));
        pool.maintain();
        assertQuiet(pool, 0, 0, "swept");
        out.clear();
        for (int i = 0; i < 4; i++) {
            out.add(pool.tryBorrow());
        }
        assertQuiet(pool, 4, 0, "four lent after the sweep");
        out.forEach(Lease::close);
        assertQuiet(pool, 3, 3, "four returned, maxIdle 3");
        pool.close();
        assertEachDestroyedOnce("after close");
    }

    /** The expiry sweep of a bounded pool frees slots: the pool lends maxSize fresh objects after it. */
    @Test
    void boundedSweepAndHintExpiry_expired_slotsFreedFreshLent() {
        FakeTicker ticker = new FakeTicker();
        Pool<Res> pool = builder().maxSize(2).ticker(ticker).maxLifetime(Duration.ofMinutes(1)).build();
        Lease<Res> a = pool.tryBorrow();
        Lease<Res> b = pool.tryBorrow();
        Res ra = a.get();
        a.close();
        b.close();
        ticker.advance(Duration.ofMinutes(2));
        Lease<Res> c = pool.tryBorrow(); // the hint points at an expired object
        assertNotSame(ra, c.get(), "expired object lent from the hint");
        assertFalse(c.get().closed.get());
        c.close();
        ticker.advance(Duration.ofMinutes(2));
        pool.maintain();
        assertQuiet(pool, 0, 0, "swept");
        assertLendsExactly(pool, 2, "after expiry");
    }

    /** A stale hint (its object destroyed beyond maxIdle) makes the borrower scan; idle stays exact. */
    @Test
    void unboundedStaleHint_objectDestroyedByOther_scanFindsIdleCountExact() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).build();
        Lease<Res> x = pool.borrow();
        Lease<Res> z = pool.borrow();
        Res rx = x.get();
        Res rz = z.get();
        x.close(); // this thread's hint: rx
        Lease<Res> other = TestThreads.fork(pool::borrow).get(WAIT_S, TimeUnit.SECONDS);
        assertSame(rx, other.get());
        z.close(); // idle: rz
        TestThreads.fork(() -> {
            other.close(); // beyond maxIdle: rx destroyed
            return null;
        }).get(WAIT_S, TimeUnit.SECONDS);
        assertTrue(rx.closed.get() || rz.closed.get(), "nothing destroyed beyond maxIdle 1");
        assertQuiet(pool, 1, 1, "one idle");
        Lease<Res> again = pool.borrow();
        assertFalse(again.get().closed.get(), "destroyed object lent from a stale hint");
        assertQuiet(pool, 1, 0, "lent");
        Lease<Res> more = pool.borrow();
        assertQuiet(pool, 2, 0, "two lent");
        again.close();
        more.close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
    }

    /** Fair hand-off of an object that fails validation: the waiting thread gets a new object, ahead of others. */
    @Test
    void fairHandOff_validateFails_waiterGetsNewObject() throws Exception {
        AtomicBoolean ok = new AtomicBoolean(true);
        Pool<Res> pool = builder().maxSize(1).validate(r -> ok.get()).build();
        Lease<Res> held = pool.borrow();
        Res old = held.get();
        Future<Lease<Res>> t = TestThreads.forkParked(pool::borrow);
        awaitWaiting(pool, 1);
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        awaitWaiting(pool, 2);
        ok.set(false);
        held.close();
        Lease<Res> lt = t.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(old, lt.get());
        assertTrue(old.closed.get(), "refused object not destroyed");
        assertFalse(f.isDone(), "the future overtook the thread");
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), "new object lent, future waits: " + s);
        assertEquals(1, s.waiting(), "new object lent, future waits: " + s);
        Res second = lt.get();
        lt.close(); // fails validation again: the future gets a new object
        Lease<Res> lf = f.get(WAIT_S, TimeUnit.SECONDS);
        assertNotSame(second, lf.get());
        assertTrue(second.closed.get());
        ok.set(true);
        lf.close();
        assertQuiet(pool, 1, 1, "back");
        assertLendsExactly(pool, 1, "after refused hand-offs");
    }

    /** A validator Error on fair hand-off fails the waiter, frees the slot and serves the next waiter. */
    @Test
    void fairHandOff_validateThrowsError_waiterFailsNextServed() throws Exception {
        AtomicInteger errors = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (errors.getAndDecrement() > 0) {
                throw new AssertionError("validator Error");
            }
            return true;
        }).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        Future<Lease<Res>> t = TestThreads.forkParked(() -> pool.borrow(Duration.ofSeconds(WAIT_S)));
        awaitWaiting(pool, 2);
        errors.set(1);
        try {
            held.close();
        } catch (AssertionError e) {
            assertEquals("validator Error", e.getMessage(), "returner got another Error");
        }
        Object of = outcome(f);
        Lease<Res> lt = t.get(WAIT_S, TimeUnit.SECONDS);
        assertNotNull(lt.get(), "next waiter not served after the Error; future: " + of);
        if (of instanceof Lease) {
            fail("validator threw, yet the future got " + of + " and the thread got " + lt.get());
        }
        assertInstanceOf(AssertionError.class, of, String.valueOf(of));
        lt.close();
        assertQuiet(pool, 1, 1, "back");
        assertLendsExactly(pool, 1, "after the hand-off Error");
    }

    /** A validator Error on fair hand-off to a waiting thread is thrown to that thread; nothing leaks. */
    @Test
    void fairHandOff_validateThrowsErrorToThread_threadFailsSlotFree() throws Exception {
        AtomicInteger errors = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (errors.getAndDecrement() > 0) {
                throw new AssertionError("validator Error");
            }
            return true;
        }).build();
        Lease<Res> held = pool.borrow();
        TestThreads.Call waiter = TestThreads.startCall(pool::borrow);
        awaitWaiting(pool, 1);
        errors.set(1);
        Throwable onClose = null;
        try {
            held.close();
        } catch (AssertionError e) {
            onClose = e;
        }
        Throwable got = waiter.join();
        assertTrue(got instanceof AssertionError || onClose != null,
                "validator Error swallowed: waiter " + got + ", close " + onClose);
        assertEquals(0, pool.stats().waiting(), pool.stats().toString());
        assertLendsExactly(pool, 1, "after the hand-off Error");
    }

    /** orTimeout on a waiting future gives up its place; the next return goes to the next waiter or stays idle. */
    @Test
    void borrowAsync_orTimeout_givesUpPlace() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync().orTimeout(10, TimeUnit.MILLISECONDS);
        assertInstanceOf(TimeoutException.class, outcome(f));
        awaitWaiting(pool, 0);
        held.close();
        assertQuiet(pool, 1, 1, "object idle, not given to the timed-out future");
        assertLendsExactly(pool, 1, "after orTimeout");
    }

    /** A timed borrow timing out as the object comes back never loses the object. */
    @Test
    void borrowTimeout_racesHandOff_objectNeverLost() throws Exception {
        for (int i = 0; i < 300; i++) {
            Pool<Res> pool = builder().maxSize(1).fair((i & 1) == 0).build();
            Lease<Res> held = pool.borrow();
            CyclicBarrier go = new CyclicBarrier(2);
            CompletableFuture<Object> waiter = TestThreads.fork(() -> {
                awaitBarrier(go);
                try {
                    Lease<Res> l = pool.borrow(Duration.ofNanos(50_000));
                    l.close();
                    return "served";
                } catch (TimeoutException e) {
                    return "timeout";
                }
            });
            awaitBarrier(go);
            held.close();
            Object got = outcome(waiter);
            assertTrue("served".equals(got) || "timeout".equals(got), "round " + i + ": " + got);
            assertQuiet(pool, 1, 1, "round " + i + " (" + got + ")");
            assertLendsExactly(pool, 1, "round " + i + " (" + got + ")");
            pool.close();
            assertTrue(pool.join(Duration.ZERO), "round " + i + ": " + pool);
        }
    }

    /** close() racing returns and waiters of a bounded pool: each object destroyed once, join ends. */
    @Test
    void close_racesReturnsAndWaiters_eachObjectDestroyedOnceJoinEnds() throws Exception {
        for (int round = 0; round < 20; round++) {
            made.clear();
            Pool<Res> pool = builder().maxSize(2).build();
            int threads = 6;
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            CountDownLatch busy = new CountDownLatch(threads * 50);
            AtomicReference<Throwable> bad = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts.add(TestThreads.start(() -> {
                    awaitBarrier(start);
                    try {
                        while (true) {
                            Lease<Res> l = (me % 3) == 0 ? pool.borrowAsync().get(WAIT_S, TimeUnit.SECONDS)
                                    : pool.borrow();
                            if (l.get().closed.get()) {
                                bad.compareAndSet(null, new AssertionError("destroyed object lent"));
                            }
                            busy.countDown();
                            if (me == 1) {
                                l.invalidate();
                            } else {
                                l.close();
                            }
                        }
                    } catch (ClosedException expected) {
                        // the end
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof ClosedException)) {
                            bad.compareAndSet(null, e);
                        }
                    } catch (Throwable e) {
                        bad.compareAndSet(null, e);
                    }
                }));
            }
            awaitBarrier(start);
            TestThreads.await(busy);
            pool.close();
            TestThreads.joinAll(ts);
            if (bad.get() != null) {
                throw new AssertionError("round " + round, bad.get());
            }
            assertTrue(pool.join(Duration.ofSeconds(WAIT_S)), "round " + round + ": join never ended " + pool);
            assertEquals("Pool[atk]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
            assertEachDestroyedOnce("round " + round);
            assertEquals(0, factory.alive.get(), "round " + round);
        }
    }

    // ================================================================== round four

    /** Factory failures of every kind free the slot, bounded and unbounded, and are counted. */
    @Test
    void borrow_factoryThrowsErrorCheckedOrNull_slotFreedCounted() {
        for (int maxSize : new int[] {0, 1}) {
            AtomicInteger mode = new AtomicInteger();
            Pool<Res> pool = Pool.<Res>builder(() -> {
                switch (mode.get()) {
                    case 1: throw new AssertionError("factory Error");
                    case 2: throw new java.io.IOException("factory checked");
                    case 3: return null;
                    default: return new Res(0);
                }
            }).name("atk").maxSize(maxSize).maxIdle(1).build();
            mode.set(1);
            assertEquals("factory Error", assertThrows(AssertionError.class, pool::tryBorrow).getMessage());
            mode.set(2);
            LifecycleException le = assertThrows(LifecycleException.class, pool::tryBorrow);
            assertInstanceOf(java.io.IOException.class, le.getCause());
            mode.set(3);
            assertThrows(NullPointerException.class, pool::tryBorrow);
            mode.set(0);
            PoolStats s = pool.stats();
            assertEquals(3, s.failedCreations(), "maxSize " + maxSize + " " + s);
            assertEquals(0, s.size(), "maxSize " + maxSize + " " + s);
            Lease<Res> l = pool.tryBorrow();
            assertNotNull(l, "maxSize " + maxSize + ": slot leaked by factory failures");
            if (maxSize == 1) {
                assertNull(pool.tryBorrow());
            }
            l.close();
            assertEquals(1, pool.stats().idle(), "maxSize " + maxSize + " " + pool.stats());
        }
    }

    /** A factory Error for an async waiter given a freed permit fails that future; the slot is freed. */
    @Test
    void borrowAsync_factoryErrorForWaiter_futureFailsSlotFreed() throws Exception {
        AtomicBoolean boom = new AtomicBoolean();
        Pool<Res> pool = Pool.<Res>builder(() -> {
            if (boom.get()) {
                throw new AssertionError("factory Error");
            }
            return new Res(0);
        }).name("atk").maxSize(1).build();
        Lease<Res> held = pool.borrow();
        CompletableFuture<Lease<Res>> f = pool.borrowAsync();
        CompletableFuture<Lease<Res>> g = pool.borrowAsync();
        awaitWaiting(pool, 2);
        boom.set(true);
        held.invalidate(); // frees the permit: f makes an object, which throws
        Object got = outcome(f);
        assertInstanceOf(AssertionError.class, got, String.valueOf(got));
        Object next = outcome(g); // the permit passes on; factory still throws
        assertInstanceOf(AssertionError.class, next, "second waiter: " + next);
        boom.set(false);
        assertEquals(0, pool.stats().waiting(), pool.stats().toString());
        assertEquals(0, pool.stats().size(), pool.stats().toString());
        assertLendsExactly(pool, 1, "after factory Errors for async waiters");
    }

    /** get() on a closed lease throws with the pool's name. */
    @Test
    void leaseGet_afterClose_throwsNamed() {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> l = pool.tryBorrow();
        assertFalse(l.isClosed());
        l.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, l::get);
        assertEquals("atk: lease already closed", e.getMessage());
        Lease<Res> m = pool.tryBorrow();
        m.invalidate();
        assertTrue(m.isClosed());
        assertEquals("atk: lease already closed", assertThrows(IllegalStateException.class, m::get).getMessage());
    }

    /** A dropped lease of an unbounded pool with leak detection is reclaimed; idle counts stay right. */
    @Test
    void unboundedLeakDetection_droppedLease_reclaimedIdleRight() throws Exception {
        Pool<Res> pool = builder().maxSize(0).maxIdle(1).leakDetection(true).build();
        dropLease(pool);
        PoolFixtures.eventually(() -> {
            System.gc(); // the slot leaves the stats just before its destroyer runs
            return pool.stats().destroyed() == 1;
        }, "dropped lease reclaimed: " + pool.stats());
        assertQuiet(pool, 0, 0, "reclaimed");
        Lease<Res> a = pool.tryBorrow();
        Lease<Res> b = pool.tryBorrow();
        a.close();
        b.close();
        assertQuiet(pool, 1, 1, "two returned, maxIdle 1");
    }

    private static void dropLease(Pool<Res> pool) {
        Lease<Res> l = pool.tryBorrow();
        assertNotNull(l.get());
    }

    // ================================================================== round five

    /** Plain returns racing a shrink: once all is back, the pool holds exactly the new bound. */
    @Test
    void setMaxSize_shrinkRacesPlainReturns_poolEndsAtBound() throws Exception {
        for (int round = 0; round < 2000; round++) {
            made.clear();
            Pool<Res> pool = builder().maxSize(4).build();
            List<Lease<Res>> out = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                out.add(pool.tryBorrow());
            }
            CyclicBarrier go = new CyclicBarrier(5);
            List<CompletableFuture<Object>> returners = new ArrayList<>();
            for (Lease<Res> l : out) {
                returners.add(TestThreads.fork(() -> {
                    awaitBarrier(go);
                    l.close();
                    return null;
                }));
            }
            awaitBarrier(go);
            pool.setMaxSize(1);
            for (CompletableFuture<Object> r : returners) {
                assertNull(outcome(r));
            }
            PoolStats s = pool.stats();
            assertTrue(s.size() <= 1, "round " + round + ": pool not back within bound 1: " + s);
            assertEquals(1, s.size(), "round " + round + ": shrink to 1 destroyed more than it had to"
                    + " (setMaxSize: destroys idle objects until the pool fits): " + s);
            assertQuiet(pool, 1, 1, "round " + round);
            assertLendsExactly(pool, 1, "round " + round);
            pool.close();
            assertEachDestroyedOnce("round " + round);
        }
    }

    /** A grow racing a borrower that is about to wait: the borrower is served without any return. */
    @Test
    void setMaxSize_growRacesNewWaiter_waiterServed() throws Exception {
        for (int round = 0; round < 300; round++) {
            Pool<Res> pool = builder().maxSize(1).fair((round & 1) == 0).build();
            Lease<Res> held = pool.borrow();
            CyclicBarrier go = new CyclicBarrier(2);
            boolean threadWaiter = (round & 2) == 0;
            CompletableFuture<Object> waiter = TestThreads.fork(() -> {
                awaitBarrier(go);
                try (Lease<Res> l = threadWaiter ? pool.borrow(Duration.ofSeconds(5))
                        : pool.borrowAsync().get(5, TimeUnit.SECONDS)) {
                    return l.get();
                }
            });
            awaitBarrier(go);
            pool.setMaxSize(2);
            Object got = outcome(waiter);
            assertInstanceOf(Res.class, got, "round " + round + ": grow missed a waiter: " + got + " " + pool);
            held.close();
            pool.close();
            assertTrue(pool.join(Duration.ZERO), "round " + round + ": " + pool);
        }
    }

    /** Returns racing each other on an unbounded pool keep exactly maxIdle objects, no fewer, no more. */
    @Test
    void unboundedReturn_concurrentReturnsBeyondMaxIdle_keepsExactlyMaxIdle() throws Exception {
        for (int round = 0; round < 300; round++) {
            made.clear();
            Pool<Res> pool = builder().maxSize(0).maxIdle(2).build();
            List<Lease<Res>> out = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                out.add(pool.tryBorrow());
            }
            CyclicBarrier go = new CyclicBarrier(out.size());
            List<CompletableFuture<Object>> returners = new ArrayList<>();
            for (Lease<Res> l : out.subList(1, out.size())) {
                returners.add(TestThreads.fork(() -> {
                    awaitBarrier(go);
                    l.close();
                    return null;
                }));
            }
            awaitBarrier(go);
            out.get(0).close();
            for (CompletableFuture<Object> r : returners) {
                assertNull(outcome(r));
            }
            assertQuiet(pool, 2, 2, "round " + round);
            pool.close();
            assertEachDestroyedOnce("round " + round);
        }
    }
}
