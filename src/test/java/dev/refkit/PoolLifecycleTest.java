package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.time.Duration;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Pool#state()}, {@link Pool#toString()}, {@link Pool#join()} and the interrupt rule. */
@Timeout(30)
final class PoolLifecycleTest {
    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("db").destroy(factory::destroyed);
    }

    @Test
    void state_open_closing_closed() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        assertEquals(Pool.State.OPEN, pool.state());
        Lease<Res> held = pool.borrow();
        pool.borrow().close();
        assertEquals(Pool.State.OPEN, pool.state());
        pool.close();
        assertEquals(Pool.State.CLOSING, pool.state(), "one object still lent");
        held.close();
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    void state_closeWithNothingLent_closedAtOnce() {
        Pool<Res> pool = builder().build();
        pool.close();
        assertEquals(Pool.State.CLOSED, pool.state());
    }

    @Test
    void toString_eachState_kindNameStateCounts() throws Exception {
        Pool<Res> pool = builder().maxSize(2).build();
        assertEquals("Pool[db]{OPEN, idle=0, lent=0, waiting=0}", pool.toString());
        Lease<Res> held = pool.borrow();
        pool.borrow().close();
        assertEquals("Pool[db]{OPEN, idle=1, lent=1, waiting=0}", pool.toString());
        pool.close();
        assertEquals("Pool[db]{CLOSING, idle=0, lent=1, waiting=0}", pool.toString());
        held.close();
        assertEquals("Pool[db]{CLOSED, idle=0, lent=0, waiting=0}", pool.toString());
    }

    @Test
    void toString_waiter_counted() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> held = pool.borrow();
            Future<Lease<Res>> waiter = TestThreads.forkParked(pool::borrow);
            assertEquals("Pool[db]{OPEN, idle=0, lent=1, waiting=1}", pool.toString());
            held.close();
            waiter.get(10, TimeUnit.SECONDS).close();
        }
    }

    /** join() called before close() waits for close, and never closes the pool itself. */
    @Test
    void join_beforeClose_waitsForClose() throws Exception {
        Pool<Res> pool = builder().build();
        pool.borrow().close();
        Future<Boolean> joined = TestThreads.forkParked(() -> {
            pool.join();
            return pool.isClosed();
        });
        assertFalse(joined.isDone());
        assertEquals(Pool.State.OPEN, pool.state(), "join must not close the pool");
        pool.close();
        assertTrue(joined.get(10, TimeUnit.SECONDS));
        assertEquals(0, factory.alive.get());
    }

    @Test
    void joinDuration_beforeClose_falseAfterTimeout_poolStillOpen() throws Exception {
        try (Pool<Res> pool = builder().build()) {
            assertFalse(pool.join(Duration.ofMillis(20)));
            assertEquals(Pool.State.OPEN, pool.state());
            pool.borrow().close();
        }
    }

    /** join(Duration) before close waits for close and the return of a lent object. */
    @Test
    void joinDuration_beforeClose_trueOnceClosedAndReturned() throws Exception {
        Pool<Res> pool = builder().build();
        Lease<Res> held = pool.borrow();
        Future<Boolean> joined = TestThreads.forkParked(() -> pool.join(Duration.ofMinutes(1)));
        pool.close();
        assertFalse(joined.isDone());
        held.close();
        assertTrue(joined.get(10, TimeUnit.SECONDS));
    }

    @Test
    void join_interruptedOnEntry_throwsEvenWhenClosed() {
        Pool<Res> pool = builder().build();
        pool.close();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, pool::join);
        assertEquals("db: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag cleared");
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> pool.join(Duration.ZERO));
        assertEquals("db: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag cleared");
    }

    @Test
    void join_interruptedWhileWaitingBeforeClose_throws() throws Exception {
        try (Pool<Res> pool = builder().build()) {
            InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
                pool.join();
                return null;
            });
            assertEquals("db: interrupted in join()", e.getMessage());
        }
    }

    /** By the interrupt rule, borrow() checks the flag first, even with an object free. */
    @Test
    void borrow_interruptedOnEntryObjectFree_throwsAndLendsNothing() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            pool.borrow().close(); // the object is idle and this thread's hint
            Thread.currentThread().interrupt();
            InterruptedException e = assertThrows(InterruptedException.class, pool::borrow);
            assertEquals("db: interrupted in borrow()", e.getMessage());
            assertFalse(Thread.interrupted(), "flag cleared");
            assertEquals(0, pool.stats().lent());
            Thread.currentThread().interrupt();
            e = assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ofSeconds(1)));
            assertEquals("db: interrupted in borrow(Duration)", e.getMessage());
            assertFalse(Thread.interrupted(), "flag cleared");
            Thread.currentThread().interrupt();
            e = assertThrows(InterruptedException.class, () -> pool.borrow(Duration.ZERO));
            assertEquals("db: interrupted in borrow(Duration)", e.getMessage());
            assertFalse(Thread.interrupted(), "flag cleared");
            assertEquals(1, pool.stats().idle());
        }
    }

    /** tryBorrow and borrowAsync never wait, and so never look at the interrupt flag. */
    @Test
    void tryBorrowAndBorrowAsync_interruptFlagSet_lendAndKeepFlag() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Thread.currentThread().interrupt();
            Lease<Res> l = pool.tryBorrow();
            assertNotNull(l);
            l.close();
            pool.borrowAsync().get(10, TimeUnit.SECONDS).close();
            assertTrue(Thread.interrupted(), "flag kept");
        }
    }

    /**
     * setMaxSize refuses an unbounded pool, and the idle bookkeeping that enforces maxIdle
     * stays right around it: every move of a slot out of IDLE (borrow, shrink, close, expiry)
     * goes through one transition that counts it (see PoolSlotsTest).
     */
    @Test
    void setMaxSize_unbounded_refusedIdleBookkeepingKept() throws Exception {
        try (Pool<Res> pool = builder().maxSize(0).maxIdle(2).build()) {
            Lease<Res> a = pool.borrow();
            Lease<Res> b = pool.borrow();
            Lease<Res> c = pool.borrow();
            a.close();
            b.close();
            c.close(); // beyond maxIdle: destroyed
            assertEquals(2, pool.stats().idle());
            assertEquals(2, pool.core.idleCount());
            IllegalStateException e =
                    assertThrows(IllegalStateException.class, () -> pool.setMaxSize(1));
            assertEquals("db: an unbounded pool cannot be resized", e.getMessage());
            Lease<Res> x = pool.borrow();
            Lease<Res> y = pool.borrow();
            assertEquals(0, pool.core.idleCount());
            x.close();
            y.close();
            assertEquals(2, pool.core.idleCount());
            assertEquals(2, pool.stats().idle());
            assertEquals(2, factory.alive.get());
        }
    }
}
