package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The upkeep task alone: its period and that it runs the round on its owner. */
@Timeout(30)
final class PoolUpkeepTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void periodNanos_options() {
        assertEquals(-1, PoolUpkeep.periodNanos(-1, -1, 0), "nothing asks for upkeep");
        assertEquals(250 * MS, PoolUpkeep.periodNanos(-1, -1, 1), "minIdle alone");
        assertEquals(100 * MS, PoolUpkeep.periodNanos(200 * MS, -1, 0), "half of maxIdleTime");
        assertEquals(50 * MS, PoolUpkeep.periodNanos(200 * MS, 100 * MS, 0), "the shorter");
        assertEquals(10 * MS, PoolUpkeep.periodNanos(MS, -1, 0), "at least 10 ms");
        assertEquals(250 * MS, PoolUpkeep.periodNanos(TimeUnit.HOURS.toNanos(1), -1, 0),
                "at most 250 ms");
    }

    @Test
    void start_runsRoundOnOwnerAtOnce() throws Exception {
        Object owner = new Object();
        CompletableFuture<Object> ran = new CompletableFuture<>();
        ScheduledFuture<?> f = PoolUpkeep.start(owner, ran::complete, TimeUnit.HOURS.toNanos(1));
        try {
            assertSame(owner, ran.get(10, TimeUnit.SECONDS));
        } finally {
            f.cancel(false);
        }
    }
}
