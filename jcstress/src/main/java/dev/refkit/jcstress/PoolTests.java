package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

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
 * never exceeds the bound), close racing a return (the object is destroyed exactly once) and
 * the cancel of an async borrow racing the return that would complete it (the object ends
 * either with the future or idle, never lost, never both).
 */
public final class PoolTests {
    private PoolTests() {}

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
            try {
                held = pool.borrow();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
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
            try {
                held = pool.borrow();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
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
}
