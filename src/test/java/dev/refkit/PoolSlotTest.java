package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The named transitions of a slot's state word, alone. */
final class PoolSlotTest {

    @Test
    void idleToLent_idle_returnsStampOnce() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        long stamp = s.idleToLent();
        assertEquals(PoolSlot.LENT, PoolSlot.kind(stamp));
        assertTrue(s.isLentUnder(stamp));
        assertEquals(PoolSlot.NONE, s.idleToLent(), "already lent");
        assertFalse(s.idleToBusy(), "already lent");
    }

    @Test
    void lentToIdle_currentStamp_nextGenerationOnce() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        long stamp = s.idleToLent();
        assertTrue(s.lentToIdle(stamp));
        assertFalse(s.isLentUnder(stamp));
        assertFalse(s.lentToIdle(stamp), "a stale stamp never returns twice");
        assertFalse(s.lentToBusy(stamp));
        long next = s.idleToLent();
        assertEquals(stamp + PoolSlot.GEN, next, "one generation later");
        assertEquals(2, PoolSlot.borrows(next));
    }

    @Test
    void lentToBusy_thenBusyToIdle_lendableAgain() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        long stamp = s.state();
        assertEquals(PoolSlot.LENT, PoolSlot.kind(stamp), "made lent to its maker");
        assertTrue(s.lentToBusy(stamp));
        assertEquals(PoolSlot.BUSY, PoolSlot.kind(s.state()));
        assertEquals(PoolSlot.NONE, s.idleToLent(), "busy is not idle");
        s.busyToIdle();
        assertEquals(PoolSlot.IDLE, PoolSlot.kind(s.state()));
        assertEquals(1, s.state() >>> 2, "one borrow completed");
    }

    @Test
    void busyToIdle_notBusy_assertionError() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        assertThrows(AssertionError.class, s::busyToIdle);
    }

    @Test
    void idleToBusy_staleSeenState_false() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        long seen = s.state();
        s.lentToIdle(s.idleToLent()); // a borrow and return since the read
        assertFalse(s.idleToBusy(seen), "the state moved on");
        assertTrue(s.idleToBusy(s.state()));
    }

    @Test
    void markDead_keepsGenerationReturnsBorrows() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, false);
        s.lentToIdle(s.idleToLent());
        s.lentToIdle(s.idleToLent());
        assertTrue(s.idleToBusy());
        assertEquals(2, s.markDead());
        assertEquals(PoolSlot.DEAD, PoolSlot.kind(s.state()));
        assertEquals(2, PoolSlot.borrows(s.state()));
        assertEquals(PoolSlot.NONE, s.idleToLent());
        assertEquals("slot[D2]", s.toString());
    }
}
