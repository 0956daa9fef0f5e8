package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A waiter's state moves only from WAITING, once. */
final class PoolWaiterTest {

    @Test
    void grantSlot_waiting_grantedWithSlotAndStamp() {
        PoolWaiter<String> w = PoolWaiter.forThread();
        assertSame(Thread.currentThread(), w.thread);
        assertEquals(PoolWaiter.State.WAITING, w.state());
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        w.grantSlot(s, s.state());
        assertEquals(PoolWaiter.State.GRANTED, w.state());
        assertSame(s, w.slot);
        assertEquals(s.state(), w.stamp);
    }

    @Test
    void grantPermit_future_grantedWithoutSlot() {
        CompletableFuture<Lease<String>> f = new CompletableFuture<>();
        PoolWaiter<String> w = PoolWaiter.forFuture(f);
        assertNull(w.thread);
        assertSame(f, w.future);
        w.grantPermit();
        assertEquals(PoolWaiter.State.GRANTED, w.state());
        assertNull(w.slot);
    }

    @Test
    void everyTransition_secondOne_assertionError() {
        PoolWaiter<String> cancelled = PoolWaiter.forThread();
        cancelled.cancel();
        assertEquals(PoolWaiter.State.CANCELLED, cancelled.state());
        assertThrows(AssertionError.class, cancelled::grantPermit);
        PoolWaiter<String> closed = PoolWaiter.forThread();
        closed.markClosed();
        assertEquals(PoolWaiter.State.CLOSED, closed.state());
        assertThrows(AssertionError.class, closed::signal);
        PoolWaiter<String> signalled = PoolWaiter.forThread();
        signalled.signal();
        assertEquals(PoolWaiter.State.SIGNALLED, signalled.state());
        assertThrows(AssertionError.class, signalled::cancel);
        assertEquals(PoolWaiter.State.SIGNALLED, signalled.state());
    }
}
