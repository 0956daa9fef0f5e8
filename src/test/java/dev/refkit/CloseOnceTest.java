package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

final class CloseOnceTest {

    private static final class Flag extends CloseOnce {}

    @Test
    void markClosed_firstCallOnly_returnsTrue() {
        Flag f = new Flag();
        assertFalse(f.isClosed());
        assertFalse(f.closedPlain());
        assertTrue(f.markClosed());
        assertFalse(f.markClosed());
        assertTrue(f.isClosed());
        assertTrue(f.closedPlain());
    }

    /** Proves that of eight threads closing one flag at once, exactly one wins, every round. */
    @Test
    @Timeout(60)
    void markClosed_eightThreadsAtOnce_exactlyOneWins() throws Exception {
        int threads = 8;
        int rounds = 500;
        Flag[] flags = new Flag[rounds];
        for (int i = 0; i < rounds; i++) {
            flags[i] = new Flag();
        }
        AtomicInteger[] wins = new AtomicInteger[rounds];
        for (int i = 0; i < rounds; i++) {
            wins[i] = new AtomicInteger();
        }
        CyclicBarrier barrier = new CyclicBarrier(threads);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(TestThreads.start(() -> {
                try {
                    for (int i = 0; i < rounds; i++) {
                        barrier.await(20, TimeUnit.SECONDS);
                        if (flags[i].markClosed()) {
                            wins[i].incrementAndGet();
                        }
                    }
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }));
        }
        TestThreads.joinAll(ts);
        for (int i = 0; i < rounds; i++) {
            assertEquals(1, wins[i].get(), "round " + i);
            assertTrue(flags[i].isClosed());
        }
    }
}
