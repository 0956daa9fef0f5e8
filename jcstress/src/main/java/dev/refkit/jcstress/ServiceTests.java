package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.refkit.BackgroundService;
import dev.refkit.RunState;
import dev.refkit.TaskGroup;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Races on {@link BackgroundService}: the last {@code close()} racing a new {@code open()}
 * (rules 1 and 3 of issue 11). The open either comes first (the close only decrements, one
 * cycle) or arrives while the close stops the tasks and waits for that, then starts a fresh
 * cycle: every task of one cycle has ended before the next cycle's {@code start} runs, so
 * neither that {@code start} nor its task ever sees a task of the previous cycle still
 * running; {@code start} runs once per cycle, and no open is lost. The service's one task
 * waits on its group's {@link RunState} (woken by the stop), so each actor stays cheap.
 */
public final class ServiceTests {
    private ServiceTests() {}

    /**
     * A service with one task per cycle. The task counts itself in {@code live} while it runs
     * (in a finally, so it leaves the count before it ends); {@code start} and the task each
     * look at that count and record an overlap if a task of another cycle is still in it.
     */
    static final class Svc extends BackgroundService {
        final AtomicInteger starts = new AtomicInteger();
        final AtomicInteger live = new AtomicInteger();
        final AtomicInteger overlaps = new AtomicInteger();

        Svc() {
            super("svc");
        }

        @Override
        protected void start(TaskGroup tasks) {
            starts.incrementAndGet();
            if (live.get() != 0) {
                overlaps.incrementAndGet(); // the previous cycle's task still runs
            }
            tasks.spawn("wait", () -> {
                if (live.incrementAndGet() != 1) {
                    overlaps.incrementAndGet();
                }
                try {
                    tasks.runState().sleep(Duration.ofHours(1)); // ended by the stop
                } finally {
                    live.decrementAndGet();
                }
            });
        }
    }

    /**
     * The last close racing a new open. The state opens the service once (cycle 1, its task
     * running or about to); one actor closes that open, the other opens again. r1: how many
     * times {@code start} ran (1: the open came first and the close only decremented; 2: the
     * close came first, the open waited for its stop and started cycle 2); r2: overlaps seen
     * by a {@code start} or a task (a task of the previous cycle still running); r3: 1 if,
     * after both, the service is open once with its task not yet ended (0: an open lost or
     * the service idle).
     */
    @JCStressTest
    @Description("BackgroundService: the last close() racing a new open(); one cycle's tasks all end before the next cycle's start")
    @Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "open first: the close only decremented; one cycle, its task still running")
    @Outcome(id = "2, 0, 1", expect = ACCEPTABLE, desc = "close first: the open waited for the stop, then started a fresh cycle")
    @Outcome(id = {"1, [1-9], 1", "2, [1-9], 1"}, expect = FORBIDDEN, desc = "a start or a task saw the previous cycle's task still running")
    @Outcome(id = "[3-9], .*", expect = FORBIDDEN, desc = "start ran twice for one cycle")
    @Outcome(id = ".*, 0", expect = FORBIDDEN, desc = "an open lost: the service not open once with a live task")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class LastCloseRacesOpen {
        final Svc svc = new Svc();

        public LastCloseRacesOpen() {
            svc.open();
        }

        @Actor
        public void closer() {
            svc.close();
        }

        @Actor
        public void opener() {
            svc.open();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r1 = svc.starts.get();
            r.r3 = svc.openCount() == 1 && svc.isOpen() && svc.isRunning() ? 1 : 0;
            while (svc.openCount() > 0) {
                svc.close(); // ends the cycle: its task has ended when this returns
            }
            r.r2 = svc.overlaps.get();
        }
    }
}
