package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A pool's slot array and idle count, alone: every move out of IDLE is counted. */
final class PoolSlotsTest {

    @Test
    void add_remove_copyOnWrite() {
        PoolSlots<String> slots = new PoolSlots<>(false, 0);
        PoolSlot<String> a = new PoolSlot<>("a", 0L, false);
        PoolSlot<String> b = new PoolSlot<>("b", 0L, true);
        slots.add(a);
        PoolSlot<String>[] before = slots.all();
        slots.add(b);
        assertEquals(1, before.length, "a snapshot never changes");
        assertEquals(2, slots.all().length);
        slots.remove(a);
        assertSame(b, slots.all()[0]);
        slots.remove(a); // not there: nothing happens
        assertEquals(1, slots.all().length);
    }

    @Test
    void lendAny_oneIdle_lendsItThenNone() {
        PoolSlots<String> slots = new PoolSlots<>(false, 0);
        slots.add(new PoolSlot<>("lent", 0L, true));
        PoolSlot<String> idle = new PoolSlot<>("idle", 0L, false);
        slots.add(idle);
        assertSame(idle, slots.lendAny(15), "a start beyond the size wraps to 0");
        assertNull(slots.lendAny(0));
        assertEquals(0, slots.countIdle());
    }

    /** Counted (unbounded pools): lend, take and reserveIdle keep the idle count exact. */
    @Test
    void counted_everyTransitionMovesTheCount() {
        PoolSlots<String> slots = new PoolSlots<>(true, 2);
        PoolSlot<String> a = new PoolSlot<>("a", 0L, false);
        PoolSlot<String> b = new PoolSlot<>("b", 0L, false);
        slots.add(a);
        slots.add(b);
        slots.add(new PoolSlot<>("lent", 0L, true));
        assertEquals(2, slots.idleCount(), "idle slots added are counted, lent ones not");
        long stamp = slots.lend(a);
        assertNotEquals(PoolSlot.NONE, stamp);
        assertEquals(1, slots.idleCount());
        assertEquals(PoolSlot.NONE, slots.lend(a), "a failed lend counts nothing");
        assertEquals(1, slots.idleCount());
        assertTrue(slots.take(b), "taken for destroying, as a shrink or close does");
        assertEquals(0, slots.idleCount());
        assertFalse(slots.take(b));
        assertEquals(0, slots.idleCount());
    }

    @Test
    void reserveIdle_countedAtMaxIdle_refusesAndReservesNothing() {
        PoolSlots<String> slots = new PoolSlots<>(true, 1);
        assertTrue(slots.reserveIdle());
        assertEquals(1, slots.idleCount());
        assertFalse(slots.reserveIdle());
        assertEquals(1, slots.idleCount());
    }

    @Test
    void notCounted_noCountKept() {
        PoolSlots<String> slots = new PoolSlots<>(false, 0);
        PoolSlot<String> a = new PoolSlot<>("a", 0L, false);
        slots.add(a);
        assertTrue(slots.reserveIdle());
        assertTrue(slots.take(a));
        assertEquals(0, slots.idleCount());
    }

    @Test
    void stripe_inRange() {
        int s = PoolSlots.stripe();
        assertTrue(s >= 0 && s < PoolSlots.STRIPES, "stripe " + s);
    }
}
