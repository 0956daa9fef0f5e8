package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.refkit.ClosedException;
import dev.refkit.Lease;
import dev.refkit.Pool;
import dev.refkit.PoolStats;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Races on {@link Pool}: a return racing a borrow (the object is lent at most once, and never
 * lost), two borrowers racing for the last slot (one gets it, the other times out, the count
 * never exceeds the bound), close racing a return (the object is destroyed exactly once),
 * the cancel of an async borrow racing the return that would complete it (the object ends
 * either with the future or idle, never lost, never both), and from issue #8: in an unfair
 * pool, the interrupt of the oldest waiting thread racing the return that signals it (the
 * next waiter is served, never left waiting beside an idle object); {@code setMaxSize}
 * racing a borrow that makes an object (the pool fits the new bound once the leases are
 * back); {@code close()} racing a borrow that makes an object ({@code join} is
 * true only once no factory call runs and nothing is alive); {@code setMaxSize} racing a
 * return (exactly the surplus is destroyed, never more); and a shrink's destroy racing a
 * grow and the borrows it allows (never more alive than the bound, even for a moment).
 */
public final class PoolTests {
    private PoolTests() {}

    /** Borrows in a state's constructor, where an object is free and nothing interrupts. */
    static <T> Lease<T> lent(Pool<T> pool) {
        try {
            return pool.borrow();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** A pool of one whose object is lent to {@code held}; counts what it makes and destroys. */
    abstract static class OneLent {
        final AtomicInteger alive = new AtomicInteger();
        final AtomicInteger destroyed = new AtomicInteger();
        final Pool<Object> pool = Pool.builder(() -> {
            alive.incrementAndGet();
            return new Object();
        }).maxSize(1).destroy(o -> {
            destroyed.incrementAndGet();
            alive.decrementAndGet();
        }).name("jcstress").build();
        final Lease<Object> held;

        OneLent() {
            held = lent(pool);
        }
    }

    /** A return racing a tryBorrow: the object is lent to one lease at a time, never lost. */
    @JCStressTest
    @Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "borrowed after the return: lent once, none idle")
    @Outcome(id = "0, 0, 1", expect = ACCEPTABLE, desc = "borrow came first and found nothing; object idle")
    @Outcome(expect = FORBIDDEN, desc = "lent twice, lost, or a second object made")
    @State
    public static class ReturnRacesBorrow extends OneLent {
        Lease<Object> second;

        @Actor
        public void returner() {
            held.close();
        }

        @Actor
        public void borrower() {
            second = pool.tryBorrow();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = second != null ? 1 : 0;
            r.r2 = (held.isClosed() ? 0 : 1) + (second != null && !second.isClosed() ? 1 : 0)
                    + alive.get() - 1;
            r.r3 = pool.stats().idle();
        }
    }

    /** Two borrowers racing for the last free slot of a pool of two: one wins, one times out. */
    @JCStressTest
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "first borrower won, second timed out; 2 alive")
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "second borrower won, first found none; 2 alive")
    @Outcome(expect = FORBIDDEN, desc = "both or neither got it, or more than maxSize alive")
    @State
    public static class TwoBorrowersLastSlot {
        final AtomicInteger alive = new AtomicInteger();
        final Pool<Object> pool = Pool.builder(() -> {
            alive.incrementAndGet();
            return new Object();
        }).maxSize(2).name("jcstress").build();
        final Lease<Object> held;
        volatile int a;
        volatile int b;

        public TwoBorrowersLastSlot() {
            held = lent(pool);
        }

        @Actor
        public void first() {
            a = pool.tryBorrow() != null ? 1 : 0;
        }

        @Actor
        public void second() {
            try {
                pool.borrow(Duration.ZERO);
                b = 1;
            } catch (TimeoutException e) {
                b = 0;
            } catch (InterruptedException e) {
                b = -1;
            }
        }

        @Arbiter
        public void arbiter(II_Result r) {
            PoolStats s = pool.stats();
            boolean sane = alive.get() == 2 && s.size() == 2 && s.lent() == 2;
            r.r1 = sane ? a : 10 + alive.get();
            r.r2 = sane ? b : 10 + s.size();
        }
    }

    /** close() racing the return of the last lent object: destroyed exactly once. */
    @JCStressTest
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "destroyed once, nothing alive")
    @Outcome(expect = FORBIDDEN, desc = "destroyed twice or never")
    @State
    public static class CloseRacesReturn extends OneLent {
        @Actor
        public void returner() {
            held.close();
        }

        @Actor
        public void closer() {
            pool.close();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = destroyed.get();
            r.r2 = alive.get() + pool.stats().size();
        }
    }

    /** Cancelling an async borrow racing the return that completes it: nothing lost. */
    @JCStressTest
    @Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "cancelled first; the object stays idle")
    @Outcome(id = "0, 0, 1", expect = ACCEPTABLE, desc = "completed first; the future holds the object")
    @Outcome(expect = FORBIDDEN, desc = "object lost, lent twice, or given to a cancelled future")
    @State
    public static class CancelRacesReturn extends OneLent {
        final CompletableFuture<Lease<Object>> waiter = pool.borrowAsync();
        volatile boolean cancelled;

        @Actor
        public void returner() {
            held.close();
        }

        @Actor
        public void canceller() {
            cancelled = waiter.cancel(false);
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = cancelled ? 1 : 0;
            r.r2 = pool.stats().idle();
            Lease<Object> got = waiter.isCompletedExceptionally() ? null : waiter.getNow(null);
            r.r3 = got != null && !got.isClosed() ? 1 : 0;
        }
    }

    /**
     * Unfair pool of one, its object lent: a thread waits first (spinning, as the head of the
     * line does, or parked), a future second; the other actor interrupts the thread and at
     * once returns the object, whose return signals that thread while it may be giving up.
     * Whichever wins, the future is served: a waiter that gives up after being signalled
     * passes the wake-up on. (Two actors, so that it runs on two CPUs.)
     */
    @JCStressTest
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "waiter interrupted; the future got the object")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "waiter took the object first, then the future")
    @Outcome(id = "0, 0", expect = FORBIDDEN, desc = "wake-up swallowed: the future waits beside an idle object")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class SignalledWaiterInterrupted {
        final Pool<Object> pool = Pool.builder(Object::new).maxSize(1).fair(false)
                .name("jcstress").build();
        final Lease<Object> held;
        volatile Thread waiter;
        CompletableFuture<Lease<Object>> next;
        int got;

        public SignalledWaiterInterrupted() {
            held = lent(pool);
        }

        @Actor
        public void waiter() {
            waiter = Thread.currentThread();
            try {
                pool.borrow().close();
                got = 1;
            } catch (InterruptedException e) {
                got = 0;
            }
            // The interrupt is sent before the return, so it has come by now; if the borrow
            // did not consume it, clear it for the next test on this thread.
            Thread.interrupted();
        }

        @Actor
        public void interrupterAndReturner() {
            while (pool.stats().waiting() == 0) {
                Thread.onSpinWait();
            }
            next = pool.borrowAsync(); // queued behind the waiting thread
            waiter.interrupt();
            held.close();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = got;
            CompletableFuture<Lease<Object>> f = next;
            Lease<Object> l = f.isDone() && !f.isCompletedExceptionally() ? f.getNow(null) : null;
            r.r2 = l != null ? 1 : 0;
        }
    }

    /**
     * Pool of two with one object lent: {@code setMaxSize(1)} races a {@code tryBorrow()}
     * that makes the second object. Once every lease is back, one object is alive.
     */
    @JCStressTest
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "borrow made the second object; shrunk to 1 on return")
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the new bound came first; no second object")
    @Outcome(expect = FORBIDDEN, desc = "the pool stays above its new bound")
    @State
    public static class ShrinkRacesCreatingBorrow {
        final Pool<Object> pool = Pool.builder(Object::new).maxSize(2).name("jcstress").build();
        final Lease<Object> held;
        Lease<Object> second;

        public ShrinkRacesCreatingBorrow() {
            held = lent(pool);
        }

        @Actor
        public void borrower() {
            second = pool.tryBorrow();
        }

        @Actor
        public void shrinker() {
            pool.setMaxSize(1);
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = second != null ? 1 : 0;
            if (second != null) {
                second.close();
            }
            held.close();
            r.r2 = pool.stats().size();
        }
    }

    /**
     * {@code close()} races a {@code tryBorrow()} that makes an object: if
     * {@code join} says the pool is done, no factory call runs and nothing is alive.
     */
    @JCStressTest
    @Outcome(id = "1, 0, 0", expect = ACCEPTABLE, desc = "borrowed before close; still lent, not terminated")
    @Outcome(id = "0, 1, 0", expect = ACCEPTABLE, desc = "close came first; terminated, nothing made")
    @Outcome(id = "0, 0, 0", expect = ACCEPTABLE, desc = "factory call under way at close; not terminated yet")
    @Outcome(expect = FORBIDDEN, desc = "terminated while a factory call runs or an object is alive")
    @State
    public static class CloseRacesFactoryCall {
        final AtomicInteger inFactory = new AtomicInteger();
        final AtomicInteger alive = new AtomicInteger();
        final Pool<Object> pool = Pool.builder(() -> {
            inFactory.incrementAndGet();
            alive.incrementAndGet();
            Object o = new Object();
            inFactory.decrementAndGet();
            return o;
        }).maxSize(2).destroy(o -> alive.decrementAndGet()).name("jcstress").build();
        Lease<Object> lease;
        int terminated;
        int seen;

        @Actor
        public void borrower() {
            try {
                lease = pool.tryBorrow();
            } catch (ClosedException e) {
                lease = null;
            }
        }

        @Actor
        public void closer() {
            pool.close();
            try {
                terminated = pool.join(Duration.ZERO) ? 1 : 0;
            } catch (InterruptedException e) {
                terminated = -1;
            }
            seen = terminated == 1 ? inFactory.get() + alive.get() : 0;
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = lease != null ? 1 : 0;
            r.r2 = terminated;
            r.r3 = seen;
            if (lease != null) {
                lease.close();
            }
        }
    }

    /**
     * Pool of three, two objects lent and one idle: {@code setMaxSize(2)} races the return of
     * one lease. The shrinker destroys the idle object while the returner sees the pool still
     * too big; one decision under the line's lock claims the surplus, so exactly one object goes and two stay once
     * every lease is back (never fewer than the bound asks).
     */
    @JCStressTest
    @Outcome(id = "2, 1", expect = ACCEPTABLE, desc = "one object destroyed; the pool is at its new bound")
    @Outcome(expect = FORBIDDEN, desc = "the shrink destroyed too many, or too few")
    @State
    public static class ShrinkRacesReturn {
        final AtomicInteger destroyed = new AtomicInteger();
        final Pool<Object> pool = Pool.builder(Object::new).maxSize(3)
                .destroy(o -> destroyed.incrementAndGet()).name("jcstress").build();
        final Lease<Object> a;
        final Lease<Object> b;

        public ShrinkRacesReturn() {
            a = lent(pool);
            b = lent(pool);
            lent(pool).close();
        }

        @Actor
        public void returner() {
            a.close();
        }

        @Actor
        public void shrinker() {
            pool.setMaxSize(2);
        }

        @Arbiter
        public void arbiter(II_Result r) {
            b.close();
            r.r1 = pool.stats().size();
            r.r2 = destroyed.get();
        }
    }

    /**
     * Pool of two, both idle: {@code setMaxSize(1)} destroys one while another thread grows
     * the bound back to 2 and borrows twice. The destroyed object's place is freed only once
     * its destroyer returned, so the borrows never make an object beside it: never more than
     * two alive at once (a CI stress run once saw one above the bound).
     */
    @JCStressTest
    @Outcome(id = {"2, 0", "2, 1", "2, 2"}, expect = ACCEPTABLE, desc = "never more than two alive; borrowed what was free")
    @Outcome(expect = FORBIDDEN, desc = "a third object made while the surplus one was being destroyed")
    @State
    public static class ShrinkDestroyRacesGrow {
        final AtomicInteger alive = new AtomicInteger();
        final AtomicInteger maxAlive = new AtomicInteger();
        final Pool<Object> pool = Pool.builder(() -> {
            maxAlive.accumulateAndGet(alive.incrementAndGet(), Math::max);
            return new Object();
        }).maxSize(2).destroy(o -> alive.decrementAndGet()).name("jcstress").build();
        Lease<Object> first;
        Lease<Object> second;

        public ShrinkDestroyRacesGrow() {
            Lease<Object> a = lent(pool);
            lent(pool).close();
            a.close();
        }

        @Actor
        public void shrinker() {
            pool.setMaxSize(1);
        }

        @Actor
        public void grower() {
            pool.setMaxSize(2);
            first = pool.tryBorrow();
            second = pool.tryBorrow();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = maxAlive.get();
            r.r2 = (first == null ? 0 : 1) + (second == null ? 0 : 1);
            pool.close();
        }
    }
}
