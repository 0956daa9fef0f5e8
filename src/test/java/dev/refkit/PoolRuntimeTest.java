package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The shared threads of {@link PoolRuntime}: nested completions move off deep stacks. */
@Timeout(30)
final class PoolRuntimeTest {

    @Test
    void completeNested_notNested_runsOnCallingThread() {
        Thread[] ran = new Thread[1];
        PoolRuntime.completeNested(() -> ran[0] = Thread.currentThread());
        assertSame(Thread.currentThread(), ran[0]);
    }

    /** Past 32 nested completions on one thread, the next runs on a creator thread. */
    @Test
    void completeNested_deeperThan32_movesToCreatorThread() throws Exception {
        AtomicInteger depth = new AtomicInteger();
        CompletableFuture<Thread> deepest = new CompletableFuture<>();
        Runnable[] nest = new Runnable[1];
        nest[0] = () -> {
            if (depth.incrementAndGet() <= 32) {
                PoolRuntime.completeNested(nest[0]);
            } else {
                deepest.complete(Thread.currentThread());
            }
        };
        PoolRuntime.completeNested(nest[0]);
        Thread t = deepest.get(10, TimeUnit.SECONDS);
        assertNotSame(Thread.currentThread(), t);
        assertEquals(33, depth.get());
    }

    @Test
    void schedule_runsAtOnce() throws Exception {
        CompletableFuture<Boolean> ran = new CompletableFuture<>();
        PoolRuntime.schedule(() -> ran.complete(Boolean.TRUE), TimeUnit.HOURS.toNanos(1))
                .cancel(false);
        // the first run may have begun before the cancel; schedule a fresh one to be sure
        java.util.concurrent.ScheduledFuture<?> f =
                PoolRuntime.schedule(() -> ran.complete(Boolean.TRUE), TimeUnit.HOURS.toNanos(1));
        assertEquals(Boolean.TRUE, ran.get(10, TimeUnit.SECONDS));
        f.cancel(false);
    }
}
