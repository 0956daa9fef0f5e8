package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@link RestartPolicy} alone: delays, limits, backoff, reset, checks and toString. */
final class RestartPolicyTest {
    private static final long MS = 1_000_000L;

    @Test
    void never_firstRestart_givesUp() {
        assertEquals(-1L, RestartPolicy.never().delayNanos(1));
        assertEquals("RestartPolicy{never}", RestartPolicy.never().toString());
    }

    @Test
    void maxRestartsZero_isNever() {
        RestartPolicy p = RestartPolicy.after(Duration.ZERO).maxRestarts(0);
        assertEquals(RestartPolicy.never(), p);
        assertEquals(-1L, p.delayNanos(1));
    }

    @Test
    void after_unlimited_sameDelayEveryTime() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(100));
        assertEquals(100 * MS, p.delayNanos(1));
        assertEquals(100 * MS, p.delayNanos(1_000_000));
        assertEquals(-1L, p.resetAfterNanos());
    }

    @Test
    void maxRestarts_limit_givesUpAfterIt() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(5)).maxRestarts(2);
        assertEquals(5 * MS, p.delayNanos(1));
        assertEquals(5 * MS, p.delayNanos(2));
        assertEquals(-1L, p.delayNanos(3));
    }

    @Test
    void maxRestarts_negative_throwsNamingValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RestartPolicy.after(Duration.ZERO).maxRestarts(-1));
        assertEquals("maxRestarts must not be negative: -1", e.getMessage());
    }

    @Test
    void backoff_growsThenCapped() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(10))
                .backoff(2.0, Duration.ofMillis(50));
        assertEquals(10 * MS, p.delayNanos(1));
        assertEquals(20 * MS, p.delayNanos(2));
        assertEquals(40 * MS, p.delayNanos(3));
        assertEquals(50 * MS, p.delayNanos(4));
        assertEquals(50 * MS, p.delayNanos(Integer.MAX_VALUE)); // overflow to infinity: capped
    }

    @Test
    void backoff_badFactor_throws() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(1));
        for (double f : new double[] {0.5, Double.NaN, Double.POSITIVE_INFINITY, -1.0}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.backoff(f, Duration.ofSeconds(1)));
            assertTrue(e.getMessage().contains("backoff factor"), e.getMessage());
            assertTrue(e.getMessage().contains(String.valueOf(f)), e.getMessage());
        }
    }

    @Test
    void nullsAndNegatives_throwNamingArgument() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(1));
        assertEquals("delay", assertThrows(NullPointerException.class,
                () -> RestartPolicy.after(null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> RestartPolicy.after(Duration.ofMillis(-1))).getMessage()
                .startsWith("delay must not be negative"));
        assertEquals("maxDelay", assertThrows(NullPointerException.class,
                () -> p.backoff(2.0, null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> p.backoff(2.0, Duration.ofMillis(-1))).getMessage()
                .startsWith("maxDelay must not be negative"));
        assertEquals("healthy", assertThrows(NullPointerException.class,
                () -> p.resetAfter(null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> p.resetAfter(Duration.ofMillis(-1))).getMessage()
                .startsWith("healthy must not be negative"));
    }

    @Test
    void immutable_withMethodsLeaveOriginal() {
        RestartPolicy p = RestartPolicy.after(Duration.ofMillis(1));
        RestartPolicy q = p.maxRestarts(3).resetAfter(Duration.ofSeconds(1));
        assertEquals(-1L, p.resetAfterNanos());
        assertEquals(1 * MS, p.delayNanos(4));
        assertEquals(-1L, q.delayNanos(4));
        assertEquals(1_000 * MS, q.resetAfterNanos());
        assertNotEquals(p, q);
        assertEquals(q, RestartPolicy.after(Duration.ofMillis(1)).maxRestarts(3)
                .resetAfter(Duration.ofSeconds(1)));
        assertEquals(q.hashCode(), RestartPolicy.after(Duration.ofMillis(1)).maxRestarts(3)
                .resetAfter(Duration.ofSeconds(1)).hashCode());
        assertSame(RestartPolicy.never(), RestartPolicy.never());
    }

    @Test
    void toString_namesEverySetting() {
        assertEquals("RestartPolicy{after=PT0.1S, maxRestarts=10}",
                RestartPolicy.after(Duration.ofMillis(100)).maxRestarts(10).toString());
        assertEquals("RestartPolicy{after=PT0.1S, maxRestarts=unlimited, backoff=2.0, "
                + "maxDelay=PT5S, resetAfter=PT1M}",
                RestartPolicy.after(Duration.ofMillis(100)).backoff(2.0, Duration.ofSeconds(5))
                        .resetAfter(Duration.ofMinutes(1)).toString());
    }

    @Test
    void delayNanos_restartZero_throws() {
        assertThrows(IllegalArgumentException.class,
                () -> RestartPolicy.after(Duration.ZERO).delayNanos(0));
    }
}
