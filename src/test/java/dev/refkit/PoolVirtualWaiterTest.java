package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A virtual thread first in line yields a few times before it parks (see PoolLine);
 * these tests check that this never costs it its timeout or its interrupt, and that what it
 * leaves behind is consistent. They need Java 21+ and are skipped on 17.
 */
@Timeout(30)
final class PoolVirtualWaiterTest {

    /** A virtual thread first in line with a short timeout times out, and leaves the line. */
    @Test
    void borrow_virtualFirstInLineTimedOut_throwsTimeoutAndLeavesLine() throws Exception {
        try (Pool<Object> pool = Pool.builder(Object::new).maxSize(1).name("vt").build()) {
            Lease<Object> held = pool.borrow();
            Borrower b = startBorrower(() -> pool.borrow(Duration.ofMillis(20)));
            assertInstanceOf(TimeoutException.class, b.outcome().get(10, TimeUnit.SECONDS));
            b.thread().join(TimeUnit.SECONDS.toMillis(10));
            assertEquals(0, pool.stats().waiting());
            assertEquals(1, pool.stats().timeouts());
            held.close();
            assertNotNull(pool.tryBorrow(), "the object must be idle, not granted to the leaver");
        }
    }

    /** A virtual thread waiting in line is interrupted: it throws and holds nothing. */
    @Test
    void borrow_virtualWaiterInterrupted_throwsAndHoldsNothing() throws Exception {
        try (Pool<Object> pool = Pool.builder(Object::new).maxSize(1).name("vt").build()) {
            Lease<Object> held = pool.borrow();
            Borrower b = startBorrower(pool::borrow);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (pool.stats().waiting() == 0) { // the waiter is in line: no latch can say so
                assertTrue(System.nanoTime() - deadline < 0, "the waiter never joined the line");
                Thread.onSpinWait();
            }
            b.thread().interrupt();
            Throwable e = b.outcome().get(10, TimeUnit.SECONDS);
            assertInstanceOf(InterruptedException.class, e);
            assertEquals("vt: interrupted in borrow()", e.getMessage());
            b.thread().join(TimeUnit.SECONDS.toMillis(10));
            assertEquals(0, pool.stats().waiting());
            held.close();
            assertNotNull(pool.tryBorrow(), "the object must be idle, not granted to the leaver");
        }
    }

    /** A virtual thread that borrows once, and what its borrow threw (null if it got one). */
    private record Borrower(Thread thread, CompletableFuture<Throwable> outcome) {
    }

    /** Starts a virtual thread that runs {@code borrow} and closes the lease it gets. */
    @SuppressWarnings("try")
    private static Borrower startBorrower(Callable<Lease<Object>> borrow) throws Exception {
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread t = startVirtual(() -> {
            try (Lease<Object> l = borrow.call()) {
                outcome.complete(null);
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        return new Borrower(t, outcome);
    }

    private static Thread startVirtual(Runnable task) throws Exception {
        Method start;
        try {
            start = Thread.class.getMethod("startVirtualThread", Runnable.class);
        } catch (NoSuchMethodException e) {
            Assumptions.assumeTrue(false, "virtual threads need Java 21+");
            throw new AssertionError(e);
        }
        return (Thread) start.invoke(null, task);
    }
}
