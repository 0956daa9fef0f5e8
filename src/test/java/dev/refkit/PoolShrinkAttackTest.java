package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile black-box tests of {@link Pool#setMaxSize(int)} and what it promises together with
 * borrows, returns, invalidate, close, and throwing or blocking user code. Written from the
 * public Javadoc of Pool, Lease, PoolStats and docs/pool.md only.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PoolShrinkAttackTest {

    /** Counts live objects (made minus destroyed) and the most ever alive at once. */
    static final class Live {
        final AtomicInteger made = new AtomicInteger();
        final AtomicInteger destroyed = new AtomicInteger();
        final AtomicInteger live = new AtomicInteger();
        final AtomicInteger maxLive = new AtomicInteger();

        Object make() {
            made.incrementAndGet();
            int n = live.incrementAndGet();
            maxLive.accumulateAndGet(n, Math::max);
            return new Object();
        }

        void destroyed() {
            destroyed.incrementAndGet();
            live.decrementAndGet();
        }
    }

    /**
     * A pool of {@code live}'s objects whose destroyer counts {@code inDestroy} down, then
     * blocks until {@code release} opens (an interrupt ends the block, flag kept).
     */
    private static Pool<Object> blockingDestroyPool(Live live, int maxSize,
            CountDownLatch inDestroy, CountDownLatch release) {
        return Pool.builder(live::make).maxSize(maxSize).destroy(o -> {
            inDestroy.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            live.destroyed();
        }).build();
    }

    private static void await(BooleanSupplier cond, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static void awaitState(Thread t, Thread.State s) {
        await(() -> t.getState() == s, t.getName() + " " + s);
    }

    /** Borrows exactly n objects without waiting, asserting that n+1 is refused. */
    private static void assertExactlyBorrowable(Pool<Object> pool, int n) {
        List<Lease<Object>> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Lease<Object> l = pool.tryBorrow();
                assertNotNull(l, "borrow " + (i + 1) + " of the bound " + n + " refused: "
                        + pool.stats());
                held.add(l);
            }
            assertNull(pool.tryBorrow(), "borrowed more than the bound " + n + ": "
                    + pool.stats());
        } finally {
            held.forEach(Lease::close);
        }
    }

    private static Thread start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    // ---------------------------------------------------------------------------------
    // Argument checks

    @Test
    void setMaxSizeRejectsBadArgumentsAndUnboundedAndClosed() {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).name("p").build();
        assertThrows(IllegalArgumentException.class, () -> pool.setMaxSize(0));
        assertThrows(IllegalArgumentException.class, () -> pool.setMaxSize(-1));
        assertEquals(2, pool.maxSize());
        pool.close();
        assertThrows(ClosedException.class, () -> pool.setMaxSize(3));

        Pool<Object> unbounded = Pool.builder(Object::new).maxSize(0).build();
        assertThrows(IllegalStateException.class, () -> unbounded.setMaxSize(3));
        assertEquals(0, unbounded.maxSize());
        unbounded.close();
    }

    // ---------------------------------------------------------------------------------
    // Plain shrinking

    @Test
    void shrinkDestroysIdleObjectsUntilThePoolFits() {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(4)
                .destroy(o -> live.destroyed()).build();
        assertExactlyBorrowable(pool, 4); // 4 idle now
        assertEquals(4, pool.stats().idle());
        pool.setMaxSize(2);
        assertEquals(2, pool.maxSize());
        PoolStats s = pool.stats();
        assertEquals(2, s.size(), s.toString());
        assertEquals(2, s.idle(), s.toString());
        assertEquals(2, live.destroyed.get());
        assertEquals(2, s.destroyed());
        assertEquals(s.created() - s.destroyed(), s.size());
        assertExactlyBorrowable(pool, 2);
        assertEquals(4, live.made.get(), "no object made after the shrink");
        pool.close();
    }

    @Test
    void shrinkNeverTakesALentObjectAndDestroysItWhenItComesBack() throws Exception {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(3)
                .destroy(o -> live.destroyed()).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        Lease<Object> c = pool.borrow();
        pool.setMaxSize(1);
        assertEquals(0, live.destroyed.get(), "a shrink took a lent object");
        assertNotNull(a.get());
        assertNotNull(b.get());
        assertNotNull(c.get());
        assertEquals(3, pool.stats().lent());
        assertNull(pool.tryBorrow(), "over the bound, yet lent");
        a.close();
        assertEquals(1, live.destroyed.get());
        assertEquals(2, pool.stats().size());
        assertNull(pool.tryBorrow(), "still over the bound, yet lent");
        b.close();
        assertEquals(2, live.destroyed.get());
        c.close();
        assertEquals(2, live.destroyed.get(), "the last object fits the bound, kept");
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), s.toString());
        assertEquals(1, s.idle(), s.toString());
        assertExactlyBorrowable(pool, 1);
        pool.close();
        pool.join();
        assertEquals(0, live.live.get());
    }

    @Test
    void invalidateWhileOverTheBoundFreesOnlyWhatItDestroys() throws Exception {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(3)
                .destroy(o -> live.destroyed()).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        Lease<Object> c = pool.borrow();
        pool.setMaxSize(2);
        a.invalidate(); // 2 alive now: fits
        assertEquals(1, live.destroyed.get());
        assertTrue(a.isClosed());
        assertNull(pool.tryBorrow(), "2 lent of 2, yet lent a third");
        b.invalidate(); // 1 alive: room for one
        Lease<Object> d = pool.tryBorrow();
        assertNotNull(d, "room for one after invalidate: " + pool.stats());
        assertNull(pool.tryBorrow());
        c.close();
        d.close();
        assertTrue(live.maxLive.get() <= 3);
        assertEquals(2, pool.stats().size());
        assertExactlyBorrowable(pool, 2);
        pool.close();
    }

    @Test
    void growServesWaitersAtOnce() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(1).build();
        Lease<Object> held = pool.borrow();
        CompletableFuture<Lease<Object>> f1 = pool.borrowAsync();
        CompletableFuture<Lease<Object>> f2 = pool.borrowAsync();
        AtomicReference<Lease<Object>> got = new AtomicReference<>();
        Thread t = start("waiter", () -> {
            try {
                got.set(pool.borrow());
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        await(() -> pool.stats().waiting() == 3, "3 waiting");
        pool.setMaxSize(4);
        t.join(5000);
        assertNotNull(got.get(), "thread waiter not served by grow");
        // objects made for borrowAsync waiters are made on a daemon thread (class Javadoc)
        assertNotNull(f1.get(5, TimeUnit.SECONDS), "future waiter not served by grow");
        assertNotNull(f2.get(5, TimeUnit.SECONDS), "future waiter not served by grow");
        assertEquals(0, pool.stats().waiting());
        assertEquals(4, pool.stats().size());
        got.get().close();
        f1.join().close();
        f2.join().close();
        held.close();
        assertExactlyBorrowable(pool, 4);
        pool.close();
    }

    // ---------------------------------------------------------------------------------
    // The fix of e4b0812: a destroyed object keeps its permit until its destroyer returns

    @Test
    void growWhileShrinkDestroyerBlocksNeverExceedsTheBound() throws Exception {
        Live live = new Live();
        CountDownLatch inDestroy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Pool<Object> pool = blockingDestroyPool(live, 2, inDestroy, release);
        assertExactlyBorrowable(pool, 2); // 2 idle
        Thread shrinker = start("shrinker", () -> pool.setMaxSize(1));
        assertTrue(inDestroy.await(5, TimeUnit.SECONDS));
        pool.setMaxSize(2); // grown again while one object is still being destroyed
        // One idle + one being destroyed = 2 alive: the bound 2 allows no new object.
        Lease<Object> first = pool.tryBorrow();
        assertNotNull(first, "the idle object should be lendable");
        Lease<Object> second = pool.tryBorrow();
        assertNull(second, "made a third object while one is still being destroyed: "
                + "live=" + live.live.get() + " " + pool.stats());
        assertTrue(live.maxLive.get() <= 2, "maxLive=" + live.maxLive.get());
        release.countDown();
        shrinker.join(5000);
        assertFalse(shrinker.isAlive());
        first.close();
        assertExactlyBorrowable(pool, 2);
        assertTrue(live.maxLive.get() <= 2, "maxLive=" + live.maxLive.get());
        pool.close();
        pool.join();
        assertEquals(0, live.live.get());
    }

    @Test
    void waiterIsNotServedWithANewObjectWhileAReturnedOverBoundObjectIsBeingDestroyed()
            throws Exception {
        Live live = new Live();
        CountDownLatch inDestroy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Pool<Object> pool = blockingDestroyPool(live, 2, inDestroy, release);
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        CompletableFuture<Lease<Object>> waiter = pool.borrowAsync();
        assertFalse(waiter.isDone());
        pool.setMaxSize(1);
        Thread returner = start("returner", a::close); // over the bound: destroyed, blocks
        assertTrue(inDestroy.await(5, TimeUnit.SECONDS));
        pool.setMaxSize(2);
        // alive: b (lent) + a (being destroyed) = 2; the waiter must not get a 3rd object.
        assertFalse(waiter.isDone(), "waiter got an object while 2 are alive of 2: live="
                + live.live.get());
        assertTrue(live.maxLive.get() <= 2, "maxLive=" + live.maxLive.get());
        release.countDown();
        returner.join(5000);
        assertFalse(returner.isAlive());
        Lease<Object> w = waiter.get(5, TimeUnit.SECONDS);
        assertNotNull(w.get(), "waiter lost after the destroyer returned");
        assertTrue(live.maxLive.get() <= 2, "maxLive=" + live.maxLive.get());
        w.close();
        b.close();
        assertExactlyBorrowable(pool, 2);
        pool.close();
    }

    @Test
    void growDuringBlockedInvalidateServesThreadWaiterWithinTheBound() throws Exception {
        Live live = new Live();
        CountDownLatch inDestroy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Pool<Object> pool = blockingDestroyPool(live, 1, inDestroy, release);
        Lease<Object> a = pool.borrow();
        AtomicReference<Throwable> err = new AtomicReference<>();
        AtomicReference<Lease<Object>> got = new AtomicReference<>();
        Thread waiter = start("waiter", () -> {
            try {
                got.set(pool.borrow());
            } catch (Throwable t) {
                err.set(t);
            }
        });
        await(() -> pool.stats().waiting() == 1, "1 waiting");
        Thread invalidator = start("invalidator", a::invalidate); // destroyer blocks
        assertTrue(inDestroy.await(5, TimeUnit.SECONDS));
        pool.setMaxSize(2); // grow: 1 alive (being destroyed), room for one more
        waiter.join(5000);
        assertNull(err.get());
        assertNotNull(got.get(), "grow did not serve the waiter with the free permit");
        assertTrue(live.maxLive.get() <= 2, "maxLive=" + live.maxLive.get());
        assertNull(pool.tryBorrow(), "a third object while one is still being destroyed");
        release.countDown();
        invalidator.join(5000);
        assertFalse(invalidator.isAlive());
        got.get().close();
        pool.setMaxSize(1);
        assertExactlyBorrowable(pool, 1);
        pool.close();
    }

    // ---------------------------------------------------------------------------------
    // Throwing destroyers and factories

    @Test
    void shrinkWithThrowingDestroyerStillFitsAndLeaksNoPermit() throws Exception {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(4).destroy(o -> {
            live.destroyed();
            throw new IllegalStateException("boom");
        }).build();
        assertExactlyBorrowable(pool, 4);
        pool.setMaxSize(1); // runtime exceptions logged, not thrown
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), s.toString());
        assertEquals(3, live.destroyed.get());
        pool.setMaxSize(4);
        assertExactlyBorrowable(pool, 4);
        assertTrue(live.maxLive.get() <= 4);
        pool.close();
    }

    @Test
    void shrinkWithErrorThrowingDestroyerThrowsFirstErrorSuppressedRestAndFits()
            throws Exception {
        Live live = new Live();
        AtomicInteger n = new AtomicInteger();
        Pool<Object> pool = Pool.builder(live::make).maxSize(4).destroy(o -> {
            live.destroyed();
            throw new AssertionError("err" + n.incrementAndGet());
        }).build();
        assertExactlyBorrowable(pool, 4);
        CompletableFuture<Lease<Object>> f;
        List<Lease<Object>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(pool.borrow());
        }
        f = pool.borrowAsync(); // a waiter
        held.get(3).close(); // goes to the waiter
        assertTrue(f.isDone());
        Lease<Object> fl = f.join();
        held.remove(3);
        held.forEach(Lease::close); // 3 idle, 1 lent (fl)
        AssertionError e = assertThrows(AssertionError.class, () -> pool.setMaxSize(1));
        assertEquals("err1", e.getMessage());
        assertEquals(2, e.getSuppressed().length, "later errors suppressed on the first");
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), "the shrink destroys until the pool fits: " + s);
        assertEquals(3, live.destroyed.get());
        fl.close();
        pool.setMaxSize(3);
        assertExactlyBorrowable(pool, 3);
    }

    @Test
    void growAfterOverBoundReturnWithErrorServesWaiter() throws Exception {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(2).destroy(o -> {
            live.destroyed();
            throw new OutOfMemoryError("fake");
        }).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        CompletableFuture<Lease<Object>> waiter = pool.borrowAsync();
        assertThrows(OutOfMemoryError.class, a::close);
        assertTrue(a.isClosed());
        assertFalse(waiter.isDone(), "1 of 1 alive (b), waiter must wait");
        pool.setMaxSize(2); // nothing to destroy; room for one: serves the waiter
        // objects made for borrowAsync waiters are made on a daemon thread (class Javadoc)
        Lease<Object> w = waiter.get(5, TimeUnit.SECONDS);
        assertNull(pool.tryBorrow());
        w.close();
        b.close();
        assertEquals(2, pool.stats().size());
        assertExactlyBorrowable(pool, 2);
        assertTrue(live.maxLive.get() <= 2);
    }

    @Test
    void factoryThrowingAroundResizesLeaksNoPermit() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Pool<Object> pool = Pool.builder(() -> {
            if (calls.incrementAndGet() % 2 == 0) {
                throw new IllegalStateException("factory boom");
            }
            return new Object();
        }).maxSize(3).build();
        for (int round = 0; round < 20; round++) {
            pool.setMaxSize(1 + round % 3);
            List<Lease<Object>> held = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                try {
                    Lease<Object> l = pool.tryBorrow();
                    if (l != null) {
                        held.add(l);
                    }
                } catch (IllegalStateException expected) {
                    // factory failure: slot is free for the next borrower
                }
            }
            assertTrue(held.size() <= pool.maxSize(), held.size() + " > " + pool.maxSize());
            held.forEach(Lease::close);
        }
        pool.setMaxSize(3);
        PoolStats s = pool.stats();
        assertTrue(s.failedCreations() > 0);
        assertEquals(s.created() - s.destroyed(), s.size(), s.toString());
        assertTrue(s.size() <= 3);
        pool.close();
    }

    @Test
    void checkedFactoryExceptionAfterShrinkIsWrappedAndPermitFreed() throws Exception {
        AtomicInteger mode = new AtomicInteger();
        Pool<Object> pool = Pool.builder(() -> {
            if (mode.get() == 1) {
                throw new java.io.IOException("io");
            }
            return new Object();
        }).maxSize(2).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        b.close(); // destroyed
        a.close(); // kept: 1 of 1
        mode.set(1);
        pool.setMaxSize(2);
        Lease<Object> kept = pool.borrow();
        LifecycleException e = assertThrows(LifecycleException.class, pool::borrow);
        assertInstanceOf(java.io.IOException.class, e.getCause());
        mode.set(0);
        Lease<Object> made = pool.tryBorrow();
        assertNotNull(made, "the failed make's permit leaked: " + pool.stats());
        kept.close();
        made.close();
        assertExactlyBorrowable(pool, 2);
        pool.close();
    }

    // ---------------------------------------------------------------------------------
    // Timeouts and interrupts around a shrink

    @Test
    void timedBorrowTimesOutDuringShrinkAndLeaksNoPlace() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        TimeoutException te = assertThrows(TimeoutException.class,
                () -> pool.borrow(Duration.ofMillis(20)));
        assertNotNull(te.getMessage());
        assertEquals(1, pool.stats().timeouts());
        assertEquals(0, pool.stats().waiting());
        a.close();
        b.close();
        assertExactlyBorrowable(pool, 1);
        pool.setMaxSize(2);
        assertExactlyBorrowable(pool, 2);
        pool.close();
    }

    @Test
    void interruptedWaiterDuringShrinkHoldsNoPlaceAndNoObject() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        AtomicReference<Throwable> err = new AtomicReference<>();
        AtomicReference<Boolean> flagAfter = new AtomicReference<>();
        Thread t = start("waiter", () -> {
            try {
                pool.borrow().close();
                err.set(new AssertionError("got an object"));
            } catch (Throwable e) {
                err.set(e);
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        await(() -> pool.stats().waiting() == 1, "1 waiting");
        t.interrupt();
        t.join(5000);
        assertInstanceOf(InterruptedException.class, err.get());
        assertFalse(flagAfter.get(), "interrupt flag not cleared");
        assertEquals(0, pool.stats().waiting());
        a.close();
        b.close();
        pool.setMaxSize(2);
        assertExactlyBorrowable(pool, 2);
        pool.close();
    }

    @Test
    void interruptFlagOnEntryWinsEvenAfterGrow() {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(1).build();
        pool.setMaxSize(3);
        Thread.currentThread().interrupt();
        try {
            assertThrows(InterruptedException.class, pool::borrow);
            assertFalse(Thread.interrupted(), "flag should be clear after the throw");
        } finally {
            Thread.interrupted();
        }
        assertEquals(0, pool.stats().size(), "interrupted borrow made an object");
        assertExactlyBorrowable(pool, 3);
        pool.close();
    }

    @Test
    void cancelledFutureDuringShrinkDoesNotSwallowTheObject() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        CompletableFuture<Lease<Object>> f1 = pool.borrowAsync();
        CompletableFuture<Lease<Object>> f2 = pool.borrowAsync();
        pool.setMaxSize(1);
        f1.cancel(false);
        a.close(); // over bound: destroyed, no grant
        assertFalse(f2.isDone(), "1 alive of 1, f2 must wait");
        b.close(); // fits: handed to f2
        assertTrue(f2.isDone(), "the returned object went to the cancelled future");
        f2.join().close();
        assertEquals(0, pool.stats().waiting());
        assertExactlyBorrowable(pool, 1);
        pool.close();
    }

    // ---------------------------------------------------------------------------------
    // Close

    @Test
    void closeAndJoinWaitForAShrinksBlockedDestroyer() throws Exception {
        Live live = new Live();
        CountDownLatch inDestroy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        Pool<Object> pool = Pool.builder(live::make).maxSize(2).destroy(o -> {
            if (calls.incrementAndGet() == 1) {
                inDestroy.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            live.destroyed();
        }).build();
        assertExactlyBorrowable(pool, 2);
        Thread shrinker = start("shrinker", () -> pool.setMaxSize(1));
        assertTrue(inDestroy.await(5, TimeUnit.SECONDS));
        pool.close(); // destroys the other idle object here
        assertTrue(pool.isClosed());
        assertEquals(Pool.State.CLOSING, pool.state(),
                "an object is still being destroyed: " + pool.stats());
        assertFalse(pool.join(Duration.ofMillis(20)), "join returned before the destroyer");
        assertThrows(ClosedException.class, pool::tryBorrow);
        release.countDown();
        assertTrue(pool.join(Duration.ofSeconds(5)));
        assertEquals(Pool.State.CLOSED, pool.state());
        assertEquals(0, live.live.get(), "every object destroyed when join returns");
        shrinker.join(5000);
        assertFalse(shrinker.isAlive());
    }

    @Test
    void closeWakesWaitersOfAShrunkPoolAndLentObjectsAreDestroyedOnReturn()
            throws Exception {
        Live live = new Live();
        Pool<Object> pool = Pool.builder(live::make).maxSize(3)
                .destroy(o -> live.destroyed()).build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        CompletableFuture<Lease<Object>> f = pool.borrowAsync();
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread t = start("waiter", () -> {
            try {
                pool.borrow().close();
            } catch (Throwable e) {
                err.set(e);
            }
        });
        await(() -> pool.stats().waiting() == 2, "2 waiting");
        pool.close();
        t.join(5000);
        assertInstanceOf(ClosedException.class, err.get());
        ExecutionException ee = assertThrows(ExecutionException.class,
                () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClosedException.class, ee.getCause());
        assertEquals(Pool.State.CLOSING, pool.state());
        a.close();
        b.close();
        assertTrue(pool.join(Duration.ofSeconds(5)));
        assertEquals(0, live.live.get());
        assertEquals(2, live.destroyed.get());
    }

    // ---------------------------------------------------------------------------------
    // Stress: resizes racing borrows, returns and invalidates

    @Test
    void stressResizeRacingBorrowsNeverExceedsLargestBoundAndLeaksNoPermit()
            throws Exception {
        final int maxBound = 3;
        for (int iter = 0; iter < 30; iter++) {
            Live live = new Live();
            Pool<Object> pool = Pool.builder(live::make).maxSize(maxBound).destroy(o -> {
                if (ThreadLocalRandom.current().nextInt(4) == 0) {
                    Thread.yield();
                }
                live.destroyed();
            }).build();
            int workers = 4;
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(workers + 1);
            AtomicReference<Throwable> err = new AtomicReference<>();
            for (int w = 0; w < workers; w++) {
                start("w" + w, () -> {
                    try {
                        go.await();
                        ThreadLocalRandom r = ThreadLocalRandom.current();
                        for (int i = 0; i < 300; i++) {
                            Lease<Object> l;
                            switch (r.nextInt(3)) {
                                case 0 -> l = pool.tryBorrow();
                                case 1 -> {
                                    try {
                                        l = pool.borrow(Duration.ofMillis(2));
                                    } catch (TimeoutException e) {
                                        l = null;
                                    }
                                }
                                default -> {
                                    CompletableFuture<Lease<Object>> f = pool.borrowAsync();
                                    try {
                                        l = f.get(2, TimeUnit.MILLISECONDS);
                                    } catch (TimeoutException e) {
                                        l = null;
                                        if (!f.cancel(false)) {
                                            f.join().close(); // granted as we gave up
                                        }
                                    }
                                }
                            }
                            if (live.live.get() > maxBound) {
                                throw new AssertionError("live " + live.live.get());
                            }
                            if (l != null) {
                                if (r.nextInt(5) == 0) {
                                    l.invalidate();
                                } else {
                                    l.close();
                                }
                            }
                        }
                    } catch (Throwable t) {
                        err.compareAndSet(null, t);
                    } finally {
                        done.countDown();
                    }
                });
            }
            start("resizer", () -> {
                try {
                    go.await();
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    for (int i = 0; i < 200; i++) {
                        pool.setMaxSize(1 + r.nextInt(maxBound));
                    }
                    pool.setMaxSize(maxBound);
                } catch (Throwable t) {
                    err.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            });
            go.countDown();
            assertTrue(done.await(20, TimeUnit.SECONDS));
            if (err.get() != null) {
                throw new AssertionError("iteration " + iter, err.get());
            }
            assertTrue(live.maxLive.get() <= maxBound,
                    "iteration " + iter + ": maxLive " + live.maxLive.get());
            PoolStats s = pool.stats();
            assertEquals(live.made.get() - live.destroyed.get(), s.size(),
                    "iteration " + iter + ": " + s);
            assertEquals(s.created() - s.destroyed(), s.size(), s.toString());
            assertTrue(s.size() <= maxBound, s.toString());
            assertEquals(0, s.waiting(), s.toString());
            assertExactlyBorrowable(pool, maxBound);
            pool.close();
        }
    }

    @Test
    void stressResizeRacingBorrowsThenFullBoundIsBorrowable() throws Exception {
        final int maxBound = 4;
        for (int iter = 0; iter < 30; iter++) {
            Live live = new Live();
            Pool<Object> pool = Pool.builder(live::make).maxSize(maxBound)
                    .destroy(o -> live.destroyed()).build();
            int workers = 4;
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(workers + 1);
            AtomicReference<Throwable> err = new AtomicReference<>();
            for (int w = 0; w < workers; w++) {
                start("w" + w, () -> {
                    try {
                        go.await();
                        ThreadLocalRandom r = ThreadLocalRandom.current();
                        for (int i = 0; i < 300; i++) {
                            Lease<Object> l;
                            try {
                                l = pool.borrow(Duration.ofMillis(r.nextInt(3)));
                            } catch (TimeoutException e) {
                                continue;
                            }
                            if (live.live.get() > maxBound) {
                                throw new AssertionError("live " + live.live.get());
                            }
                            if (r.nextInt(4) == 0) {
                                l.invalidate();
                            } else {
                                l.close();
                            }
                        }
                    } catch (Throwable t) {
                        err.compareAndSet(null, t);
                    } finally {
                        done.countDown();
                    }
                });
            }
            start("resizer", () -> {
                try {
                    go.await();
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    for (int i = 0; i < 300; i++) {
                        pool.setMaxSize(1 + r.nextInt(maxBound));
                    }
                } catch (Throwable t) {
                    err.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            });
            go.countDown();
            assertTrue(done.await(20, TimeUnit.SECONDS));
            if (err.get() != null) {
                throw new AssertionError("iteration " + iter, err.get());
            }
            assertTrue(live.maxLive.get() <= maxBound, "maxLive " + live.maxLive.get());
            int bound = pool.maxSize();
            PoolStats s = pool.stats();
            assertEquals(0, s.waiting(), s.toString());
            assertTrue(s.size() <= bound, "quiescent pool over its bound " + bound + ": " + s);
            assertEquals(s.idle(), s.size(), "nothing lent at quiescence: " + s);
            assertEquals(live.made.get() - live.destroyed.get(), s.size(), s.toString());
            assertExactlyBorrowable(pool, bound);
            pool.setMaxSize(maxBound);
            assertExactlyBorrowable(pool, maxBound);
            pool.close();
            pool.join();
            assertEquals(0, live.live.get());
        }
    }

    @Test
    void lentObjectsSurviveShrinkAndAreTheSameObjects() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).build();
        Lease<Object> a = pool.borrow();
        Object obj = a.get();
        pool.setMaxSize(1);
        assertSame(obj, a.get());
        a.close();
        assertThrows(IllegalStateException.class, a::get);
        Lease<Object> again = pool.borrow();
        assertSame(obj, again.get(), "the object fitting the bound is kept, not destroyed");
        again.close();
        pool.close();
    }

    @Test
    void shrinkDuringABlockedFactoryCallComesBackWithinTheBound() throws Exception {
        Live live = new Live();
        CountDownLatch inMake = new CountDownLatch(1);
        CountDownLatch releaseMake = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        Pool<Object> pool = Pool.builder(() -> {
            if (calls.incrementAndGet() == 2) {
                inMake.countDown();
                releaseMake.await();
            }
            return live.make();
        }).maxSize(2).destroy(o -> live.destroyed()).build();
        Lease<Object> a = pool.borrow();
        AtomicReference<Lease<Object>> got = new AtomicReference<>();
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread maker = start("maker", () -> {
            try {
                got.set(pool.borrow());
            } catch (Throwable t) {
                err.set(t);
            }
        });
        assertTrue(inMake.await(5, TimeUnit.SECONDS));
        pool.setMaxSize(1); // a lent, one being made
        pool.setMaxSize(2);
        pool.setMaxSize(1);
        releaseMake.countDown();
        maker.join(5000);
        assertNull(err.get());
        assertNotNull(got.get(), "a shrink took the object from its borrower");
        assertNull(pool.tryBorrow(), "over the bound, yet lent: " + pool.stats());
        got.get().close();
        a.close();
        PoolStats s = pool.stats();
        assertEquals(1, s.size(), "the pool must come back within the bound: " + s);
        assertEquals(1, live.live.get());
        assertExactlyBorrowable(pool, 1);
        pool.close();
    }

    @Test
    void timeoutMessageNamesPoolSizeAndWaitersAfterShrink() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(2).name("db").build();
        Lease<Object> a = pool.borrow();
        Lease<Object> b = pool.borrow();
        pool.setMaxSize(1);
        TimeoutException te = assertThrows(TimeoutException.class,
                () -> pool.borrow(Duration.ZERO));
        String m = te.getMessage();
        assertTrue(m.startsWith("db: "), m);
        assertTrue(m.contains("size"), m);
        assertTrue(m.contains("waiting"), m);
        a.close();
        b.close();
        pool.close();
    }

    @Test
    void repeatedShrinkGrowWithBlockedDestroyersNeverExceedsBound() throws Exception {
        Live live = new Live();
        List<CountDownLatch> releases = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            releases.add(new CountDownLatch(1));
        }
        AtomicInteger destroyCalls = new AtomicInteger();
        CountDownLatch threeInDestroy = new CountDownLatch(3);
        Pool<Object> pool = Pool.builder(live::make).maxSize(3).destroy(o -> {
            int k = destroyCalls.getAndIncrement();
            if (k < 3) {
                threeInDestroy.countDown();
                try {
                    releases.get(k).await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            live.destroyed();
        }).build();
        List<Lease<Object>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(pool.borrow());
        }
        pool.setMaxSize(1);
        List<Thread> returners = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Lease<Object> l = held.get(i);
            returners.add(start("ret" + i, l::invalidate));
        }
        assertTrue(threeInDestroy.await(5, TimeUnit.SECONDS));
        pool.setMaxSize(3); // 3 alive (all being destroyed): no room
        assertNull(pool.tryBorrow(), "made a 4th object: live=" + live.live.get());
        releases.get(0).countDown();
        returners.get(0).join(5000);
        Lease<Object> one = pool.tryBorrow();
        assertNotNull(one, "a destroyer returned, its permit should be free");
        assertNull(pool.tryBorrow(), "live=" + live.live.get());
        assertTrue(live.maxLive.get() <= 3, "maxLive=" + live.maxLive.get());
        releases.get(1).countDown();
        releases.get(2).countDown();
        for (Thread t : returners) {
            t.join(5000);
        }
        one.close();
        assertExactlyBorrowable(pool, 3);
        assertTrue(live.maxLive.get() <= 3, "maxLive=" + live.maxLive.get());
        pool.close();
        pool.join();
        assertEquals(0, live.live.get());
    }
}
