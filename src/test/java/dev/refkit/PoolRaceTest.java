package dev.refkit;

import static dev.refkit.TestThreads.fork;
import static dev.refkit.PoolFixtures.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Races of {@link Pool} found by a randomized stress attack (issue #8): a signalled waiter
 * that gives up, {@code setMaxSize} against a borrow that makes an object, async dependents
 * that block, a granted object failing validation, close against a factory call.
 */
@Timeout(60)
final class PoolRaceTest {
    /** How long a bounded race loop may run; it stops earlier after its rounds. */
    private static final Duration RACE_BUDGET = Duration.ofSeconds(4);

    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("race").destroy(factory::destroyed);
    }

    // ---- 1: a signalled waiter that gives up passes the signal on

    /**
     * Unfair: the oldest waiter, signalled by a return as it is interrupted, passes the
     * wake-up on, so the next waiter gets the idle object. The race is forced by holding the
     * pool's lock while the first waiter, interrupted, blocks on it to leave the line, and
     * returning the object (which signals that waiter) from the lock holder.
     */
    @Test
    void unfair_signalledWaiterInterrupted_nextWaiterServed() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).fair(false).build()) {
            Lease<Res> held = pool.borrow();
            AtomicReference<Thread> first = new AtomicReference<>();
            CompletableFuture<Object> w1 = fork(() -> {
                first.set(Thread.currentThread());
                return pool.borrow();
            });
            eventually(() -> pool.stats().waiting() == 1, "first waiter in line");
            CompletableFuture<Res> w2 = fork(() -> {
                try (Lease<Res> l = pool.borrow()) {
                    return l.get();
                }
            });
            eventually(() -> pool.stats().waiting() == 2, "second waiter in line");
            pool.core.lock.lock();
            try {
                first.get().interrupt();
                eventually(() -> pool.core.lock.hasQueuedThread(first.get()),
                        "the interrupted waiter blocked on leaving the line");
                held.close(); // signals the first waiter, which is giving up
            } finally {
                pool.core.lock.unlock();
            }
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> w1.get(10, TimeUnit.SECONDS));
            assertInstanceOf(InterruptedException.class, e.getCause());
            assertEquals("race: interrupted in borrow()", e.getCause().getMessage());
            assertNotNull(w2.get(10, TimeUnit.SECONDS), "the second waiter must be woken");
            assertEquals(0, pool.stats().waiting());
            assertEquals(1, pool.stats().idle());
        }
    }

    // ---- 2: setMaxSize against a borrow that makes an object

    /**
     * {@code setMaxSize(1)} racing a {@code tryBorrow()} that makes the second object of a
     * pool of two never leaves the pool above its new bound once the leases come back.
     */
    @Test
    void setMaxSize_racesCreatingBorrow_poolFitsNewBound() throws Exception {
        AtomicReference<@Nullable Pool<Res>> current = new AtomicReference<>();
        AtomicReference<@Nullable Lease<Res>> got = new AtomicReference<>();
        raceLoop(20_000, () -> {
            Pool<Res> pool = builder().maxSize(2).build();
            current.set(pool);
            got.set(null);
            return pool.borrow();
        }, () -> got.set(Objects.requireNonNull(current.get()).tryBorrow()),
                () -> Objects.requireNonNull(current.get()).setMaxSize(1),
                (held, round) -> {
                    Pool<Res> pool = Objects.requireNonNull(current.get());
                    Lease<Res> second = got.get();
                    if (second != null) {
                        second.close();
                    }
                    held.close();
                    int size = pool.stats().size();
                    Lease<Res> a = pool.tryBorrow();
                    Lease<Res> b = pool.tryBorrow();
                    boolean both = a != null && b != null;
                    pool.close();
                    if (size > 1 || both) {
                        fail("round " + round + ": size " + size + " of maxSize "
                                + pool.maxSize() + ", two tryBorrow() at once: " + both);
                    }
                });
    }

    // ---- 3: async dependents that block

    /**
     * A dependent that closes its lease and then waits for the next waiting future gets it:
     * the grant is delivered at once, not held until the dependent returns.
     */
    @Test
    void borrowAsync_dependentClosesThenWaitsForNext_nextCompleted() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
            CompletableFuture<Lease<Res>> f2 = pool.borrowAsync();
            CompletableFuture<Res> second = new CompletableFuture<>();
            f1.thenAccept(l -> {
                l.close();
                try (Lease<Res> next = f2.get(2, TimeUnit.SECONDS)) {
                    second.complete(next.get());
                } catch (Exception e) {
                    second.completeExceptionally(e);
                }
            });
            CompletableFuture<Object> closer = fork(() -> {
                held.close();
                return "returned";
            });
            assertNotNull(second.get(10, TimeUnit.SECONDS));
            assertEquals("returned", closer.get(10, TimeUnit.SECONDS));
            assertEquals(1, pool.stats().idle());
        }
    }

    /**
     * A dependent that closes its lease and then borrows gets the object back once the next
     * future's own dependent has used and closed it: nothing is held back meanwhile.
     */
    @Test
    void borrowAsync_dependentClosesThenBorrows_getsObjectInTime() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f1 = pool.borrowAsync();
            pool.borrowAsync().thenAccept(Lease::close);
            CompletableFuture<Res> again = new CompletableFuture<>();
            f1.thenAccept(l -> {
                l.close();
                try (Lease<Res> next = pool.borrow(Duration.ofSeconds(2))) {
                    again.complete(next.get());
                } catch (Exception e) {
                    again.completeExceptionally(e);
                }
            });
            held.close();
            assertNotNull(again.get(10, TimeUnit.SECONDS));
        }
    }

    // ---- 4: a granted object that fails validation

    /**
     * Fair: when the object handed to the oldest waiter fails validation, that waiter makes
     * a new one in its place and is still served before the waiter behind it.
     */
    @Test
    void fair_grantedObjectFailsValidation_oldestWaiterServedFirst() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> r.id != 1).build()) {
            Lease<Res> held = pool.borrow(); // object 1, which fails validation once back
            ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
            List<CompletableFuture<Object>> all = new ArrayList<>();
            for (int i = 1; i <= 2; i++) {
                int id = i;
                all.add(fork(() -> {
                    try (Lease<Res> l = pool.borrow()) {
                        l.get();
                        order.add(id);
                    }
                    return id;
                }));
                eventually(() -> pool.stats().waiting() == id, "waiter " + id + " in line");
            }
            held.close();
            CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]))
                    .get(10, TimeUnit.SECONDS);
            assertEquals(List.of(1, 2), new ArrayList<>(order));
            assertEquals(1, pool.stats().size());
        }
    }

    /** Fair, async: a future whose granted object fails validation keeps its turn. */
    @Test
    void fair_asyncGrantedObjectFailsValidation_oldestFutureServedFirst() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> r.id != 1).build()) {
            Lease<Res> held = pool.borrow();
            ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
            CompletableFuture<Void> f1 = pool.borrowAsync().thenAccept(l -> {
                order.add(1);
                l.close();
            });
            CompletableFuture<Void> f2 = pool.borrowAsync().thenAccept(l -> {
                order.add(2);
                l.close();
            });
            held.close();
            CompletableFuture.allOf(f1, f2).get(10, TimeUnit.SECONDS);
            assertEquals(List.of(1, 2), new ArrayList<>(order));
        }
    }

    // ---- 6: close against a factory call

    /**
     * {@code join} returns true only once every factory call begun before
     * {@code close()} has finished and its object is destroyed: three threads make and
     * invalidate objects while the pool closes.
     */
    @Test
    void join_racesFactoryCalls_trueOnlyWhenAllDestroyed() throws Exception {
        AtomicInteger inFactory = new AtomicInteger();
        AtomicInteger alive = new AtomicInteger();
        int creators = 3;
        CyclicBarrier start = new CyclicBarrier(creators + 1);
        CyclicBarrier done = new CyclicBarrier(creators + 1);
        AtomicReference<@Nullable Pool<Object>> current = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < creators; t++) {
            Thread th = new Thread(() -> {
                try {
                    for (;;) {
                        start.await();
                        Pool<Object> pool = current.get();
                        if (pool == null) {
                            return;
                        }
                        try {
                            for (;;) {
                                Lease<Object> l = pool.tryBorrow();
                                if (l != null) {
                                    l.invalidate();
                                }
                            }
                        } catch (ClosedException expected) {
                            // the pool closed: this round is over
                        }
                        done.await();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            th.setDaemon(true);
            th.start();
            threads.add(th);
        }
        long deadline = System.nanoTime() + RACE_BUDGET.toNanos();
        try {
            for (int round = 0; round < 30_000 && System.nanoTime() - deadline < 0; round++) {
                Pool<Object> pool = Pool.builder(() -> {
                    inFactory.incrementAndGet();
                    alive.incrementAndGet();
                    Object o = new Object();
                    inFactory.decrementAndGet();
                    return o;
                }).maxSize(8).destroy(o -> alive.decrementAndGet()).name("race").build();
                current.set(pool);
                start.await(10, TimeUnit.SECONDS);
                spin();
                pool.close();
                assertTrue(pool.join(Duration.ofSeconds(10)));
                int running = inFactory.get();
                int left = alive.get();
                done.await(10, TimeUnit.SECONDS);
                if (running != 0 || left != 0) {
                    fail("round " + round + ": join() returned true with " + running
                            + " factory call(s) running and " + left + " object(s) alive");
                }
            }
        } finally {
            current.set(null);
            start.await(10, TimeUnit.SECONDS);
            for (Thread th : threads) {
                th.join(TimeUnit.SECONDS.toMillis(10));
            }
        }
        assertEquals(null, failure.get());
    }

    // ---- helpers

    /** Checks the outcome of one round of {@link #raceLoop}. */
    private interface RoundCheck {
        void check(Lease<Res> held, int round) throws Exception;
    }

    /**
     * Runs up to {@code rounds} rounds (and at most {@link #RACE_BUDGET}): {@code setup} in
     * this thread, then {@code a} in a helper thread and {@code b} in this one, started
     * together (both spin on a round number, so neither has to be woken) and each after a
     * random spin of its own so that the two sweep across each other, then {@code check}
     * once both are done.
     */
    private static void raceLoop(int rounds, Callable<Lease<Res>> setup, Runnable a,
            Runnable b, RoundCheck check) throws Exception {
        AtomicInteger go = new AtomicInteger(-1);
        AtomicInteger done = new AtomicInteger(-1);
        long deadline = System.nanoTime() + RACE_BUDGET.toNanos();
        CompletableFuture<Object> helper = fork(() -> {
            for (int round = 0;; round++) {
                int g;
                while ((g = go.get()) < round) {
                    Thread.onSpinWait();
                }
                if (g == Integer.MAX_VALUE) {
                    return "stopped";
                }
                spin();
                a.run();
                done.set(round);
            }
        });
        try {
            for (int round = 0; round < rounds && System.nanoTime() - deadline < 0; round++) {
                Lease<Res> held = setup.call();
                go.set(round);
                spin();
                b.run();
                while (done.get() < round) {
                    if (helper.isDone()) {
                        helper.get(); // rethrows what stopped the helper
                    }
                    Thread.onSpinWait();
                }
                check.check(held, round);
            }
        } finally {
            go.set(Integer.MAX_VALUE);
            helper.get(10, TimeUnit.SECONDS);
        }
    }

    /** A random busy wait of up to a few hundred nanoseconds. */
    private static void spin() {
        for (int i = ThreadLocalRandom.current().nextInt(64); i > 0; i--) {
            Thread.onSpinWait();
        }
    }
}
