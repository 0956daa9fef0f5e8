package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.reflect.Method;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The virtual-thread probe that {@link PoolRuntime} gives the waiting line. */
@Timeout(30)
final class PoolRuntimeTest {

    @Test
    void isVirtual_platformThread_false() {
        assertFalse(PoolRuntime.isVirtual(Thread.currentThread()));
    }

    @Test
    void isVirtual_virtualThread_trueOnJava21() throws Exception {
        Method start;
        try {
            start = Thread.class.getMethod("startVirtualThread", Runnable.class);
        } catch (NoSuchMethodException e) {
            Assumptions.assumeTrue(false, "virtual threads need Java 21+");
            return;
        }
        CompletableFuture<Boolean> seen = new CompletableFuture<>();
        Thread t = (Thread) start.invoke(null,
                (Runnable) () -> seen.complete(PoolRuntime.isVirtual(Thread.currentThread())));
        assertEquals(Boolean.TRUE, seen.get(10, TimeUnit.SECONDS));
        t.join(TimeUnit.SECONDS.toMillis(10));
    }
}
