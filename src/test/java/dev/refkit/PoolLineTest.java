package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The permits, control word and FIFO line alone, with a recording stand-in for the pool. */
@Timeout(30)
final class PoolLineTest {
    private final PoolSlots<String> slots = new PoolSlots<>(false, 0);
    private final List<PoolWaiter<String>> completed = new ArrayList<>();
    private final List<PoolSlot<String>> givenBack = new ArrayList<>();
    private PoolLine<String> line(int maxSize) {
        return new PoolLine<>("ln", maxSize, true, slots, this) {
            @Override
            void complete(PoolWaiter<String> w) {
                completed.add(w);
            }

            @Override
            void giveBackUnused(PoolSlot<String> s, long stamp) {
                givenBack.add(s);
            }
        };
    }

    @Test
    void reservePermit_upToMaxSize_thenRefused() {
        PoolLine<String> line = line(2);
        assertEquals(0, line.ctl());
        assertTrue(line.reservePermit());
        assertTrue(line.reservePermit());
        assertFalse(line.reservePermit());
        assertEquals(2, line.size());
        line.releasePermit();
        assertTrue(line.reservePermit());
    }

    @Test
    void setBound_belowSize_shrinkingUntilFits() {
        PoolLine<String> line = line(2);
        line.reservePermit();
        line.reservePermit();
        line.setBound(1);
        assertEquals(PoolLine.SHRINK, line.ctl());
        assertFalse(line.fits());
        line.releasePermit();
        assertTrue(line.fits());
        assertEquals(0, line.ctl(), "the release that fitted the pool cleared SHRINK");
    }

    /** A claimed surplus permit counts as gone for fits() but stays held for borrowers. */
    @Test
    void claimSurplusPermit_heldUntilReleased_onlyTheSurplus() {
        PoolLine<String> line = line(3);
        for (int i = 0; i < 3; i++) {
            assertTrue(line.reservePermit());
        }
        line.setBound(1);
        assertTrue(line.claimSurplusPermit());
        assertTrue(line.claimSurplusPermit());
        assertFalse(line.claimSurplusPermit(), "only the surplus: one must stay");
        assertTrue(line.fits(), "the claimed two count as gone");
        line.setBound(3);
        assertFalse(line.reservePermit(), "no object made while the claimed ones are alive");
        assertEquals(3, line.size());
        line.releaseRetiredPermit();
        assertEquals(2, line.size());
        assertTrue(line.reservePermit(), "a destroyed object's place is free again");
        line.releaseRetiredPermit();
        assertEquals(2, line.size());
        assertEquals(0, line.ctl());
    }

    @Test
    void markClosed_once_refusesPermitsAndSlots_terminatesWhenEmpty() throws Exception {
        PoolLine<String> line = line(2);
        assertTrue(line.reservePermit());
        assertNotNull(line.markClosed());
        assertNull(line.markClosed(), "closed already");
        assertTrue(line.isClosed());
        assertFalse(line.isTerminated(), "a permit is still held");
        ClosedException e = assertThrows(ClosedException.class, line::reservePermit);
        assertEquals("ln: pool closed", e.getMessage());
        assertFalse(line.addUnlessClosed(new PoolSlot<>("late", 0L, false)));
        assertEquals(0, slots.all().length);
        assertFalse(line.join(0L));
        line.releasePermit();
        assertTrue(line.isTerminated());
        assertTrue(line.join(0L));
    }

    /** A thread parked in join() wakes when the last permit is released after close. */
    @Test
    void join_parked_wokenByLastRelease() throws Exception {
        PoolLine<String> line = line(1);
        line.reservePermit();
        Future<Boolean> joined = TestThreads.forkParked(() -> {
            line.join();
            return line.isTerminated();
        });
        line.markClosed();
        line.terminateIfEmpty(); // a permit is held: nobody wakes for good
        line.releasePermit();
        assertTrue(joined.get(10, TimeUnit.SECONDS));
    }

    @Test
    void await_idleSlotAddedBeforeJoining_grantedByOwnScan() throws Exception {
        PoolLine<String> line = line(1);
        line.reservePermit();
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        assertTrue(line.addUnlessClosed(s));
        PoolWaiter<String> w = line.await(-1L, null, "borrow()");
        assertNotNull(w);
        assertSame(s, w.slot);
        assertEquals(PoolSlot.LENT, PoolSlot.kind(s.state()));
        assertEquals(0, line.waiting());
    }

    @Test
    void await_timeout_leavesLine() {
        PoolLine<String> line = line(1);
        line.reservePermit();
        TimeoutException e = assertThrows(TimeoutException.class,
                () -> line.await(Duration.ofMillis(5).toNanos(), Duration.ofMillis(5), "borrow()"));
        assertEquals("ln: no object free within PT0.005S (size 1 of 1, 0 waiting)",
                e.getMessage());
        assertEquals(0, line.waiting());
    }

    @Test
    void await_interruptedOnEntry_leavesLineAsIfNeverJoined() {
        PoolLine<String> line = line(1);
        line.reservePermit();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                () -> line.await(-1L, null, "borrow()"));
        assertEquals("ln: interrupted in borrow()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(0, line.waiting());
        assertEquals(0, line.ctl());
    }

    /** A returned slot goes to the oldest waiting future; the pool completes it. */
    @Test
    void handOver_futureWaiting_grantedAndCompletedOutsideLock() {
        PoolLine<String> line = line(1);
        line.reservePermit();
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        line.addUnlessClosed(s);
        CompletableFuture<Lease<String>> f = new CompletableFuture<>();
        line.enqueue(f);
        assertEquals(1, line.waiting());
        assertTrue(s.lentToIdle(s.state()));
        line.handOver(s);
        assertEquals(0, line.waiting());
        assertEquals(1, completed.size());
        assertSame(s, completed.get(0).slot);
        assertEquals(PoolWaiter.State.GRANTED, completed.get(0).state());
    }

    @Test
    void markClosed_futureWaiting_failedWithClosed() {
        PoolLine<String> line = line(1);
        line.reservePermit();
        CompletableFuture<Lease<String>> f = new CompletableFuture<>();
        line.enqueue(f);
        line.wakeClosed(line.markClosed());
        assertTrue(f.isCompletedExceptionally());
        assertEquals(PoolLine.CLOSED, line.ctl(), "closing clears the waiter count");
        assertTrue(givenBack.isEmpty());
    }
}
