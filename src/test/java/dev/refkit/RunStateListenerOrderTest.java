package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The listener rules of {@link RunState} that involve more than one thread or registration:
 * calls to one listener never overlap and come in transition order, {@link Registration}
 * closes once, and the {@code toString()} form.
 */
@Timeout(30)
final class RunStateListenerOrderTest {

    /** A clock that moves one second on every read, so each start has its own start time. */
    private static Clock ticking() {
        AtomicInteger reads = new AtomicInteger();
        return new Clock() {
            @Override
            public ZoneOffset getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Instant instant() {
                return Instant.EPOCH.plusSeconds(reads.incrementAndGet());
            }
        };
    }

    /**
     * Two threads making transitions at once never run one listener at the same time: the
     * second thread leaves its call to the thread still running the listener, which runs it
     * next, so the listener sees the transitions in their order.
     */
    @Test
    void transitions_twoThreadsAtOnce_oneListenerNeverOverlapsAndSeesThemInOrder()
            throws Exception {
        RunState r = RunState.builder("t").clock(ticking()).build();
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger maxInFlight = new AtomicInteger();
        List<Instant> seen = Collections.synchronizedList(new ArrayList<>());
        List<Thread> callers = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstCallEntered = new CountDownLatch(1);
        CountDownLatch releaseFirstCall = new CountDownLatch(1);
        r.onStart(x -> {
            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            seen.add(x.startTime().orElseThrow());
            callers.add(Thread.currentThread());
            if (seen.size() == 1) {
                firstCallEntered.countDown();
                try {
                    TestThreads.await(releaseFirstCall);
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            inFlight.decrementAndGet();
        });
        Instant firstStart = Instant.EPOCH.plusSeconds(1);
        TestThreads.Call first = TestThreads.startCall(() -> {
            r.start(); // its listener call holds until released
            return null;
        });
        TestThreads.await(firstCallEntered);

        r.stop();
        r.start(); // the second start's call is queued behind the running one
        assertEquals(1, seen.size(), "the second start left its call to the first thread");

        releaseFirstCall.countDown();
        assertNull(first.join());
        assertEquals(1, maxInFlight.get(), "calls to one listener never overlap");
        assertEquals(2, seen.size());
        assertEquals(firstStart, seen.get(0));
        assertEquals(r.startTime().orElseThrow(), seen.get(1), "the second call came second");
        assertTrue(seen.get(0).isBefore(seen.get(1)));
        assertEquals(List.of(first.thread, first.thread), callers);
        r.stop();
    }

    /** Closing a listener's registration twice removes it once and leaves the others. */
    @Test
    void registration_closedTwice_removesOnlyItsListenerOnce() {
        RunState r = new RunState("t");
        AtomicInteger removed = new AtomicInteger();
        AtomicInteger kept = new AtomicInteger();
        Registration reg = r.onStart(x -> removed.incrementAndGet());
        r.onStart(x -> kept.incrementAndGet());
        reg.close();
        reg.close();
        r.start();
        r.stop();
        try (Registration again = r.onStop(x -> kept.incrementAndGet())) {
            assertTrue(again instanceof AutoCloseable);
            r.start();
            r.stop();
        } // close() throws nothing checked: no catch needed
        r.start();
        r.stop();
        assertEquals(0, removed.get());
        assertEquals(4, kept.get(), "3 starts and the stop made while registered");
    }

    /** toString is RunState[name]{STATE, cancelled=flag, runTime=duration}. */
    @Test
    void toString_idleAndStopping_kindNameThenStateAndDetails() {
        RunState r = new RunState("indexer");
        assertEquals("RunState[indexer]{IDLE, cancelled=false, runTime=PT0S}", r.toString());
        r.cancel();
        assertEquals("RunState[indexer]{IDLE, cancelled=true, runTime=PT0S}", r.toString());
        r.start();
        assertTrue(r.toString().startsWith("RunState[indexer]{STOPPING, cancelled=true, runTime=PT"),
                r.toString());
        r.stop();
    }
}
