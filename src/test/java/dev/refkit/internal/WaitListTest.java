package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class WaitListTest {
    private final WaitList list = new WaitList();
    private volatile int value;

    @AfterEach
    void clearFlag() {
        Thread.interrupted();
    }

    /** A list with spins: a condition that comes true while spinning ends the wait unregistered. */
    @Test
    void await_withSpins_conditionTrueWhileSpinning_neverRegistersNorParks() throws Exception {
        WaitList spinning = new WaitList(100);
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger mostWaiting = new AtomicInteger();
        spinning.await(() -> {
            mostWaiting.accumulateAndGet(spinning.waiting(), Math::max);
            return calls.incrementAndGet() >= 10;
        }, this, "x", "m()");
        assertEquals(10, calls.get());
        assertEquals(0, mostWaiting.get()); // without the spins it would register and park
    }

    @Test
    void constructor_negativeSpins_refused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new WaitList(-1));
        assertEquals("spins must not be negative: -1", e.getMessage());
    }

    @Test
    void wakeAll_nobodyWaiting_doesNothing() {
        list.wakeAll();
        assertEquals(0, list.waiting());
    }

    @Test
    void await_conditionHolds_returnsWithoutRegistering() throws Exception {
        value = 1;
        list.await(() -> value == 1, this, "x", "m()");
        assertEquals(0, list.waiting());
    }

    @Test
    void wakeAll_afterChange_wakesEveryWaiterWhoseConditionHolds() throws Exception {
        List<Parked.Run<Boolean>> runs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            runs.add(Parked.run(() -> {
                list.await(() -> value >= 1, this, "x", "m()");
                return true;
            }).parked());
        }
        Parked.Run<Boolean> later = Parked.run(() -> {
            list.await(() -> value >= 2, this, "x", "m()");
            return true;
        }).parked();
        assertEquals(5, list.waiting());
        value = 1;
        list.wakeAll();
        for (Parked.Run<Boolean> r : runs) {
            assertTrue(r.get());
        }
        later.parked(); // woken, condition false, parked again and registered again
        while (list.waiting() != 1) {
            Thread.onSpinWait();
        }
        value = 2;
        list.wakeAll();
        assertTrue(later.get());
        assertEquals(0, list.waiting());
    }

    @Test
    void awaitNanos_timesOut_leavesNoRegistration() throws Exception {
        assertFalse(list.awaitNanos(() -> value == 1, 5_000_000L, this, "x", "m()"));
        assertEquals(0, list.waiting());
    }

    @Test
    void await_interruptedWhileParked_throwsAndLeavesNoRegistration() throws Exception {
        Parked.Run<Object> r = Parked.run(() -> {
            list.await(() -> value == 1, this, "rs", "join()");
            return null;
        }).parked();
        r.thread.interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, r::get);
        assertEquals("rs: interrupted in join()", e.getMessage());
        assertEquals(0, list.waiting());
    }

    @Test
    void await_interruptedOnEntry_throwsEvenIfConditionHolds() {
        value = 1;
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class,
                () -> list.await(() -> value == 1, this, "rs", "join()"));
        assertFalse(Thread.interrupted());
    }

    @Test
    void awaitUninterruptibly_interrupted_waitsOnAndKeepsFlag() throws Exception {
        Parked.Run<Boolean> r = Parked.run(() -> {
            list.awaitUninterruptibly(() -> value == 1, this);
            return Thread.currentThread().isInterrupted();
        }).parked();
        r.thread.interrupt();
        while (list.waiting() != 1 || r.thread.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        value = 1;
        list.wakeAll();
        assertTrue(r.get());
    }

    @Test
    void awaitUninterruptiblyNanos_timesOut() {
        assertFalse(list.awaitUninterruptiblyNanos(() -> value == 1, 1_000_000L, this));
        assertEquals(0, list.waiting());
    }

    /**
     * Stress for lost wake-ups (jcstress EngineTests.WakeAllRacesPark is the proof): a
     * changer that sets the value and calls wakeAll() while a waiter is between its test and
     * its park never leaves the waiter asleep.
     */
    @Test
    void wakeAll_racingWaiter_neverLosesWakeUp() throws Exception {
        int rounds = 20_000;
        AtomicInteger round = new AtomicInteger();
        CyclicBarrier barrier = new CyclicBarrier(2);
        Parked.Run<Integer> waiter = Parked.run(() -> {
            for (int i = 1; i <= rounds; i++) {
                barrier.await(20, TimeUnit.SECONDS);
                int target = i;
                list.await(() -> value >= target, this, "x", "m()");
                round.set(i);
            }
            return round.get();
        });
        for (int i = 1; i <= rounds; i++) {
            barrier.await(20, TimeUnit.SECONDS);
            value = i;
            list.wakeAll();
        }
        assertEquals(rounds, waiter.get());
    }
}
