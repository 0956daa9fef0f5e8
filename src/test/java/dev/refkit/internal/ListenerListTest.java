package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class ListenerListTest {
    private final List<Throwable> reported = new CopyOnWriteArrayList<>();
    private final ListenerList<Consumer<Integer>> list =
            new ListenerList<>((l, t) -> reported.add(t));

    private static Consumer<Consumer<Integer>> event(int n) {
        return l -> l.accept(n);
    }

    @Test
    void dispatch_callsEveryListenerInRegistrationOrder() {
        List<String> seen = new ArrayList<>();
        list.add(n -> seen.add("a" + n));
        list.add(n -> seen.add("b" + n));
        list.enqueue(event(1));
        list.enqueue(event(2));
        assertNull(list.dispatch());
        assertEquals(List.of("a1", "a2", "b1", "b2"), seen);
    }

    @Test
    void enqueue_beforeAdd_isNotSeenByTheNewListener() {
        List<Integer> seen = new ArrayList<>();
        list.enqueue(event(1));
        list.add(seen::add);
        list.enqueue(event(2));
        list.dispatch();
        assertEquals(List.of(2), seen);
    }

    @Test
    void remove_dropsPendingCallsAndLaterOnes() {
        List<Integer> seen = new ArrayList<>();
        ListenerList.Entry<Consumer<Integer>> e = list.add(seen::add);
        list.enqueue(event(1));
        e.remove();
        e.remove(); // idempotent
        assertTrue(e.isRemoved());
        list.enqueue(event(2));
        list.dispatch();
        assertEquals(List.of(), seen);
        assertTrue(list.isEmpty());
    }

    @Test
    void dispatch_runtimeException_reportedAndOthersStillRun() {
        List<Integer> seen = new ArrayList<>();
        RuntimeException boom = new IllegalStateException("boom");
        list.add(n -> {
            throw boom;
        });
        list.add(seen::add);
        list.enqueue(event(1));
        assertNull(list.dispatch());
        assertEquals(List.of(1), seen);
        assertEquals(List.of(boom), reported);
    }

    @Test
    void dispatch_errors_firstReturnedRestSuppressedOthersStillRun() {
        List<Integer> seen = new ArrayList<>();
        Error first = new AssertionError("first");
        Error second = new OutOfMemoryError("second");
        list.add(n -> {
            throw first;
        });
        list.add(seen::add);
        list.add(n -> {
            throw second;
        });
        list.enqueue(event(1));
        Error got = list.dispatch();
        assertSame(first, got);
        assertSame(second, got.getSuppressed()[0]);
        assertEquals(List.of(1), seen);
    }

    @Test
    void dispatch_listenerCausesTransition_runsItAfterwardsWithoutRecursing() {
        List<String> seen = new ArrayList<>();
        AtomicInteger depth = new AtomicInteger();
        list.add(n -> {
            assertEquals(1, depth.incrementAndGet(), "calls to one listener never nest");
            seen.add("start" + n);
            if (n == 1) {
                list.enqueue(event(2));
                list.dispatch();
            }
            seen.add("end" + n);
            depth.decrementAndGet();
        });
        list.enqueue(event(1));
        list.dispatch();
        assertEquals(List.of("start1", "end1", "start2", "end2"), seen);
    }

    /**
     * Proves calls to one listener never overlap and keep the order in which they were
     * queued, when two threads make transitions at once: the second thread's call runs on
     * the first thread, after the first call returns.
     */
    @Test
    void dispatch_twoThreads_callsNeverOverlapAndKeepOrder() throws Exception {
        ReentrantLock transitions = new ReentrantLock();
        List<Integer> seen = new CopyOnWriteArrayList<>();
        AtomicInteger inside = new AtomicInteger();
        CountDownLatch firstRunning = new CountDownLatch(1);
        CountDownLatch secondQueued = new CountDownLatch(1);
        list.add(n -> {
            assertEquals(1, inside.incrementAndGet(), "overlapping calls");
            seen.add(n);
            if (n == 1) {
                firstRunning.countDown();
                try {
                    assertTrue(secondQueued.await(20, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            inside.decrementAndGet();
        });
        Parked.Run<Error> a = Parked.run(() -> {
            transitions.lock();
            try {
                list.enqueue(event(1));
            } finally {
                transitions.unlock();
            }
            return list.dispatch();
        });
        assertTrue(firstRunning.await(20, TimeUnit.SECONDS));
        transitions.lock();
        try {
            list.enqueue(event(2));
        } finally {
            transitions.unlock();
        }
        assertNull(list.dispatch()); // listener busy on thread a: returns at once
        secondQueued.countDown();
        assertNull(a.get());
        assertEquals(List.of(1, 2), seen);
    }

    @Test
    void enqueueWhenRun_noListener_returnsTrueAndNeverTells() {
        AtomicInteger told = new AtomicInteger();
        assertTrue(list.enqueue(event(1), told::incrementAndGet));
        assertNull(list.dispatch());
        assertEquals(0, told.get());
    }

    @Test
    void enqueueWhenRun_everyListenerRan_toldOnceAfterTheLast() {
        List<String> seen = new ArrayList<>();
        list.add(n -> seen.add("a" + n));
        list.add(n -> {
            seen.add("b" + n);
            throw new AssertionError("b");
        });
        assertFalse(list.enqueue(event(1), () -> seen.add("told")));
        Error e = list.dispatch();
        assertEquals("b", e.getMessage());
        assertEquals(List.of("a1", "b1", "told"), seen);
    }

    @Test
    void enqueueWhenRun_listenerRemovedBeforeDispatch_skippedCallCountsAsRun() {
        List<Integer> seen = new ArrayList<>();
        AtomicInteger told = new AtomicInteger();
        ListenerList.Entry<Consumer<Integer>> e = list.add(seen::add);
        assertFalse(list.enqueue(event(1), told::incrementAndGet));
        e.remove();
        assertEquals(1, told.get(), "remove skips the pending call and tells");
        assertNull(list.dispatch());
        assertEquals(List.of(), seen);
        assertEquals(1, told.get());
    }

    /**
     * Proves a call left to the thread already running its listener is told as run on that
     * thread, only after it ran: the enqueuing thread's dispatch returns before.
     */
    @Test
    void enqueueWhenRun_callLeftToRunningThread_toldOnThatThreadAfterItRan() throws Exception {
        ReentrantLock transitions = new ReentrantLock();
        List<Integer> seen = new CopyOnWriteArrayList<>();
        CountDownLatch firstRunning = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Thread> toldOn = new CopyOnWriteArrayList<>();
        list.add(n -> {
            seen.add(n);
            if (n == 1) {
                firstRunning.countDown();
                try {
                    assertTrue(release.await(20, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
        });
        Parked.Run<Thread> a = Parked.run(() -> {
            transitions.lock();
            try {
                list.enqueue(event(1));
            } finally {
                transitions.unlock();
            }
            list.dispatch();
            return Thread.currentThread();
        });
        assertTrue(firstRunning.await(20, TimeUnit.SECONDS));
        transitions.lock();
        try {
            assertFalse(list.enqueue(event(2), () -> toldOn.add(Thread.currentThread())));
        } finally {
            transitions.unlock();
        }
        assertNull(list.dispatch()); // listener busy on thread a: left to it
        assertEquals(List.of(), toldOn, "told before the call ran");
        release.countDown();
        Thread ta = a.get();
        assertEquals(List.of(1, 2), seen);
        assertEquals(List.of(ta), toldOn);
    }
}
