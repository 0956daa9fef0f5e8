package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
final class WaitTest {

    /** A wait on a volatile flag that counts its hooks. */
    static final class Flag extends Wait {
        volatile boolean done;
        final AtomicInteger interrupts = new AtomicInteger();
        final AtomicInteger timeouts = new AtomicInteger();
        final AtomicInteger exits = new AtomicInteger();
        final AtomicInteger parks = new AtomicInteger();
        volatile boolean completeOnTimeout;
        int spins;

        @Override
        protected boolean isDone() {
            return done;
        }

        @Override
        protected void beforePark() {
            parks.incrementAndGet();
        }

        @Override
        protected int spins() {
            return spins;
        }

        @Override
        protected void onInterrupt() {
            interrupts.incrementAndGet();
        }

        @Override
        protected boolean onTimeout() {
            timeouts.incrementAndGet();
            if (completeOnTimeout) {
                done = true;
                return false;
            }
            return true;
        }

        @Override
        protected void onExit() {
            exits.incrementAndGet();
        }
    }

    @AfterEach
    void clearFlag() {
        Thread.interrupted();
    }

    @Test
    void await_alreadyDone_returnsWithoutParking() throws Exception {
        Flag w = new Flag();
        w.done = true;
        w.await(this, "x", "m()");
        assertEquals(0, w.parks.get());
        assertEquals(1, w.exits.get());
    }

    @Test
    void await_interruptedOnEntry_throwsBeforeLookingEvenIfDone() {
        Flag w = new Flag();
        w.done = true;
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                () -> w.await(this, "db", "join()"));
        assertEquals("db: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted(), "flag cleared");
        assertEquals(0, w.interrupts.get(), "nothing began, nothing to undo");
    }

    @Test
    void await_unparkedAfterDone_returns() throws Exception {
        Flag[] box = new Flag[1];
        Parked.Run<Integer> waiting = Parked.run(() -> {
            Flag f = new Flag();
            box[0] = f;
            f.await(this, "x", "m()");
            return f.parks.get();
        }).parked();
        box[0].done = true;
        LockSupport.unpark(waiting.thread);
        assertTrue(waiting.get() >= 1);
    }

    @Test
    void await_spuriousWakeUp_parksAgain() throws Exception {
        Flag[] box = new Flag[1];
        Parked.Run<Integer> waiting = Parked.run(() -> {
            Flag f = new Flag();
            box[0] = f;
            f.await(this, "x", "m()");
            return f.parks.get();
        }).parked();
        LockSupport.unpark(waiting.thread); // not done: a spurious wake-up
        while (box[0].parks.get() < 2) {
            Thread.onSpinWait();
        }
        waiting.parked();
        box[0].done = true;
        LockSupport.unpark(waiting.thread);
        assertEquals(2, waiting.get());
    }

    @Test
    void await_interruptedWhileParked_undoesAndThrowsWithFlagClear() throws Exception {
        Flag[] box = new Flag[1];
        Parked.Run<Boolean> waiting = Parked.run(() -> {
            Flag f = new Flag();
            box[0] = f;
            try {
                f.await(this, "db", "borrow()");
                return false;
            } catch (InterruptedException e) {
                assertEquals("db: interrupted in borrow()", e.getMessage());
                return !Thread.currentThread().isInterrupted();
            }
        }).parked();
        waiting.thread.interrupt();
        assertTrue(waiting.get(), "flag cleared when thrown");
        assertEquals(1, box[0].interrupts.get());
        assertEquals(1, box[0].exits.get());
    }

    @Test
    void awaitUninterruptibly_interrupted_keepsWaitingAndSetsFlag() throws Exception {
        Flag[] box = new Flag[1];
        Parked.Run<Boolean> waiting = Parked.run(() -> {
            Flag f = new Flag();
            box[0] = f;
            f.awaitUninterruptibly(this);
            return Thread.currentThread().isInterrupted();
        }).parked();
        waiting.thread.interrupt();
        while (box[0].parks.get() < 2) {
            Thread.onSpinWait();
        }
        waiting.parked(); // still waiting after the interrupt
        box[0].done = true;
        LockSupport.unpark(waiting.thread);
        assertTrue(waiting.get(), "flag set on return");
        assertEquals(0, box[0].interrupts.get());
    }

    @Test
    void awaitUninterruptibly_interruptedOnEntryAndDone_returnsWithFlag() {
        Flag w = new Flag();
        w.done = true;
        Thread.currentThread().interrupt();
        w.awaitUninterruptibly(this);
        assertTrue(Thread.interrupted());
    }

    @Test
    void awaitNanos_zero_timesOutWithoutParking() throws Exception {
        Flag w = new Flag();
        assertFalse(w.awaitNanos(0L, this, "x", "m()"));
        assertEquals(0, w.parks.get());
        assertEquals(1, w.timeouts.get());
    }

    @Test
    void awaitNanos_timeUp_callsOnTimeoutOnce() throws Exception {
        Flag w = new Flag();
        long t0 = System.nanoTime();
        assertFalse(w.awaitNanos(20_000_000L, this, "x", "m()"));
        assertTrue(System.nanoTime() - t0 >= 20_000_000L, "waited the whole time");
        assertEquals(1, w.timeouts.get());
    }

    @Test
    void awaitNanos_doneMeanwhileAtTimeout_returnsTrue() throws Exception {
        Flag w = new Flag();
        w.completeOnTimeout = true;
        assertTrue(w.awaitNanos(1_000_000L, this, "x", "m()"));
    }

    @Test
    void awaitNanos_hugeTimeout_doesNotOverflow() throws Exception {
        Flag[] box = new Flag[1];
        Parked.Run<Boolean> waiting = Parked.run(() -> {
            Flag f = new Flag();
            box[0] = f;
            return f.awaitNanos(Long.MAX_VALUE, this, "x", "m()");
        }).parked();
        box[0].done = true;
        LockSupport.unpark(waiting.thread);
        assertTrue(waiting.get());
        assertEquals(0, box[0].timeouts.get());
    }

    @Test
    void await_spins_testsConditionBeforeParking() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Wait counting = new Wait() {
            @Override
            protected boolean isDone() {
                return calls.incrementAndGet() > 10;
            }

            @Override
            protected int spins() {
                return 1000;
            }
        };
        counting.await(this, "x", "m()");
        assertEquals(11, calls.get(), "done during the spins, without parking");
    }

    @Test
    void await_otherThread_isRefused() throws Exception {
        Flag w = new Flag();
        w.done = true;
        Parked.Run<Object> other = Parked.run(() -> {
            w.await(this, "x", "m()");
            return null;
        });
        assertThrows(IllegalStateException.class, other::get);
    }
}
