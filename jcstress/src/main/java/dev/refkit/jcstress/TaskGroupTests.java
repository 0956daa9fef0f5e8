package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import com.google.common.util.concurrent.MoreExecutors;
import dev.refkit.ClosedException;
import dev.refkit.Task;
import dev.refkit.TaskGroup;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Races on {@link TaskGroup}: {@code spawn} racing {@code close()} (rule 4 of issue 10: the
 * task either runs and is waited for, or is refused with {@link ClosedException}; it never
 * runs after {@code close()} has returned); a task's failure racing a sibling's success
 * (exactly that failure is what {@code close()} throws, nothing suppressed, the success kept);
 * and {@link Task#cancel(boolean) cancel(true)} racing the task's normal end (the task is
 * done exactly once, {@code SUCCEEDED} or {@code CANCELLED}, and {@code status()},
 * {@code isCancelled()}, {@code get()} and its listener all agree); and a task's end racing
 * {@code close()}'s wait for it (the closer is always woken). Each state opens its own
 * group and the arbiter (or an actor) closes it, so no thread outlives a state. Kept to three
 * classes to fit CI's quick-mode budget.
 *
 * <p>Task statuses are encoded as {@code Task.Status} ordinals: SCHEDULED 0, RUNNING 1,
 * SUCCEEDED 2, FAILED 3, CANCELLED 4; -1 means no task.
 */
public final class TaskGroupTests {
    private TaskGroupTests() {}

    /** How long a task body spins at most for its partner (only an overloaded machine needs it). */
    private static final long RENDEZVOUS_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** Spins until {@code count} reaches {@code target} or the rendezvous time is up. */
    static void spinUntil(AtomicInteger count, int target) {
        long deadline = System.nanoTime() + RENDEZVOUS_NANOS;
        while (count.get() < target && System.nanoTime() - deadline < 0) {
            Thread.onSpinWait();
        }
    }

    /**
     * spawn() racing close(): either spawn came first, and the body ran before close()
     * returned, or spawn was refused with ClosedException and the body never ran. r1: what
     * spawn did (1 returned a task, 0 ClosedException, 2 another exception); r2: how many
     * times the body had run when close() returned; r3: how many times it ran in all; r4:
     * the task's status after both (-1 if refused).
     */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 2", expect = ACCEPTABLE, desc = "spawn first: the body ran and close() waited for it")
    @Outcome(id = "0, 0, 0, -1", expect = ACCEPTABLE, desc = "close first: spawn refused with ClosedException, the body never ran")
    @Outcome(id = "1, 0, 1, 2", expect = FORBIDDEN, desc = "rule 4 broken: the body ran after close() returned (unwaited)")
    @Outcome(id = "1, 0, 0, 2", expect = FORBIDDEN, desc = "an accepted task reported SUCCEEDED but its body never ran")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a run twice, another exception, a wrong status")
    @State
    public static class SpawnRacesClose {
        final TaskGroup group = TaskGroup.open("jcstress");
        final AtomicInteger ran = new AtomicInteger();
        volatile int spawned = -1;
        volatile int ranWhenClosed = -1;
        volatile Task<?> task;

        @Actor
        public void spawner() {
            try {
                task = group.spawn(ran::incrementAndGet);
                spawned = 1;
            } catch (ClosedException e) {
                spawned = 0;
            } catch (RuntimeException e) {
                spawned = 2;
            }
        }

        @Actor
        public void closer() {
            group.close();
            ranWhenClosed = ran.get();
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            r.r1 = spawned;
            r.r2 = ranWhenClosed;
            r.r3 = ran.get();
            Task<?> t = task;
            r.r4 = t == null ? -1 : t.status().ordinal();
        }
    }

