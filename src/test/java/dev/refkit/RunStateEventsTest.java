package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.refkit.RunStateEvents.Event;
import dev.refkit.RunStateEvents.Listener;
import dev.refkit.internal.ListenerList;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** {@link RunStateEvents} alone, with a string as its owner and a lock of the test's own. */
final class RunStateEventsTest {

    private final ReentrantLock lock = new ReentrantLock();
    private final RunStateEvents<String> events =
            new RunStateEvents<>("owner", "owner", LoggerFactory.getLogger(RunStateEventsTest.class));

    private Registration add(Event event, Consumer<String> action) {
        lock.lock();
        try {
            return events.add(event, action);
        } finally {
            lock.unlock();
        }
    }

    private ListenerList<Listener<String>> queue(Event event) {
        lock.lock();
        try {
            return events.queue(event);
        } finally {
            lock.unlock();
        }
    }

    private Error transition(Event event) {
        return RunStateEvents.dispatch(queue(event), null);
    }

    @Test
    void queue_noListenerOfThatKind_returnsNull() {
        add(Event.STOP, s -> {});
        assertNull(queue(Event.START));
    }

    @Test
    void dispatch_calledWithTheOwnerInRegistrationOrder_onlyListenersOfTheEvent() {
        List<String> calls = new ArrayList<>();
        add(Event.START, s -> calls.add("start1 " + s));
        add(Event.CANCEL, s -> calls.add("cancel " + s));
        add(Event.START, s -> calls.add("start2 " + s));
        assertNull(transition(Event.START));
        assertEquals(List.of("start1 owner", "start2 owner"), calls);
    }

    /** A RuntimeException is logged and the others run; the first Error is returned, later ones suppressed. */
    @Test
    void dispatch_listenersThrow_othersRunFirstErrorReturned() {
        List<String> calls = new ArrayList<>();
        AssertionError first = new AssertionError("first");
        AssertionError second = new AssertionError("second");
        add(Event.STOP, s -> {
            throw new IllegalStateException("logged, not thrown");
        });
        add(Event.STOP, s -> {
            calls.add("a");
            throw first;
        });
        add(Event.STOP, s -> {
            calls.add("b");
            throw second;
        });
        Error got = transition(Event.STOP);
        assertSame(first, got);
        assertSame(second, got.getSuppressed()[0]);
        assertEquals(List.of("a", "b"), calls);
    }

    @Test
    void dispatch_pendingError_keptFirstWithTheListenersErrorSuppressed() {
        AssertionError listener = new AssertionError("listener");
        add(Event.CANCEL, s -> {
            throw listener;
        });
        ListenerList<Listener<String>> calls = queue(Event.CANCEL);
        AssertionError pending = new AssertionError("child");
        assertSame(pending, RunStateEvents.dispatch(calls, pending));
        assertSame(listener, pending.getSuppressed()[0]);
    }

    @Test
    void add_closedTwice_removesOnce() {
        List<String> calls = new ArrayList<>();
        Registration r = add(Event.START, calls::add);
        add(Event.START, s -> calls.add("kept"));
        r.close();
        r.close();
        assertNull(transition(Event.START));
        assertEquals(List.of("kept"), calls);
    }
}
