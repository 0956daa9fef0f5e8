package dev.refkit;

import static dev.refkit.TestThreads.fork;
import static dev.refkit.PoolFixtures.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Waiting, handoff, async borrows, close and leaks in {@link Pool}, with many threads. */
@Timeout(30)
final class PoolConcurrencyTest {
    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("conc").destroy(factory::destroyed);
    }

    /** A returned object goes to the waiting thread, which records the wait. */
    @Test
    void borrow_fullPool_waitsUntilReturn() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            Res r = a.get();
            CompletableFuture<Res> waiter = fork(() -> {
                try (Lease<Res> l = pool.borrow()) {
                    return l.get();
                }
            });
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            a.close();
            assertSame(r, waiter.get(10, TimeUnit.SECONDS));
            assertTrue(pool.stats().longestWait().compareTo(Duration.ZERO) > 0);
            assertEquals(0, pool.stats().waiting());
        }
    }

    /** With fair(true), a borrower arriving while others wait queues behind them. */
    @Test
    void fair_waiterQueued_tryBorrowDoesNotBarge() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            CountDownLatch gotIt = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Boolean> waiter = fork(() -> {
                try (Lease<Res> l = pool.borrow()) {
                    l.get();
                    gotIt.countDown();
                    return release.await(10, TimeUnit.SECONDS);
                }
            });
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            a.close(); // handed straight to the waiter
            assertNull(pool.tryBorrow());
            assertTrue(gotIt.await(10, TimeUnit.SECONDS));
            release.countDown();
            assertTrue(waiter.get(10, TimeUnit.SECONDS));
            assertNotNull(pool.borrow(Duration.ofSeconds(10)));
        }
    }

    /** Waiting threads are served in arrival order. */
    @Test
    void fair_severalWaiters_servedInArrivalOrder() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int id = i;
                all.add(fork(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        l.get();
                        order.add(id);
                    }
                    return null;
                }));
                eventually(() -> pool.stats().waiting() == id + 1, "waiter " + id);
            }
            a.close();
            CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]))
                    .get(10, TimeUnit.SECONDS);
            assertEquals(List.of(0, 1, 2, 3), new ArrayList<>(order));
        }
    }

    /** A waiter that times out leaves no place in line and the next return stays idle. */
    @Test
    void borrowTimeout_waiterGivesUp_leavesNothingReserved() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Res> other = fork(() -> pool.borrow().get());
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            TimeoutException e = assertThrows(TimeoutException.class,
                    () -> pool.borrow(Duration.ofMillis(30)));
            assertEquals("conc: no object free within PT0.03S (size 1 of 1, 1 waiting)",
                    e.getMessage());
            a.close();
            other.get(10, TimeUnit.SECONDS);
            assertEquals(0, pool.stats().waiting());
            assertEquals(1, pool.stats().timeouts());
        }
    }

    /** An interrupted waiter throws InterruptedException and keeps nothing. */
    @Test
    void borrow_interruptedWhileWaiting_throwsAndKeepsNothing() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            AtomicReference<Thread> thread = new AtomicReference<>();
            CompletableFuture<Object> waiter = fork(() -> {
                thread.set(Thread.currentThread());
                return pool.borrow();
            });
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            thread.get().interrupt();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> waiter.get(10, TimeUnit.SECONDS));
            assertInstanceOf(InterruptedException.class, e.getCause());
            assertEquals("conc: interrupted in borrow()", e.getCause().getMessage());
            assertEquals(0, pool.stats().waiting());
            a.close();
            assertEquals(1, pool.stats().idle());
        }
    }

    /** A thread interrupted before it must wait throws at once. */
    @Test
    void borrow_interruptedBeforeWaiting_throws() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            Thread.currentThread().interrupt();
            assertThrows(InterruptedException.class, pool::borrow);
            assertFalse(Thread.interrupted());
            a.close();
        }
    }

    /** A waiter handed a permit whose factory call fails gets the exception; the slot is free. */
    @Test
    void borrow_waiterFactoryFails_waiterGetsExceptionSlotFreed() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Object> waiter = fork(pool::borrow);
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            factory.fail = true;
            a.invalidate(); // frees the permit: the waiter must make its own object
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> waiter.get(10, TimeUnit.SECONDS));
            assertEquals("factory says no", e.getCause().getMessage());
            factory.fail = false;
            assertEquals(0, pool.stats().size());
            pool.borrow(Duration.ZERO).close();
        }
    }

    /** borrowAsync completes at once when an object is free and later when one comes back. */
    @Test
    void borrowAsync_full_completesOnReturn() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            CompletableFuture<Lease<Res>> now = pool.borrowAsync();
            assertTrue(now.isDone());
            Lease<Res> a = now.join();
            CompletableFuture<Lease<Res>> later = pool.borrowAsync();
            assertFalse(later.isDone());
            assertEquals(1, pool.stats().waiting());
            Res r = a.get();
            a.close();
            Lease<Res> b = later.get(10, TimeUnit.SECONDS);
            assertSame(r, b.get());
            b.close();
        }
    }

    /** A cancelled async borrow gives up its place; the object is not lost. */
    @Test
    void borrowAsync_cancelled_placeGivenUpNothingLost() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Lease<Res>> f = pool.borrowAsync();
            CompletableFuture<Lease<Res>> g = pool.borrowAsync().orTimeout(1, TimeUnit.MILLISECONDS);
            assertTrue(f.cancel(false));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> g.get(10, TimeUnit.SECONDS));
            assertInstanceOf(TimeoutException.class, e.getCause());
            assertThrows(CancellationException.class, f::join);
            eventually(() -> pool.stats().waiting() == 0, "no waiter");
            a.close();
            assertEquals(1, pool.stats().idle());
        }
    }

    /** Async waiters given a permit get an object made on a background thread, or its failure. */
    @Test
    void borrowAsync_permitGranted_objectMadeInBackground() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Lease<Res>> ok = pool.borrowAsync();
            a.invalidate();
            Lease<Res> b = ok.get(10, TimeUnit.SECONDS);
            assertEquals(2, b.get().id);
            CompletableFuture<Lease<Res>> bad = pool.borrowAsync();
            factory.fail = true;
            b.invalidate();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> bad.get(10, TimeUnit.SECONDS));
            assertEquals("factory says no", e.getCause().getMessage());
            assertEquals(0, pool.stats().size());
            factory.fail = false;
            pool.borrowAsync().join().close();
        }
    }

    /** An object handed to an async waiter that fails validation is destroyed; another is made. */
    @Test
    void borrowAsync_grantedObjectFailsValidation_getsAnotherObject() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> r.id != 1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Lease<Res>> f = pool.borrowAsync();
            a.close(); // conn 1 goes to the future, fails its check, is destroyed
            try (Lease<Res> b = f.get(10, TimeUnit.SECONDS)) {
                assertEquals(2, b.get().id);
            }
            assertEquals(1, pool.stats().destroyed());
            assertEquals(1, pool.stats().size());
        }
    }

    /** A thread granted an object that fails validation tries again and gets a new one. */
    @Test
    void borrow_grantedObjectFailsValidation_getsAnotherObject() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> r.id != 1).build()) {
            Lease<Res> a = pool.borrow();
            CompletableFuture<Integer> waiter = fork(() -> {
                try (Lease<Res> l = pool.borrow()) {
                    return l.get().id;
                }
            });
            eventually(() -> pool.stats().waiting() == 1, "one waiter");
            a.close();
            assertEquals(2, waiter.get(10, TimeUnit.SECONDS));
            assertEquals(1, pool.stats().destroyed());
        }
    }

    /** Many queued async borrows whose dependents close at once do not recurse per waiter. */
    @Test
    void borrowAsync_manyWaitersClosingInDependents_noDeepRecursion() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            AtomicInteger served = new AtomicInteger();
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                all.add(pool.borrowAsync().thenAccept(l -> {
                    try (l) {
                        l.get();
                        served.incrementAndGet();
                    }
                }));
            }
            a.close(); // serves all 20000, nesting at most 32 deep on any one thread
            CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]))
                    .get(20, TimeUnit.SECONDS);
            assertEquals(20_000, served.get());
            assertEquals(1, pool.stats().idle());
        }
    }

    /** Async failures: factory failure of an immediate borrow completes exceptionally. */
    @Test
    void borrowAsync_factoryFails_completesExceptionally() {
        try (Pool<Res> pool = builder().build()) {
            factory.fail = true;
            CompletionException e = assertThrows(CompletionException.class,
                    () -> pool.borrowAsync().join());
            assertInstanceOf(IllegalStateException.class, e.getCause());
        }
    }

    /** Cancel racing a return never loses the object: it ends idle or with the future. */
    @Test
    void borrowAsync_cancelRacesReturn_objectNeverLost() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            CyclicBarrier barrier = new CyclicBarrier(2);
            for (int i = 0; i < 300; i++) {
                Lease<Res> a = pool.borrow(Duration.ofSeconds(10));
                CompletableFuture<Lease<Res>> f = pool.borrowAsync();
                CompletableFuture<Boolean> canceller = fork(() -> {
                    barrier.await(10, TimeUnit.SECONDS);
                    return f.cancel(false);
                });
                barrier.await(10, TimeUnit.SECONDS);
                a.close();
                boolean cancelled = canceller.get(10, TimeUnit.SECONDS);
                if (!cancelled) {
                    f.join().close();
                }
                assertEquals(1, pool.stats().idle(), "iteration " + i);
                assertEquals(0, pool.stats().waiting());
            }
        }
    }

    /** Unfair: a returner may borrow again at once, and the woken waiter is still served. */
    @Test
    void unfair_returnerBargesPastWaiter_waiterStillServed() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).fair(false).build()) {
            for (int i = 0; i < 200; i++) {
                Lease<Res> a = pool.borrow(Duration.ofSeconds(10));
                CompletableFuture<Integer> waiter = fork(() -> {
                    try (Lease<Res> l = pool.borrow(Duration.ofSeconds(10))) {
                        return l.get().id;
                    }
                });
                eventually(() -> pool.stats().waiting() == 1, "one waiter");
                a.close();
                Lease<Res> again = pool.tryBorrow(); // may barge past the woken waiter
                if (again != null) {
                    again.close();
                }
                assertEquals(1, waiter.get(10, TimeUnit.SECONDS));
                assertEquals(1, pool.stats().idle());
                assertEquals(0, pool.stats().waiting());
            }
        }
    }

    /** A timeout or an interrupt racing the grant of an object: the object is never lost. */
    @Test
    void borrow_timeoutOrInterruptRacesGrant_objectNeverLost() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            for (int i = 0; i < 400; i++) {
                boolean interrupt = i % 2 == 0;
                Lease<Res> a = pool.borrow(Duration.ofSeconds(10));
                AtomicReference<Thread> thread = new AtomicReference<>();
                CountDownLatch started = new CountDownLatch(1);
                CompletableFuture<Lease<Res>> waiter = fork(() -> {
                    thread.set(Thread.currentThread());
                    started.countDown();
                    try {
                        return pool.borrow(interrupt ? Duration.ofSeconds(10)
                                : Duration.ofNanos(ThreadLocalRandom.current().nextInt(100_000)));
                    } catch (TimeoutException | InterruptedException e) {
                        return null;
                    }
                });
                assertTrue(started.await(10, TimeUnit.SECONDS));
                if (interrupt) {
                    eventually(() -> pool.stats().waiting() == 1, "one waiter");
                    thread.get().interrupt();
                }
                a.close();
                Lease<Res> got = waiter.get(10, TimeUnit.SECONDS);
                PoolStats s = pool.stats();
                if (got != null) {
                    assertEquals(0, s.idle(), "iteration " + i + ": " + s);
                    got.close();
                } else {
                    assertEquals(1, s.idle(), "iteration " + i + ": " + s);
                }
                assertEquals(0, pool.stats().waiting());
                assertEquals(1, pool.stats().size());
            }
        }
    }

    /** close() wakes waiting threads and futures with ClosedException. */
    @Test
    void close_withWaiters_wakesThemWithClosedException() throws Exception {
        Pool<Res> pool = builder().maxSize(1).build();
        Lease<Res> a = pool.borrow();
        CompletableFuture<Object> thread = fork(pool::borrow);
        CompletableFuture<Object> timed = fork(() -> pool.borrow(Duration.ofMinutes(1)));
        CompletableFuture<Lease<Res>> async = pool.borrowAsync();
        eventually(() -> pool.stats().waiting() == 3, "three waiters");
        pool.close();
        for (Future<?> f : List.of(thread, timed, async)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> f.get(10, TimeUnit.SECONDS));
            assertInstanceOf(ClosedException.class, e.getCause());
            assertEquals("conc: pool closed", e.getCause().getMessage());
        }
        assertFalse(a.get().closed.get());
        a.close();
        assertTrue(pool.join(Duration.ofSeconds(10)));
        assertEquals(0, factory.alive.get());
    }

    /** join waits for a lease closed by another thread. */
    @Test
    void join_leaseReturnedLater_returnsTrue() throws Exception {
        Pool<Res> pool = builder().leakDetection(true).build();
        Lease<Res> a = pool.borrow();
        pool.close();
        assertFalse(pool.join(Duration.ofMillis(5))); // logs the borrow site
        CompletableFuture<Boolean> waiting = fork(() -> pool.join(Duration.ofMinutes(1)));
        a.close();
        assertTrue(waiting.get(10, TimeUnit.SECONDS));
    }

    /** An interrupted join throws an InterruptedException naming the pool and wait. */
    @Test
    void join_interrupted_throwsNamingPool() throws Exception {
        Pool<Res> pool = builder().build();
        Lease<Res> a = pool.borrow();
        pool.close();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                () -> pool.join(Duration.ofMinutes(1)));
        assertEquals("conc: interrupted in join()", e.getMessage());
        a.close();
        assertTrue(pool.join(Duration.ZERO));
    }

    /** A lease dropped without close is reclaimed after GC: object destroyed, slot freed. */
    @Test
    void leakDetection_leaseDropped_reclaimedAfterGc() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).leakDetection(true).build()) {
            Res r = borrowAndDrop(pool);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (pool.stats().destroyed() == 0 && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(1, pool.stats().destroyed());
            assertTrue(r.closed.get());
            try (Lease<Res> b = pool.borrow(Duration.ofSeconds(10))) {
                assertEquals(2, b.get().id);
            }
            Lease<Res> c = pool.borrow();
            c.close(); // a closed lease is not reported later
            System.gc();
            assertEquals(1, pool.stats().destroyed());
        }
    }

    private static Res borrowAndDrop(Pool<Res> pool) throws InterruptedException {
        return pool.borrow().get();
    }

    /**
     * Two threads fighting over one object in a fair pool take strict turns: each holder
     * returns only once the other waits, and the return goes to that waiter, never back to
     * the returner - so neither can starve.
     */
    @Test
    void fair_twoThreadsOneObject_takeTurns() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            AtomicInteger last = new AtomicInteger(-1);
            AtomicInteger repeats = new AtomicInteger();
            AtomicInteger[] counts = {new AtomicInteger(), new AtomicInteger()};
            java.util.concurrent.atomic.AtomicBoolean[] done = {
                new java.util.concurrent.atomic.AtomicBoolean(),
                new java.util.concurrent.atomic.AtomicBoolean()};
            CyclicBarrier start = new CyclicBarrier(2);
            List<CompletableFuture<Void>> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int me = t;
                threads.add(fork(() -> {
                    start.await(10, TimeUnit.SECONDS);
                    for (int i = 0; i < 1_000; i++) {
                        try (Lease<Res> l = pool.borrow(Duration.ofSeconds(10))) {
                            l.get();
                            if (last.getAndSet(me) == me && !done[1 - me].get()) {
                                repeats.incrementAndGet();
                            }
                            counts[me].incrementAndGet();
                            while (pool.stats().waiting() == 0 && !done[1 - me].get()) {
                                Thread.onSpinWait();
                            }
                        }
                    }
                    done[me].set(true);
                    return null;
                }));
            }
            for (CompletableFuture<Void> f : threads) {
                f.get(25, TimeUnit.SECONDS);
            }
            assertEquals(1_000, counts[0].get());
            assertEquals(1_000, counts[1].get());
            assertTrue(repeats.get() <= 1, "a returner took the object back past a waiter "
                    + repeats + " times");
        }
    }

    /** 1000 virtual threads (Java 21+) sharing 10 objects, parking while they hold one, all finish. */
    @Test
    void borrow_thousandVirtualThreads_allServedNeverOverBound() throws Exception {
        java.lang.reflect.Method newExecutor;
        try {
            newExecutor = java.util.concurrent.Executors.class
                    .getMethod("newVirtualThreadPerTaskExecutor");
        } catch (NoSuchMethodException e) {
            org.junit.jupiter.api.Assumptions.assumeTrue(false, "virtual threads need Java 21+");
            return;
        }
        for (boolean fair : new boolean[] {true, false}) {
            thousandVirtualThreads(newExecutor, fair);
        }
    }

    private void thousandVirtualThreads(java.lang.reflect.Method newExecutor, boolean fair)
            throws Exception {
        factory.maxAlive.set(0);
        try (Pool<Res> pool = builder().maxSize(10).fair(fair).build()) {
            java.util.concurrent.ExecutorService ex =
                    (java.util.concurrent.ExecutorService) newExecutor.invoke(null);
            AtomicInteger doubleLends = new AtomicInteger();
            List<Future<?>> all = new ArrayList<>();
            for (int t = 0; t < 1000; t++) {
                all.add(ex.submit(() -> {
                    for (int i = 0; i < 20; i++) {
                        try (Lease<Res> l = pool.borrow()) {
                            Res r = l.get();
                            if (!r.inUse.compareAndSet(false, true)) {
                                doubleLends.incrementAndGet();
                            }
                            java.util.concurrent.locks.LockSupport.parkNanos(1_000);
                            r.inUse.set(false);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get(25, TimeUnit.SECONDS);
            }
            ex.shutdown();
            assertTrue(ex.awaitTermination(10, TimeUnit.SECONDS));
            assertEquals(0, doubleLends.get());
            assertEquals(20_000, pool.stats().borrows());
            assertTrue(factory.maxAlive.get() <= 10, "alive " + factory.maxAlive);
            assertEquals(0, pool.stats().waiting());
        }
    }

    /**
     * Randomized stress: many threads borrow every way, return, invalidate, time out and
     * cancel while the factory and validator fail now and then and the size changes. Checks
     * rules 1-3: never more alive than the bound, never lent twice, nothing lost or leaked.
     */
    @Test
    void stress_randomOperations_invariantsHold() throws Exception {
        for (boolean fair : new boolean[] {true, false}) {
            stress(fair);
        }
    }

    private void stress(boolean fair) throws Exception {
        Factory f = new Factory();
        AtomicInteger doubleLends = new AtomicInteger();
        AtomicInteger lentAfterDestroy = new AtomicInteger();
        Pool<Res> pool = Pool.builder(() -> {
            if (ThreadLocalRandom.current().nextInt(50) == 0) {
                throw new IllegalStateException("random factory failure");
            }
            return f.call();
        }).name("stress").maxSize(3).fair(fair)
                .validate(r -> ThreadLocalRandom.current().nextInt(40) != 0)
                .onReturn(r -> {
                    if (ThreadLocalRandom.current().nextInt(60) == 0) {
                        throw new IllegalStateException("random reset failure");
                    }
                })
                .destroy(r -> {
                    f.destroyed(r);
                    if (ThreadLocalRandom.current().nextInt(30) == 0) {
                        throw new IllegalStateException("random destroy failure");
                    }
                }).build();
        int threads = 8;
        CyclicBarrier start = new CyclicBarrier(threads);
        List<CompletableFuture<Integer>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(fork(() -> {
                start.await(10, TimeUnit.SECONDS);
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                int ok = 0;
                for (int i = 0; i < 3_000; i++) {
                    Lease<Res> l = null;
                    try {
                        switch (rnd.nextInt(6)) {
                            case 0:
                                l = pool.borrow();
                                break;
                            case 1:
                                l = pool.borrow(Duration.ofNanos(rnd.nextInt(200_000)));
                                break;
                            case 2:
                                l = pool.tryBorrow();
                                break;
                            case 3: {
                                CompletableFuture<Lease<Res>> fut = pool.borrowAsync();
                                if (rnd.nextInt(4) == 0 && fut.cancel(false)) {
                                    break;
                                }
                                l = fut.get(10, TimeUnit.SECONDS);
                                break;
                            }
                            case 4:
                                if (rnd.nextInt(100) == 0) {
                                    pool.setMaxSize(1 + rnd.nextInt(4));
                                }
                                l = pool.borrow(Duration.ofMillis(1));
                                break;
                            default:
                                l = pool.borrowAsync().get(10, TimeUnit.SECONDS);
                                break;
                        }
                    } catch (TimeoutException | IllegalStateException e) {
                        continue;
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof IllegalStateException)) {
                            throw e;
                        }
                        continue;
                    }
                    if (l == null) {
                        continue;
                    }
                    Res r = l.get();
                    if (!r.inUse.compareAndSet(false, true)) {
                        doubleLends.incrementAndGet();
                    }
                    if (r.closed.get()) {
                        lentAfterDestroy.incrementAndGet();
                    }
                    if (rnd.nextInt(8) == 0) {
                        Thread.yield();
                    }
                    r.inUse.set(false);
                    ok++;
                    if (rnd.nextInt(20) == 0) {
                        l.invalidate();
                    } else {
                        l.close();
                    }
                }
                return ok;
            }));
        }
        int total = 0;
        for (CompletableFuture<Integer> w : workers) {
            total += w.get(25, TimeUnit.SECONDS);
        }
        PoolStats s = pool.stats();
        assertEquals(0, s.waiting(), "no waiter left: " + s);
        assertEquals(s.size(), s.idle(), "everything came back: " + s);
        assertEquals(f.alive.get(), s.size(), "alive matches the factory: " + s);
        assertTrue(f.maxAlive.get() <= 4, "never above the largest bound: " + f.maxAlive);
        assertTrue(total > 0);
        assertTrue(s.borrows() >= total, s.toString());
        pool.close();
        assertTrue(pool.join(Duration.ofSeconds(10)));
        assertEquals(0, f.alive.get());
        s = pool.stats();
        assertEquals(s.created(), s.destroyed(), s.toString());
        assertEquals(0, doubleLends.get(), "lent to two borrowers at once");
        assertEquals(0, lentAfterDestroy.get(), "lent after destroyed");
    }
}