    /**
     * A task's failure racing a sibling's success, both ending at about the same moment
     * (their bodies meet first): close() throws exactly the failure, with nothing suppressed,
     * the failed task is FAILED and the cancel's reason names it; the sibling that returned
     * normally keeps its result, even when it returned after the failure cancelled the
     * group. r1: close() (1 threw the failure itself, with no suppressed exception; 0
     * returned; 2 threw something else); r2: the failed task's status; r3: the sibling's
     * status; r4: the sibling's get() (1 its result, 2 CancellationException, 3 anything
     * else); r5: whether the group's cancel reason names the task "fail".
     */
    @JCStressTest
    @Outcome(id = "1, 3, 2, 1, 1", expect = ACCEPTABLE, desc = "the failure is reported; the sibling's result is kept (whichever ended first)")
    @Outcome(id = "1, 3, 4, 2, 1", expect = ACCEPTABLE, desc = "the failure cancelled the sibling before it began (only if the bodies did not meet in 100 ms)")
    @Outcome(id = "0, 3, 2, 1, 1", expect = FORBIDDEN, desc = "the failure was lost: close() returned normally")
    @Outcome(id = "2, 3, 2, 1, 1", expect = FORBIDDEN, desc = "close() threw another exception, or the failure with something suppressed")
    @Outcome(expect = FORBIDDEN, desc = "anything else: the failed task not FAILED, the success lost, the reason wrong")
    @State
    public static class FailureRacesSuccess {
        final TaskGroup group = TaskGroup.open("jcstress");
        final AtomicInteger met = new AtomicInteger();
        final IllegalStateException boom = new IllegalStateException("boom");
        volatile Task<?> failing;
        volatile Task<Integer> succeeding;
        volatile int siblingGet = -1;

