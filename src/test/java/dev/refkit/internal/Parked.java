package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Thread helpers for the engine's tests: run a call on a thread, wait until it parks. */
final class Parked {
    private Parked() {}

    /** A call running on its own daemon thread. */
    static final class Run<V> {
        final Thread thread;
        final CompletableFuture<V> result = new CompletableFuture<>();

        Run(Callable<V> c) {
            thread = new Thread(() -> {
                try {
                    result.complete(c.call());
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        /** Spins until the thread is parked (WAITING or TIMED_WAITING). */
        Run<V> parked() {
            while (thread.getState() != Thread.State.WAITING
                    && thread.getState() != Thread.State.TIMED_WAITING) {
                assertTrue(thread.isAlive() || result.isDone(), "thread ended");
                assertFalse(result.isDone(), "call returned instead of parking: " + result);
                Thread.onSpinWait();
            }
            return this;
        }

        /** Waits for the result, failing after 20 s. */
        V get() throws Exception {
            try {
                return result.get(20, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof Exception) {
                    throw (Exception) e.getCause();
                }
                throw e;
            }
        }
    }

    static <V> Run<V> run(Callable<V> c) {
        return new Run<>(c);
    }
}
