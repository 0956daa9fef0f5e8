package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.MultiOpenAttempt.Outcome;
import dev.refkit.MultiOpenAttempt.Role;
import org.junit.jupiter.api.Test;

/** {@link MultiOpenAttempt} alone: roles, leaving, sealing and the outcome. */
final class MultiOpenAttemptTest {

    @Test
    void join_first_isStarterThenMembers() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        assertEquals(Role.STARTER, a.join());
        assertEquals(Role.MEMBER, a.join());
        assertEquals(Role.MEMBER, a.join());
        assertEquals(2, a.members());
    }

    @Test
    void join_afterSeal_tooLate() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        a.join();
        a.join();
        assertEquals(1, a.seal());
        assertEquals(Role.TOO_LATE, a.join());
        assertEquals(1, a.members());
    }

    @Test
    void leave_beforeSeal_notCounted() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        a.join();
        a.join();
        a.join();
        assertTrue(a.leave());
        assertEquals(1, a.seal());
    }

    @Test
    void leave_afterSeal_refusedStaysCounted() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        a.join();
        a.join();
        assertEquals(1, a.seal());
        assertFalse(a.leave());
        assertEquals(1, a.members());
    }

    @Test
    void finish_failed_publishesFailure() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        assertFalse(a.isFinished());
        assertEquals(Outcome.PENDING, a.outcome());
        RuntimeException boom = new RuntimeException("boom");
        a.seal();
        a.finish(Outcome.FAILED, boom);
        assertTrue(a.isFinished());
        assertEquals(Outcome.FAILED, a.outcome());
        assertSame(boom, a.failure());
    }

    @Test
    void finish_succeeded_noFailure() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        a.seal();
        a.finish(Outcome.SUCCEEDED, null);
        assertEquals(Outcome.SUCCEEDED, a.outcome());
        assertNull(a.failure());
    }

    @Test
    void finish_inconsistentArguments_throw() {
        MultiOpenAttempt a = new MultiOpenAttempt();
        assertThrows(IllegalArgumentException.class, () -> a.finish(Outcome.PENDING, null));
        assertThrows(IllegalArgumentException.class, () -> a.finish(Outcome.FAILED, null));
        assertThrows(IllegalArgumentException.class,
                () -> a.finish(Outcome.ABANDONED, new RuntimeException()));
        assertFalse(a.isFinished());
    }
}