        @Actor
        public void fail() {
            Task<?> t = group.spawn("fail", () -> {
                met.incrementAndGet();
                spinUntil(met, 2);
                throw boom;
            });
            failing = t;
            // Wait with get(), not join(): close() in the arbiter (on any thread) must see the
            // failure as not yet delivered.
            try {
                t.get();
            } catch (ExecutionException | CancellationException expected) {
                // the failure, as the arbiter checks
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        @Actor
        public void succeed() {
            Task<Integer> t = group.spawn("succeed", () -> {
                met.incrementAndGet();
                spinUntil(met, 2);
                return 42;
            });
            succeeding = t;
            try {
                siblingGet = t.get() == 42 ? 1 : 3;
            } catch (CancellationException e) {
                siblingGet = 2;
            } catch (ExecutionException | RuntimeException e) {
                siblingGet = 3;
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        @Arbiter
        public void arbiter(IIIII_Result r) {
            try {
                group.close();
                r.r1 = 0;
            } catch (RuntimeException e) {
                r.r1 = e == boom && e.getSuppressed().length == 0 ? 1 : 2;
            }
            r.r2 = failing.status().ordinal();
            r.r3 = succeeding.status().ordinal();
            r.r4 = siblingGet;
            r.r5 = group.runState().cancelReason().orElse("").contains("task fail failed") ? 1 : 0;
        }
    }

    /**
     * cancel(true) racing the task's normal end: the body ends just as the canceller calls
     * cancel (the canceller lets it end, then cancels at once). The task is done exactly
     * once, either SUCCEEDED (the end came first and cancel returned false) or CANCELLED
     * (cancel came first and returned true), and every view agrees: status(),
     * isCancelled(), get() in the spawning actor, and one call of its listener. A cancel is
     * not a failure, so close() returns normally. r1: cancel's result (1 true, 0 false);
     * r2: status; r3: isCancelled(); r4: get() (1 the result, 2 CancellationException,
     * 3 anything else); r5: listener calls * 10 + close() (0 returned, 1 threw).
     */
    @JCStressTest
    @Outcome(id = "0, 2, 0, 1, 10", expect = ACCEPTABLE, desc = "the body ended first: SUCCEEDED, cancel returned false, get() the result")
    @Outcome(id = "1, 4, 1, 2, 10", expect = ACCEPTABLE, desc = "cancel came first (before or while the body ran): CANCELLED, get() threw CancellationException")
    @Outcome(id = "1, 2, 0, 1, 10", expect = FORBIDDEN, desc = "cancel returned true but the task SUCCEEDED")
    @Outcome(id = "0, 4, 1, 2, 10", expect = FORBIDDEN, desc = "cancel returned false but the task is CANCELLED")
    @Outcome(id = "1, 4, 1, 2, 20", expect = FORBIDDEN, desc = "the listener ran twice: done reported twice")
    @Outcome(expect = FORBIDDEN, desc = "anything else: views disagree, the task not done, close() threw")
    @State
    public static class CancelRacesTaskEnd {
        final TaskGroup group = TaskGroup.open("jcstress");
        final AtomicInteger listenerCalls = new AtomicInteger();
        /** 1 once the body runs; 2 once the canceller lets it end. */
        final AtomicInteger step = new AtomicInteger();
        volatile Task<Integer> task;
        volatile int got = -1;
        volatile int cancelled = -1;

        @Actor
        public void spawnAndGet() {
            Task<Integer> t = group.spawn(() -> {
                step.compareAndSet(0, 1);
                spinUntil(step, 2);
                return 42;
            });
            t.addListener(listenerCalls::incrementAndGet, MoreExecutors.directExecutor());
            task = t;
            try {
                got = t.get() == 42 ? 1 : 3;
            } catch (CancellationException e) {
                got = 2;
            } catch (ExecutionException | RuntimeException e) {
                got = 3;
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        @Actor
        public void cancel() {
            Task<Integer> t;
            long deadline = System.nanoTime() + RENDEZVOUS_NANOS;
            while ((t = task) == null || step.get() == 0 && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait(); // for the task and, mostly, for its body to run
            }
            step.set(2);
            cancelled = t.cancel(true) ? 1 : 0;
        }

        @Arbiter
        public void arbiter(IIIII_Result r) {
            int closeThrew;
            try {
                group.close();
                closeThrew = 0;
            } catch (RuntimeException e) {
                closeThrew = 1;
            }
            Task<Integer> t = task;
            r.r1 = cancelled;
            r.r2 = t.status().ordinal();
            r.r3 = t.isCancelled() ? 1 : 0;
            r.r4 = got;
            r.r5 = listenerCalls.get() * 10 + closeThrew;
        }
    }

    /**
     * A spawn racing the group's cancel: the cancel goes through the live tasks after
     * setting its flag, the spawn tests the flag after registering the task, so one of them
     * sees the other. The task either never runs (CANCELLED) or runs and is interrupted; a
     * task that runs on uninterrupted (its body gives up after a second) means the cancel
     * missed it.
     */
    @JCStressTest
    @Outcome(id = "4, -1", expect = ACCEPTABLE, desc = "cancel first: the task never ran, CANCELLED")
    @Outcome(id = "2, 1", expect = ACCEPTABLE, desc = "spawn first: the body ran and was interrupted by the cancel")
    @Outcome(id = "2, 2", expect = FORBIDDEN, desc = "the cancel missed a running task: never interrupted")
    @Outcome(expect = FORBIDDEN, desc = "anything else: another status, close() threw")
    @State
    public static class SpawnRacesCancel {
        final TaskGroup group = TaskGroup.open("jcstress");
        volatile Task<Integer> task;

        @Actor
        public void spawn() {
            task = group.spawn(() -> {
                for (int i = 0; i < 1000 && !Thread.currentThread().isInterrupted(); i++) {
                    LockSupport.parkNanos(1_000_000L);
                }
                return Thread.currentThread().isInterrupted() ? 1 : 2;
            });
        }

        @Actor
        public void cancel() {
            group.cancel();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            try {
                group.close();
            } catch (RuntimeException e) {
                r.r1 = -2;
                return;
            }
            Task<Integer> t = task;
            r.r1 = t.status().ordinal();
            r.r2 = t.status() == Task.Status.SUCCEEDED ? t.resultNow() : -1;
        }
    }

    /**
     * A task's end racing {@code close()}'s wait for it: the task is released by one actor
     * while the other closes, so the last end and the closer's park meet (the end wakes
     * the waiters only when it leaves none: a lost wake-up hangs close(), which jcstress
     * reports as a stuck run). close() must return, and only after the body ended. r1: the
     * body had ended
     * when close() returned (1) or not (0); r2: the task's status after both.
     */
    @JCStressTest
    @Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "close() waited for the task's end, however they met")
    @Outcome(id = "0, 2", expect = FORBIDDEN, desc = "close() returned before the task ended")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a wrong status (a close that never returns fails the run as stuck)")
    @State
    public static class TaskEndRacesCloseWait {
        final TaskGroup group = TaskGroup.open("jcstress");
        final AtomicInteger ended = new AtomicInteger();
        volatile boolean release;
        volatile int endedAtClose = -1;
        final Task<Integer> task = group.spawn(() -> {
            long deadline = System.nanoTime() + RENDEZVOUS_NANOS;
            while (!release && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            ended.incrementAndGet();
            return 1;
        });

        @Actor
        public void releaser() {
            release = true;
        }

        @Actor
        public void closer() {
            group.close();
            endedAtClose = ended.get();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = endedAtClose;
            r.r2 = task.status().ordinal();
        }
    }
}
