package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link RunState#cancel(String)} and {@link RunState#cancelReason()}. */
final class RunStateCancelReasonTest {

    @Test
    void cancelReason_beforeAnyCancel_empty() {
        RunState r = new RunState("r");
        assertEquals(Optional.empty(), r.cancelReason());
        r.start();
        assertEquals(Optional.empty(), r.cancelReason());
    }

    @Test
    void cancel_withReason_exactlyThatString() {
        RunState r = new RunState("r");
        r.start();
        r.cancel("  disk full: /var  ");
        assertTrue(r.isCancelled());
        assertEquals(Optional.of("  disk full: /var  "), r.cancelReason());
    }

    @Test
    void cancel_withoutReason_empty() {
        RunState r = new RunState("r");
        r.start();
        r.cancel();
        assertTrue(r.isCancelled());
        assertEquals(Optional.empty(), r.cancelReason());
    }

    @Test
    void cancel_firstDecides_laterIgnored() {
        RunState r = new RunState("r");
        r.start();
        AtomicInteger listener = new AtomicInteger();
        r.onCancel(x -> listener.incrementAndGet());
        r.cancel("first");
        r.cancel("second");
        r.cancel();
        assertEquals(Optional.of("first"), r.cancelReason());
        assertEquals(1, listener.get());
        RunState s = new RunState("s");
        s.start();
        s.cancel();
        s.cancel("late");
        assertEquals(Optional.empty(), s.cancelReason());
    }

    @Test
    void cancel_nullReason_throws() {
        RunState r = new RunState("r");
        assertEquals("reason", assertThrows(NullPointerException.class,
                () -> r.cancel(null)).getMessage());
    }

    /** The reason follows the flag: kept while STOPPED, cleared by the next start. */
    @Test
    void start_afterCancelledRun_clearsReason() {
        RunState r = new RunState("r");
        r.start();
        r.cancel("why");
        r.stop();
        assertEquals(Optional.of("why"), r.cancelReason());
        r.start();
        assertEquals(Optional.empty(), r.cancelReason());
    }

    /** A cancel made while no run is going is kept, with its reason, for the next run. */
    @Test
    void cancel_whileIdleOrStopped_reasonKeptForNextRun() {
        RunState r = new RunState("r");
        r.cancel("early");
        r.start();
        assertTrue(r.isStopping());
        assertEquals(Optional.of("early"), r.cancelReason());
        r.stop();
        r.start();
        assertEquals(Optional.empty(), r.cancelReason());
        r.cancel("run 2");
        r.stop();
        r.cancel("for run 3"); // a new cancel, for the next run: its reason replaces
        assertEquals(Optional.of("for run 3"), r.cancelReason());
        r.start();
        assertEquals(Optional.of("for run 3"), r.cancelReason());
    }

    @Test
    void child_getsParentsReason() {
        RunState parent = new RunState("p");
        parent.start();
        RunState child = parent.child("c");
        child.start();
        parent.cancel("parent's");
        assertEquals(Optional.of("parent's"), child.cancelReason());
        RunState late = parent.child("late");
        assertEquals(Optional.of("parent's"), late.cancelReason());
        late.start();
        assertEquals(Optional.of("parent's"), late.cancelReason());
    }
}
