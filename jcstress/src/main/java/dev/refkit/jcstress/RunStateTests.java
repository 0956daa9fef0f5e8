package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.refkit.RunState;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Races on {@link RunState}: {@code cancel()} against a thread in {@code sleep} (the wake-up
 * must never be lost), {@code cancel()} against {@code stop()} (one consistent end state,
 * each listener once), {@code start()} against {@code cancel()} from {@code IDLE} and from
 * {@code STOPPED} after a cancelled run (a cancel made while no run is going is kept, so
 * the run ends up cancelled in either order), a listener added while the transition it
 * listens for happens (called at most once), and two threads cancelling two runs at once
 * (their calls of one cancel listener never overlap). Kept to six classes to fit CI's
 * quick-mode budget.
 *
 * <p>States are encoded as {@code RunState.State} ordinals: IDLE 0, RUNNING 1, PAUSED 2,
 * STOPPING 3, STOPPED 4.
 */
public final class RunStateTests {
    private RunStateTests() {}

    private static final Duration HOUR = Duration.ofHours(1);

    /** A cancel racing a sleep(1 hour): the sleeper always wakes and returns false. */
    @JCStressTest
    @Outcome(id = "0", expect = ACCEPTABLE, desc = "sleep returned false: cancelled before or during it")
    @Outcome(id = "1", expect = FORBIDDEN, desc = "sleep returned true: slept an hour through a cancel")
    @Outcome(id = "-1", expect = FORBIDDEN, desc = "sleep was interrupted")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class CancelRacesSleep {
        final RunState run = new RunState("sleeper");

        public CancelRacesSleep() {
            run.start();
        }

        @Actor
        public void sleeper(I_Result r) {
            try {
                r.r1 = run.sleep(HOUR) ? 1 : 0;
            } catch (InterruptedException e) {
                r.r1 = -1;
            }
        }

        @Actor
        public void canceller() {
            run.cancel();
        }
    }

    /**
     * cancel() racing stop() on a running RunState: STOPPED and cancelled either way, the
     * cancel and stop listeners each ran exactly once; r4 is what the stop listener saw.
     */
    @JCStressTest
    @Outcome(id = "4, 1, 11, 1", expect = ACCEPTABLE, desc = "cancel first (or during the stop listener), then stop")
    @Outcome(id = "4, 1, 11, 0", expect = ACCEPTABLE, desc = "stop first, then cancel in STOPPED")
    @Outcome(expect = FORBIDDEN, desc = "inconsistent end state or a listener missed or doubled")
    @State
    public static class CancelRacesStop {
        final RunState run = new RunState("cs");
        final AtomicInteger cancels = new AtomicInteger();
        final AtomicInteger stops = new AtomicInteger();
        volatile int stopSawCancelled = -1;

        public CancelRacesStop() {
            run.onCancel(x -> cancels.incrementAndGet());
            run.onStop(x -> {
                stops.incrementAndGet();
                stopSawCancelled = x.isCancelled() ? 1 : 0;
            });
            run.start();
        }

        @Actor
        public void cancel() {
            run.cancel();
        }

        @Actor
        public void stop() {
            run.stop();
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            r.r1 = run.state().ordinal();
            r.r2 = run.isCancelled() ? 1 : 0;
            r.r3 = cancels.get() * 10 + stops.get();
            r.r4 = stopSawCancelled;
        }
    }

    /**
     * start() racing cancel() from IDLE: either cancel first (kept, so the start begins
     * cancelled, in STOPPING) or start first (then the cancel moves RUNNING to STOPPING).
     * The run is cancelled either way; each listener once.
     */
    @JCStressTest
    @Outcome(id = "3, 1, 11", expect = ACCEPTABLE, desc = "either order: cancel in IDLE kept and the start began in STOPPING, or start first and the cancel moved RUNNING to STOPPING")
    @Outcome(id = "1, 0, 11", expect = FORBIDDEN, desc = "cancel lost: the start cleared a cancel made in IDLE")
    @Outcome(expect = FORBIDDEN, desc = "a mix of both orders, a failed start or a missed or doubled listener")
    @State
    public static class StartRacesCancelFromIdle {
        final RunState run = new RunState("sc");
        final AtomicInteger starts = new AtomicInteger();
        final AtomicInteger cancels = new AtomicInteger();

