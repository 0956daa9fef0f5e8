package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.PoolFixtures.FakeTicker;
import dev.refkit.PoolFixtures.Res;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A pool's user code and counters, alone: errors handled and counted as documented. */
final class PoolHooksTest {
    private final FakeTicker ticker = new FakeTicker();

    private PoolHooks<Res> plain(Callable<Res> factory) {
        return new PoolHooks<>("h", factory, null, -1, null, null, -1, -1, ticker);
    }

    @Test
    void make_counts_andRefusesNull() {
        PoolHooks<Res> ok = plain(() -> new Res(1));
        assertEquals(1, ok.make().id);
        PoolHooks<Res> nul = plain(() -> null);
        NullPointerException e = assertThrows(NullPointerException.class, nul::make);
        assertEquals("h: factory returned null", e.getMessage());
        PoolStats s = nul.stats(emptySlots(), 0);
        assertEquals(0, s.created());
        assertEquals(1, s.failedCreations());
    }

    @Test
    void make_checkedException_wrappedAndCounted() {
        IOException cause = new IOException("no");
        PoolHooks<Res> h = plain(() -> {
            throw cause;
        });
        LifecycleException e = assertThrows(LifecycleException.class, h::make);
        assertSame(cause, e.getCause());
        assertEquals(1, h.stats(emptySlots(), 0).failedCreations());
    }

    @Test
    void lendable_noChecks_trueWithoutReadingTicker() {
        PoolHooks<Res> h = plain(() -> new Res(1));
        assertFalse(h.checksBeforeLending());
        assertFalse(h.worksOnReturn());
        assertEquals(0L, h.birthTime());
        assertTrue(h.lendable(new PoolSlot<>(new Res(1), 0L, false)));
    }

    @Test
    void lendable_expiryAndValidate() {
        AtomicInteger validations = new AtomicInteger();
        PoolHooks<Res> h = new PoolHooks<>("h", () -> new Res(1), r -> {
            validations.incrementAndGet();
            if (r.id == 2) {
                throw new IllegalStateException("broken check");
            }
            return r.id != 3;
        }, -1, null, null, Duration.ofSeconds(10).toNanos(), Duration.ofSeconds(60).toNanos(),
                ticker);
        assertTrue(h.checksBeforeLending());
        PoolSlot<Res> s = new PoolSlot<>(new Res(1), h.birthTime(), false);
        assertTrue(h.lendable(s));
        assertFalse(h.lendable(new PoolSlot<>(new Res(3), h.birthTime(), false)), "fails check");
        assertFalse(h.lendable(new PoolSlot<>(new Res(2), h.birthTime(), false)), "check throws");
        assertEquals(3, validations.get());
        ticker.advance(Duration.ofSeconds(10));
        assertFalse(h.lendable(s), "idle too long");
        assertTrue(h.expired(s, h.now()));
        assertTrue(h.returned(s, true));
        assertEquals(h.now(), s.lastReturned, "return time recorded");
        assertTrue(h.lendable(s));
        ticker.advance(Duration.ofSeconds(55));
        s.lastReturned = h.now();
        assertFalse(h.lendable(s), "past its lifetime");
    }

    @Test
    void returned_onReturnThrows_falseOnlyWhenReset() {
        PoolHooks<Res> h = new PoolHooks<>("h", () -> new Res(1), null, -1, r -> {
            throw new IllegalStateException("no reset");
        }, null, -1, -1, ticker);
        assertTrue(h.worksOnReturn());
        PoolSlot<Res> s = new PoolSlot<>(new Res(1), 0L, false);
        assertFalse(h.returned(s, true));
        assertTrue(h.returned(s, false), "an unused object is not reset");
    }

    @Test
    void destroy_defaultClosesAndCounts_throwingDestroyerSwallowed() {
        PoolHooks<Res> h = plain(() -> new Res(1));
        Res r = new Res(1);
        h.destroy(r, 3);
        assertTrue(r.closed.get());
        PoolHooks<Res> bad = new PoolHooks<>("h", () -> new Res(1), null, -1, null, x -> {
            throw new IllegalStateException("no destroy");
        }, -1, -1, ticker);
        bad.destroy(new Res(2), 1);
        PoolStats s = h.stats(emptySlots(), 0);
        assertEquals(1, s.destroyed());
        assertEquals(3, s.borrows(), "a destroyed slot's borrows are kept");
        assertEquals(1, bad.stats(emptySlots(), 0).destroyed());
    }

    @Test
    void destroy_error_countedAndThrown() {
        PoolHooks<Res> h = new PoolHooks<>("h", () -> new Res(1), null, -1, null, x -> {
            throw new AssertionError("boom");
        }, -1, -1, ticker);
        assertInstanceOf(AssertionError.class,
                assertThrows(AssertionError.class, () -> h.destroy(new Res(1), 0)));
        assertEquals(1, h.stats(emptySlots(), 0).destroyed());
    }

    @Test
    void stats_countsSlotsTimeoutsAndWaits() {
        PoolHooks<Res> h = plain(() -> new Res(1));
        PoolSlot<Res> idle = new PoolSlot<>(new Res(1), 0L, false);
        PoolSlot<Res> lent = new PoolSlot<>(new Res(2), 0L, true);
        PoolSlot<Res> dead = new PoolSlot<>(new Res(3), 0L, false);
        dead.idleToBusy();
        dead.markDead();
        h.countTimeout();
        h.recordWait(System.nanoTime() - Duration.ofMillis(5).toNanos());
        @SuppressWarnings("unchecked")
        PoolSlot<Res>[] all = (PoolSlot<Res>[]) new PoolSlot<?>[] {idle, lent, dead};
        PoolStats s = h.stats(all, 4);
        assertEquals(2, s.size());
        assertEquals(1, s.idle());
        assertEquals(1, s.lent());
        assertEquals(4, s.waiting());
        assertEquals(1, s.borrows());
        assertEquals(1, s.timeouts());
        assertTrue(s.longestWait().compareTo(Duration.ofMillis(5)) >= 0, s.toString());
    }

    @SuppressWarnings("unchecked")
    private static PoolSlot<Res>[] emptySlots() {
        return (PoolSlot<Res>[]) new PoolSlot<?>[0];
    }
}
