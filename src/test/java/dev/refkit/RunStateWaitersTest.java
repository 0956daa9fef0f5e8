package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.RunState.State;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link RunStateWaiters} alone, on its own lock: what an interrupted wait leaves behind. */
@Timeout(30)
final class RunStateWaitersTest {

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void shutdownPool() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }

    /**
     * A waiter interrupted while parked throws an InterruptedException naming the RunState and
     * the method, and leaves the list as if it never waited.
     */
    @Test
    void awaitUntil_interruptedWhileParked_throwsNamingItAndLeavesNoWaiter() throws Exception {
        RunState owner = RunStateTest.inState(State.RUNNING);
        ReentrantLock lock = new ReentrantLock();
        RunStateWaiters waiters = new RunStateWaiters(owner, lock);
        AtomicReference<Thread> waiter = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Future<Boolean> f = pool.submit(() -> {
            waiter.set(Thread.currentThread());
            started.countDown();
            return waiters.awaitUntil(RunState.UNTIL_CANCELLED, 0L, false, 0L, "sleep()");
        });
        started.await();
        Thread t = waiter.get();
        while (t.getState() != Thread.State.WAITING || LockSupport.getBlocker(t) != owner) {
            Thread.onSpinWait(); // parked on the owner: it is in the list
        }
        t.interrupt();
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof InterruptedException, e.toString());
        assertEquals("t: interrupted in sleep()", e.getCause().getMessage());
        lock.lock();
        try {
            assertEquals(0, waiters.take().length, "the interrupted waiter left the list");
        } finally {
            lock.unlock();
        }
    }
}