        public StartRacesCancelFromIdle() {
            run.onStart(x -> starts.incrementAndGet());
            run.onCancel(x -> cancels.incrementAndGet());
        }

        @Actor
        public void start() {
            run.start();
        }

        @Actor
        public void cancel() {
            run.cancel();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = run.state().ordinal();
            r.r2 = run.isCancelled() ? 1 : 0;
            r.r3 = starts.get() * 10 + cancels.get();
        }
    }

    /**
     * start() racing cancel() from STOPPED after a run that was cancelled (the flag is still
     * set): the new cancel is not mistaken for the old one, so either it is kept and the start
     * begins cancelled, or the start clears the old cancel and the new one cancels the run.
     * Either way the new run is cancelled, and each listener ran once.
     */
    @JCStressTest
    @Outcome(id = "3, 1, 11", expect = ACCEPTABLE, desc = "either order: cancel in STOPPED kept and the start began in STOPPING, or start first and the cancel moved RUNNING to STOPPING")
    @Outcome(id = "1, 0, 10", expect = FORBIDDEN, desc = "cancel lost: taken for the earlier run's cancel, then cleared by the start")
    @Outcome(id = "1, 0, 11", expect = FORBIDDEN, desc = "cancel lost: its listeners ran but the start cleared it")
    @Outcome(expect = FORBIDDEN, desc = "a mix of both orders, a failed start or a missed or doubled listener")
    @State
    public static class StartRacesCancelFromStopped {
        final RunState run = new RunState("sc");
        final AtomicInteger starts = new AtomicInteger();
        final AtomicInteger cancels = new AtomicInteger();

        public StartRacesCancelFromStopped() {
            run.start();
            run.cancel();
            run.stop();
            run.onStart(x -> starts.incrementAndGet());
            run.onCancel(x -> cancels.incrementAndGet());
        }

        @Actor
        public void start() {
            run.start();
        }

        @Actor
        public void cancel() {
            run.cancel();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = run.state().ordinal();
            r.r2 = run.isCancelled() ? 1 : 0;
            r.r3 = starts.get() * 10 + cancels.get();
        }
    }

    /** A start listener added while start() runs is called at most once, never twice. */
    @JCStressTest
    @Outcome(id = "0", expect = ACCEPTABLE, desc = "added after the start took its listener snapshot")
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "added before the start took its snapshot")
    @Outcome(expect = FORBIDDEN, desc = "called twice (or a negative count)")
    @State
    public static class AddListenerRacesStart {
        final RunState run = new RunState("ls");
        final AtomicInteger calls = new AtomicInteger();

        @Actor
        public void add() {
            run.onStart(x -> calls.incrementAndGet());
        }

        @Actor
        public void start() {
            run.start();
        }

        @Arbiter
        public void arbiter(I_Result r) {
            r.r1 = calls.get();
        }
    }

    /**
     * Two threads making cancels at once, of run 1 and (after a stop and a start) of run 2:
     * the one cancel listener is called once or twice, by whichever thread, but never by
     * both at the same time; r1 is the number of calls, r2 the most calls seen running at
     * once.
     */
    @JCStressTest
    @Outcome(id = "2, 1", expect = ACCEPTABLE, desc = "both cancels changed something; calls one after the other")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "one cancel was kept for run 2 or came second in run 2")
    @Outcome(id = "2, 2", expect = FORBIDDEN, desc = "the two calls of one listener overlapped")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class CancelListenerCallsFromTwoThreads {
        final RunState run = new RunState("two");
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger maxInFlight = new AtomicInteger();

        public CancelListenerCallsFromTwoThreads() {
            run.onCancel(x -> {
                maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                for (int i = 0; i < 20; i++) {
                    Thread.onSpinWait();
                }
                calls.incrementAndGet();
                inFlight.decrementAndGet();
            });
            run.start();
        }

        @Actor
        public void cancelRunOne() {
            run.cancel();
        }

        @Actor
        public void restartAndCancel() {
            run.stop();
            run.start();
            run.cancel();
        }

        @Arbiter
        public void arbiter(II_Result r) {
            r.r1 = calls.get();
            r.r2 = maxInFlight.get();
        }
    }
}
