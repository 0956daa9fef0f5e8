package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The leak action alone: it destroys a dropped lease's slot once, a closed one never. */
final class PoolLeakTest {
    private final List<PoolSlot<String>> destroyed = new ArrayList<>();

    @Test
    void clean_leaseStillLent_destroysSlotOnce() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        Object lease = new Object();
        Cleaner.Cleanable c = PoolLeak.watch(lease, "leaky", s, s.state(), destroyed::add);
        assertNotNull(s.borrowSite);
        assertTrue(s.borrowSite.getMessage().startsWith("leaky: borrowed here"));
        c.clean();
        assertEquals(List.of(s), destroyed);
        assertEquals(PoolSlot.BUSY, PoolSlot.kind(s.state()), "handed to destroy as owner");
        c.clean();
        assertEquals(1, destroyed.size(), "a cleaner action runs once");
    }

    @Test
    void stopWatch_afterReturn_destroysNothing() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        long stamp = s.state();
        Cleaner.Cleanable c = PoolLeak.watch(new Object(), "p", s, stamp, destroyed::add);
        assertTrue(s.lentToIdle(stamp));
        PoolLeak.stopWatch(c);
        PoolLeak.stopWatch(null);
        assertTrue(destroyed.isEmpty());
        assertEquals(PoolSlot.IDLE, PoolSlot.kind(s.state()));
    }

    @Test
    void clean_destroyThrowsError_rethrown() {
        PoolSlot<String> s = new PoolSlot<>("a", 0L, true);
        AssertionError boom = new AssertionError("boom");
        Cleaner.Cleanable c = PoolLeak.watch(new Object(), "p", s, s.state(), x -> {
            throw boom;
        });
        assertSame(boom, assertThrows(AssertionError.class, c::clean));
    }
}
