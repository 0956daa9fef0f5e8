package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.refkit.internal.ListenerList;
import dev.refkit.internal.MemberList;
import dev.refkit.internal.WaitList;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Races on the library's engine ({@code dev.refkit.internal}), which every wait and every
 * listener call of MultiOpen, Shared, RunState and Pool goes through: a change plus
 * {@code WaitList.wakeAll()} racing a thread that is about to park (the wake-up must never
 * be lost), and two threads dispatching {@code ListenerList} calls at once (calls to one
 * listener never overlap and come in the order they were queued).
 */
public final class EngineTests {
    private EngineTests() {}

    private static final long HOUR_NANOS = TimeUnit.HOURS.toNanos(1);

    /** A change and wakeAll() racing awaitNanos(1 hour): the waiter always wakes. */
    @JCStressTest
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "the waiter saw the change, at once or woken")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "the waiter slept an hour through the change")
    @Outcome(id = "-1", expect = FORBIDDEN, desc = "the wait was interrupted")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class WakeAllRacesPark {
        final WaitList list = new WaitList();
        volatile int value;

        @Actor
        public void waiter(I_Result r) {
            try {
                r.r1 = list.awaitNanos(() -> value == 1, HOUR_NANOS, this, "w", "await()") ? 1 : 0;
            } catch (InterruptedException e) {
                r.r1 = -1;
            }
        }

        @Actor
        public void changer() {
            value = 1;
            list.wakeAll();
        }
    }

    /**
     * Two threads each queue a call under one transition lock and dispatch it: the listener
     * never runs two calls at once (r1: the most calls seen inside it at once) and sees them
     * in the order they were queued (r2: 1 if so).
     */
    @JCStressTest
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "one call at a time, in queue order")
    @Outcome(id = "2, .*", expect = FORBIDDEN, desc = "two calls to one listener overlapped")
    @Outcome(id = "1, 0", expect = FORBIDDEN, desc = "calls ran out of queue order or were lost")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class DispatchersNeverOverlap {
        final ReentrantLock transitions = new ReentrantLock();
        final ListenerList<IntConsumer> listeners = new ListenerList<>((l, t) -> { });
        final List<Integer> queued = new ArrayList<>(); // guarded by transitions
        final List<Integer> seen = new ArrayList<>();   // written by one call at a time
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();

        public DispatchersNeverOverlap() {
            listeners.add(n -> {
                int now = inside.incrementAndGet();
                most.accumulateAndGet(now, Math::max);
                synchronized (seen) {
                    seen.add(n);
                }
                inside.decrementAndGet();
            });
        }

        private void transition(int n) {
            transitions.lock();
            try {
                queued.add(n);
                listeners.enqueue(l -> l.accept(n));
            } finally {
                transitions.unlock();
            }
            listeners.dispatch();
        }

        @Actor
        public void first() {
            transition(1);
        }

        @Actor
        public void second() {
            transition(2);
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = most.get();
            transitions.lock();
            try {
                synchronized (seen) {
                    r.r2 = seen.equals(queued) ? 1 : 0;
                }
            } finally {
                transitions.unlock();
            }
        }
    }

    /**
     * A push racing a sweep that unlinks the head: list X, A (A at the head, removed by
     * the sweeper's actor just before it sweeps), and B pushed at once. The sweep's CAS on
     * the head and the push's CAS meet; the push must never be lost (r1: B listed), X never
     * dropped (r2) and A never listed again (r3).
     */
    @JCStressTest
    @Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "B kept, X kept, A gone")
    @Outcome(id = "0, .*", expect = FORBIDDEN, desc = "the push was lost to the sweep")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a live member dropped or a removed one back")
    @State
    public static class MemberPushRacesSweep {
        final MemberList<String> list = new MemberList<>();
        final MemberList.Member<String> a = MemberList.member("A");

        public MemberPushRacesSweep() {
            list.add(MemberList.member("X"));
            list.add(a);
        }

        @Actor
        public void pusher() {
            list.add(MemberList.member("B"));
        }

        @Actor
        public void sweeper() {
            list.remove(a);
            list.sweep();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            List<String> s = list.snapshot();
            r.r1 = s.contains("B") ? 1 : 0;
            r.r2 = s.contains("X") ? 1 : 0;
            r.r3 = s.contains("A") ? 1 : 0;
        }
    }

    /**
     * A walk racing a sweep that unlinks removed nodes from the middle: list X, A, Y, C, Z
     * with A and C removed; one actor sweeps, the other walks. The walk sees every live
     * member exactly once (r1: how many, r2: 1 if none removed was seen).
     */
    @JCStressTest
    @Outcome(id = "3, 1", expect = ACCEPTABLE, desc = "X, Y and Z seen, once each; A and C not")
    @Outcome(expect = FORBIDDEN, desc = "a live member missed or seen twice, or a removed one seen")
    @State
    public static class MemberWalkRacesSweep {
        final MemberList<String> list = new MemberList<>();

        public MemberWalkRacesSweep() {
            for (String item : List.of("X", "A", "Y", "C", "Z")) {
                MemberList.Member<String> m = MemberList.member(item);
                list.add(m);
                if (item.equals("A") || item.equals("C")) {
                    list.remove(m);
                }
            }
        }

        @Actor
        public void sweeper() {
            list.sweep();
        }

        @Actor
        public void walker(II_Result r) {
            List<String> seen = new ArrayList<>();
            list.forEach(seen::add);
            r.r1 = seen.size();
            r.r2 = seen.contains("A") || seen.contains("C") ? 0 : 1;
        }
    }
}
