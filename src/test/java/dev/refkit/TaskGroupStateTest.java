package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.internal.MemberList;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link TaskGroupState} alone: the word, members, cancel, failures and waits. */
@Timeout(30)
final class TaskGroupStateTest {
    private final TaskGroupState<String> s = new TaskGroupState<>("g");

    @Test
    void register_untilClosed_thenRefused() {
        MemberList.Member<String> a = MemberList.member("a");
        assertTrue(s.register(a));
        assertEquals(1, s.count());
        assertEquals(TaskGroupState.NOT_EMPTY, s.tryClose());
        s.deregister(a);
        assertTrue(s.closable());
        assertEquals(TaskGroupState.CLOSED_NOW, s.tryClose());
        assertEquals(TaskGroupState.CLOSED_BEFORE, s.tryClose());
        assertFalse(s.register(MemberList.member("b")));
        assertEquals(0, s.count());
        assertEquals("CLOSED", s.stateName());
    }

    @Test
    void members_snapshot_oldestFirst_withoutTheDeregistered() {
        MemberList.Member<String> a = MemberList.member("a");
        s.register(a);
        s.register(MemberList.member("b"));
        s.register(MemberList.member("c"));
        assertEquals(List.of("a", "b", "c"), s.members());
        s.deregister(a);
        assertEquals(List.of("b", "c"), s.members());
        List<String> seen = new ArrayList<>();
        s.forEachMember(seen::add);
        assertEquals(List.of("c", "b"), seen);
    }

    @Test
    void markCancelled_firstDecidesReason_messageNamesIt() {
        assertEquals("g: cancelled", s.cancelMessage());
        assertTrue(s.markCancelled("first", null));
        assertFalse(s.markCancelled("second", null));
        assertTrue(s.isCancelled());
        assertEquals("first", s.reason());
        assertEquals("g: cancelled: first", s.cancelMessage());
    }

    @Test
    void markCancelled_afterClosed_nothing() {
        s.tryClose();
        assertFalse(s.markCancelled("late", null));
        assertFalse(s.isCancelled());
    }

    @Test
    void recordFailure_firstKeptLaterSuppressedInOrder_noSelfSuppression() {
        RuntimeException a = new RuntimeException("a");
        RuntimeException b = new RuntimeException("b");
        Error c = new Error("c");
        assertTrue(s.recordFailure(a));
        assertFalse(s.recordFailure(b));
        assertFalse(s.recordFailure(a));
        assertFalse(s.recordFailure(c));
        assertSame(a, s.failure());
        assertEquals(List.of(b, c), List.of(a.getSuppressed()));
    }

    @Test
    void outcome_failureBeforeDeadline() {
        RuntimeException deadline = new RuntimeException("deadline");
        assertNull(s.outcome());
        s.markCancelled("deadline", deadline);
        assertSame(deadline, s.outcome());
        RuntimeException f = new RuntimeException("f");
        s.recordFailure(f);
        assertSame(f, s.outcome());
    }

    /**
     * The count follows registers and deregisters through many comings and goings, and the
     * wait that begins after the last deregister returns at once.
     */
    @Test
    void count_registeredMinusEnded_throughManyCycles() throws Exception {
        List<MemberList.Member<String>> live = new ArrayList<>();
        for (int round = 0; round < 1000; round++) {
            MemberList.Member<String> m = MemberList.member("m" + round);
            assertTrue(s.register(m));
            live.add(m);
            if (round % 3 == 2) {
                s.deregister(live.remove(0));
                s.deregister(live.remove(0));
            }
            assertEquals(live.size(), s.count());
        }
        for (MemberList.Member<String> m : live) {
            s.deregister(m);
        }
        assertEquals(0, s.count());
        s.awaitEmpty(this, "join()"); // returns at once
        assertEquals(List.of(), s.members());
    }

    /** The last deregister wakes a thread waiting for the members to end. */
    @Test
    void awaitEmpty_lastDeregister_wakes() throws Exception {
        MemberList.Member<String> a = MemberList.member("a");
        s.register(a);
        TestThreads.Call c = TestThreads.startCall(() -> {
            s.awaitEmpty(this, "join()");
            return null;
        });
        TestThreads.awaitParked(c.thread);
        s.deregister(a);
        assertNull(c.join());
    }

    @Test
    void beginClosing_afterEnded_false() {
        assertTrue(s.beginClosing());
        assertEquals("CLOSING", s.stateName());
        assertEquals(TaskGroupState.CLOSED_NOW, s.tryClose());
        s.markEnded();
        assertFalse(s.beginClosing());
        s.awaitEnded(this);
    }

    /** Registrations racing a close either count (and the close sees them) or are refused. */
    @Test
    void register_racingClose_countedOrRefused() throws Exception {
        for (int round = 0; round < 200; round++) {
            TaskGroupState<Integer> st = new TaskGroupState<>("r");
            CountDownLatch go = new CountDownLatch(1);
            boolean[] in = new boolean[1];
            Thread t = TestThreads.start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                in[0] = st.register(MemberList.member(1));
            });
            go.countDown();
            int r = st.tryClose();
            t.join();
            if (r == TaskGroupState.CLOSED_NOW) {
                assertFalse(in[0]);
            } else {
                assertTrue(in[0]);
                assertEquals(1, st.count());
            }
        }
    }

    @Test
    void recordFailure_withOriginal_listsBothInOrder() {
        RuntimeException a = new RuntimeException("a");
        Exception raw = new Exception("b");
        RuntimeException wrapped = new RuntimeException("wrapped b", raw);
        assertTrue(s.recordFailure(a));
        assertFalse(s.recordFailure(wrapped, raw));
        assertEquals(List.of(a, raw), s.originals());
        assertEquals(List.of(a, wrapped), s.thrown());
        assertSame(wrapped, a.getSuppressed()[0]);
        assertThrows(UnsupportedOperationException.class, () -> s.originals().clear());
    }

    @Test
    void awaitEmptyNanos_memberLeft_timesOutThenTrueOnceEmpty() throws Exception {
        assertTrue(s.awaitEmptyNanos(0L, this, "awaitTasks()"));
        MemberList.Member<String> a = MemberList.member("a");
        s.register(a);
        assertFalse(s.awaitEmptyNanos(1_000_000L, this, "awaitTasks()"));
        s.deregister(a);
        assertTrue(s.awaitEmptyNanos(0L, this, "awaitTasks()"));
    }

    /** The uninterruptible wait ends on the last deregister and keeps an interrupt. */
    @Test
    void awaitEmptyUninterruptibly_interrupted_keepsWaitingSetsFlag() throws Exception {
        MemberList.Member<String> a = MemberList.member("a");
        s.register(a);
        java.util.concurrent.atomic.AtomicBoolean flag =
                new java.util.concurrent.atomic.AtomicBoolean();
        TestThreads.Call c = TestThreads.startCall(() -> {
            s.awaitEmptyUninterruptibly(this);
            flag.set(Thread.currentThread().isInterrupted());
            return null;
        });
        TestThreads.awaitParked(c.thread);
        c.thread.interrupt();
        TestThreads.awaitParked(c.thread);
        assertTrue(c.thread.isAlive());
        s.deregister(a);
        assertEquals(null, c.join());
        assertTrue(flag.get());
    }
}
