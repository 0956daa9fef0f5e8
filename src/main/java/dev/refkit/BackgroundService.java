package dev.refkit;

import com.google.common.util.concurrent.Service;
import dev.refkit.internal.Interrupts;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A shared service that runs tasks in the background while it is open, restarts what
 * fails if asked to, and stops them all on its last close (frequenz's
 * {@code BackgroundService}, Guava's {@code AbstractExecutionThreadService}), reference
 * counted as every {@link MultiOpen}: the first {@code open()} starts it, the last
 * {@code close()} stops it.
 *
 * <p><b>Lifecycle.</b> The first open of a cycle opens a <em>supervising</em>
 * {@link TaskGroup} named after the service (a failure cancels no sibling; the group is
 * nobody's child, whatever thread opens), and calls {@link #start(TaskGroup)}, which
 * spawns the service's work into it. If {@code start} throws, the tasks it spawned are
 * cancelled and joined, their failures are attached to its exception with
 * {@link Throwable#addSuppressed}, and the open fails with that exception (MultiOpen's
 * startup-failure rules): the service is left as it was before, with no task. The last
 * {@code close()} cancels the group, waits for every task to end, closes it, and throws the
 * failures not yet reported. An {@code open()} arriving meanwhile waits for that, then
 * starts a fresh cycle with a fresh group.
 *
 * <p><b>Failures.</b> A failure is what {@link TaskGroup} counts as one: a task ended by the
 * service's cancel with {@link InterruptedException},
 * {@link java.util.concurrent.CancellationException},
 * {@link java.io.InterruptedIOException} or
 * {@link java.nio.channels.ClosedByInterruptException} is not; anything else is, even after
 * the cancel. Protected tasks' failures and the intermediate failures of restarting tasks
 * are logged, never reported. Each failure is thrown once, by the first of
 * {@link #awaitTasks()}, {@link #stop()} or the last {@code close()} that sees it: the
 * first failure not yet reported is thrown (an unchecked one as itself, a checked one in
 * the task's {@link LifecycleException}, {@code "NAME: task T failed"}), with every later
 * one attached with {@code addSuppressed}. {@link #failures()} lists them all, whether
 * reported or not.
 *
 * <p><b>Guava interop.</b> {@link #asService()} is this service as a Guava
 * {@link Service}, holding one open of its own from {@code startAsync()} to
 * {@code stopAsync()}, so that it joins a Guava
 * {@link com.google.common.util.concurrent.ServiceManager} beside Guava's own services; a
 * failed open or close makes it {@code FAILED} with that exception. The other way round,
 * {@link #of(String, Service)} runs a Guava service as a {@code BackgroundService}: the first
 * open starts it and waits until it is {@code RUNNING}, the last close stops it and waits
 * until it is {@code TERMINATED}, and its failure is the service's.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread, except that
 * {@code stop()} and {@code awaitTasks} throw {@link IllegalStateException} in a task of
 * this service, which would wait for itself. The last {@code close()} from one of its own
 * tasks is misuse too, but the count has then already reached zero: it cancels every task,
 * does not wait (that task has not ended), and throws {@code IllegalStateException}
 * ({@code "NAME: last close() from one of its own tasks; tasks cancelled, not awaited"}); the
 * service is closed while its tasks end, and {@link #tasks()} and {@link #isRunning()} show
 * them until they have. {@link #cancel()}, {@link #isRunning()},
 * {@link #tasks()}, {@link #failures()} and {@link #toString()} never block.
 *
 * <p><b>Memory consistency effects.</b> Actions in {@code start} happen-before its tasks
 * begin; actions of the tasks happen-before {@code stop()}, {@code awaitTasks} and the last
 * {@code close()} return or throw, once they waited for those tasks.
 *
 * <p><b>Example.</b>
 * <pre>{@code
 * final class Heartbeat extends BackgroundService {
 *     Heartbeat() { super("heartbeat"); }
 *     protected void start(TaskGroup tasks) {
 *         tasks.spawn("beat", () -> {
 *             RunState rs = tasks.runState();
 *             while (!rs.isCancelled()) { ping(); rs.sleep(Duration.ofSeconds(1)); }
 *         });
 *     }
 * }
 * try (Handle h = heartbeat.open()) { ... }   // the last close stops the task
 * }</pre>
 */
public abstract class BackgroundService extends MultiOpen {
    private static final Logger log = LoggerFactory.getLogger(BackgroundService.class);

    /**
     * The body of a {@link #loop} service: one turn of the loop.
     */
    @FunctionalInterface
    public interface LoopBody {
        /**
         * Runs one turn.
         *
         * @param runState the service's group's run state (cancelled by the service's stop)
         * @throws Exception if the turn fails; the loop's policy decides whether it runs again
         */
        void run(RunState runState) throws Exception;
    }

    /** One cycle: its group and how many of its failures were thrown. */
    private static final class Cycle {
        final TaskGroup group;
        final AtomicInteger reported = new AtomicInteger();

        Cycle(TaskGroup group) {
            this.group = group;
        }
    }

    /** The threads of every cycle's group; null for the group's default. */
    private final @Nullable ThreadFactory threadFactory;

    /** The current (or last) cycle; null before the first open. */
    private volatile @Nullable Cycle cycle;

    /** The one Guava view, made by the first {@link #asService()}; then never changes. */
    private volatile @Nullable Service guavaView;

    /**
     * Creates a service with the given name, used in every message, for its group and in
     * {@code toString()}.
     *
     * @param name the name
     * @throws NullPointerException if {@code name} is null
     */
    protected BackgroundService(String name) {
        super(Objects.requireNonNull(name, "name"));
        this.threadFactory = null;
    }

    /**
     * Creates a service whose tasks run on threads of {@code threadFactory}, say platform
     * threads on a JDK that has virtual ones (the default: see
     * {@link TaskGroup.Builder#threadFactory}). Each cycle's group asks it for threads of its
     * own; a thread may run several tasks of the cycle, one after another.
     *
     * @param name the name, used in every message, for its group and in {@code toString()}
     * @param threadFactory makes the threads of every cycle's group
     * @throws NullPointerException if an argument is null
     */
    protected BackgroundService(String name, ThreadFactory threadFactory) {
        super(Objects.requireNonNull(name, "name"));
        this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
    }

    /**
     * Spawns the service's work into {@code tasks}, its group for this cycle. Called exactly
     * once per cycle, by the first open, in that thread, under the lifecycle lock (see
     * {@link MultiOpen#startup()}); other openers wait until it returns.
     *
     * @param tasks the cycle's supervising group
     * @throws Exception if the service cannot start; its spawned tasks are cancelled and
     *     joined and the open fails with it
     */
    protected abstract void start(TaskGroup tasks) throws Exception;

    /**
     * Opens the cycle's group and calls {@link #start}; final here.
     *
     * @throws Exception what {@code start} threw, with its tasks' failures suppressed on it
     */
    @Override
    protected final void startup() throws Exception {
        Cycle previous = cycle;
        TaskGroup g = TaskGroupCore.detached(() -> {
            TaskGroup.Builder b = TaskGroup.builder(name()).cancelOnFailure(false);
            return (threadFactory == null ? b : b.threadFactory(threadFactory)).build();
        });
        Cycle c = new Cycle(g);
        cycle = c;
        try {
            start(g);
        } catch (Exception | Error e) {
            g.cancel("start() failed");
            g.awaitTasksUninterruptibly();
            List<Throwable> thrown = g.failuresThrown();
            c.reported.set(thrown.size());
            for (Throwable f : thrown) {
                if (f != e) {
                    e.addSuppressed(f);
                }
            }
            closeQuietly(g);
            cycle = previous; // no cycle began
            throw e;
        }
    }

    /**
     * Cancels the group, waits for every task, closes it, throws what is unreported; final
     * here.
     *
     * @throws IllegalStateException if called from a task of this service (the tasks are
     *     cancelled, not awaited)
     * @throws RuntimeException the first unreported failure (see <b>Failures</b>)
     */
    @Override
    protected final void shutdown() {
        Cycle c = Objects.requireNonNull(cycle, "cycle");
        c.group.cancel("last close()");
        if (c.group.isOwnTask()) {
            throw new IllegalStateException(name()
                    + ": last close() from one of its own tasks; tasks cancelled, not awaited");
        }
        closeQuietly(c.group);
        throwUnreported(c);
    }

    /** Closes {@code g}; what it throws is in its failure lists, reported from there. */
    private static void closeQuietly(TaskGroup g) {
        try {
            g.close();
        } catch (RuntimeException | Error reportedFromTheLists) {
            // every failure close() throws is one of g.failuresThrown()
        }
    }

    // ---------------------------------------------------------------- stopping, waiting

    /**
     * Cancels every task of this cycle (the group's cancel, reason {@code "cancel()"}),
     * leaving the open count alone: the service stays open, and idle, until its last close.
     * Does nothing before the first open or after the last close. Never blocks; never
     * throws the failures.
     */
    public final void cancel() {
        Cycle c = cycle;
        if (c != null) {
            c.group.cancel("cancel()");
        }
    }

    /**
     * Cancels every task as {@link #cancel()} does, waits until every one has ended, then
     * throws the failures not yet reported (see <b>Failures</b>). Does nothing more than
     * {@code cancel()} before the first open, after the last close, or when called again.
     * The open count is left alone.
     *
     * <p><b>Blocking and interrupts.</b> Blocks until the tasks have ended; an interrupt
     * does not end the wait (so that every task has ended when this returns or throws), and
     * the flag is set again on return.
     *
     * @throws IllegalStateException if called from a task of this service:
     *     {@code "NAME: stop() from one of its own tasks"}
     * @throws LifecycleException if the first unreported failure is a checked exception
     * @throws RuntimeException if the first unreported failure is one, as itself
     * @throws Error if the first unreported failure is one, as itself
     */
    public final void stop() {
        Cycle c = cycle;
        if (c == null) {
            return;
        }
        checkNotOwnTask(c, "stop()");
        c.group.cancel("stop()");
        c.group.awaitTasksUninterruptibly();
        throwUnreported(c);
    }

    /**
     * Waits until every task of this cycle has ended, without cancelling (tasks that end by
     * themselves end the wait), then throws the failures not yet reported, as
     * {@link #stop()} does. Returns at once before the first open and after the last close
     * (but throws if the interrupt flag is set on entry, as every wait does). Interrupts: see the <a href="package-summary.html#interrupts">package
     * documentation</a>; an interrupt ends the wait and changes nothing else.
     *
     * <p><b>Memory consistency effects.</b> The tasks' actions happen-before this returns.
     *
     * @throws InterruptedException if the thread is interrupted on entry or while waiting,
     *     with the message {@code "NAME: interrupted in awaitTasks()"} and the flag clear
     * @throws IllegalStateException if called from a task of this service
     * @throws LifecycleException if the first unreported failure is a checked exception
     * @throws RuntimeException if the first unreported failure is one, as itself
     * @throws Error if the first unreported failure is one, as itself
     */
    public final void awaitTasks() throws InterruptedException {
        awaitTasks(-1L);
    }

    /**
     * Like {@link #awaitTasks()}, waiting at most {@code timeout}; if tasks still run then,
     * returns false and throws nothing.
     *
     * @param timeout how long to wait at most; zero just looks
     * @return true if every task has ended, false if the time ran out first
     * @throws InterruptedException as {@link #awaitTasks()} does
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException if called from a task of this service
     * @throws LifecycleException as {@link #awaitTasks()} does
     * @throws RuntimeException as {@link #awaitTasks()} does
     * @throws Error as {@link #awaitTasks()} does
     */
    public final boolean awaitTasks(Duration timeout) throws InterruptedException {
        return awaitTasks(Checks.waitNanos(timeout, "timeout"));
    }

    private boolean awaitTasks(long nanos) throws InterruptedException {
        Cycle c = cycle;
        if (c == null) {
            Interrupts.throwIfInterrupted(name(), "awaitTasks()");
            return true;
        }
        checkNotOwnTask(c, "awaitTasks()");
        if (!c.group.awaitTasks(nanos, "awaitTasks()")) {
            return false;
        }
        throwUnreported(c);
        return true;
    }

    private void checkNotOwnTask(Cycle c, String method) {
        if (c.group.isOwnTask()) {
            throw new IllegalStateException(name() + ": " + method
                    + " from one of its own tasks");
        }
    }

    /** Throws the failures of {@code c} not yet thrown, claiming them first. */
    private static void throwUnreported(Cycle c) {
        List<Throwable> thrown = c.group.failuresThrown();
        int n = thrown.size();
        int k;
        do {
            k = c.reported.get();
            if (k >= n) {
                return;
            }
        } while (!c.reported.compareAndSet(k, n));
        Throwable first = thrown.get(k);
        if (k > 0) { // the group's first failure already carries the later ones
            for (int i = k + 1; i < n; i++) {
                Throwable t = thrown.get(i);
                if (t != first) {
                    first.addSuppressed(t);
                }
            }
        }
        if (first instanceof Error) {
            throw (Error) first;
        }
        throw (RuntimeException) first;
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns the failures of this cycle so far (see <b>Failures</b>): the original
     * exceptions, not wrapped, in the order they happened, reported or not; without
     * protected tasks' failures, intermediate failures of restarting tasks or
     * cancellations. Empty before the first open; the last cycle's after its last close; a
     * new cycle starts empty. Never blocks.
     *
     * @return an unmodifiable snapshot
     */
    public final List<Throwable> failures() {
        Cycle c = cycle;
        return c == null ? List.of() : c.group.failureOriginals();
    }

    /**
     * Returns whether some task of this cycle has not yet ended. Never blocks.
     *
     * @return true if a task is scheduled, running or waiting to restart
     */
    public final boolean isRunning() {
        Cycle c = cycle;
        return c != null && c.group.taskCount() > 0;
    }

    /**
     * Returns a snapshot of this cycle's tasks not yet ended: scheduled, running, or waiting
     * to restart. Empty before the first open and after the last close (unless that close
     * came from one of its own tasks: see <b>Thread safety</b>). Never blocks.
     *
     * @return the tasks, in no particular order
     */
    public final List<Task<?>> tasks() {
        Cycle c = cycle;
        return c == null ? List.of() : c.group.tasks();
    }

    /**
     * Returns {@code BackgroundService[NAME]{STATE, running=R, failed=F, restarts=N}}, for
     * subclasses too: STATE is {@link #state()}, R the tasks not yet ended, F
     * {@code failures().size()} and N the restarts of restarting tasks in this cycle. Never
     * blocks.
     */
    @Override
    public final String toString() {
        Cycle c = cycle;
        int running = c == null ? 0 : c.group.taskCount();
        int failed = c == null ? 0 : c.group.failureOriginals().size();
        int restarts = c == null ? 0 : c.group.restartCount();
        return "BackgroundService[" + name() + "]{" + state() + ", running=" + running
                + ", failed=" + failed + ", restarts=" + restarts + "}";
    }

    // ---------------------------------------------------------------- Guava interop

    /**
     * Returns this service as a Guava {@link Service}: the same object on every call (made by
     * the first call; threads racing on it all get the one that won). Its
     * {@code startAsync()} opens this service, on a new thread (virtual where the JDK has
     * them, else a daemon thread {@code NAME-service-N}), and the view holds that one open
     * of its own; {@code stopAsync()} closes that open, on a new thread. Neither blocks its
     * caller. Its states follow: {@code STARTING} while the open runs (it waits as
     * {@link #open()} does, through interrupts), {@code RUNNING} once it returned,
     * {@code STOPPING} while the close runs, {@code TERMINATED} once it returned. An open
     * or a close that throws makes the view {@code FAILED} with exactly what it threw as
     * {@code failureCause()} (the very object: an unchecked failure of {@code start} or of
     * a task as itself, a checked one in the {@link LifecycleException} that the open or the
     * close threw). So a Refkit service joins a Guava
     * {@link com.google.common.util.concurrent.ServiceManager}.
     *
     * <p>The view's open is counted as any other: other owners' closes leave it alone, so
     * this service stays open at least until the view stops, and the view's close shuts it
     * down only if it is the last. A {@code stopAsync()} while the open runs cannot cancel
     * it: the view reads {@code STOPPING} and closes its open as soon as the open returns.
     * A Guava service runs once: after {@code TERMINATED} or {@code FAILED} the view cannot
     * start again (Guava's rule), though this service can be opened again directly.
     * {@code toString()} is {@code Service[NAME]{STATE}} (with {@code , failure=CAUSE}
     * when {@code FAILED}).
     *
     * <p><b>Thread safety and memory effects.</b> Any method of the view from any thread, as
     * for every Guava {@code AbstractService}; this method never blocks. The actions of
     * {@code start} happen-before the view reads {@code RUNNING}; the view's
     * {@code TERMINATED} or {@code FAILED} after a close happens-after that close returned
     * or threw.
     *
     * @return the one Guava view of this service
     */
    public final Service asService() {
        Service s = guavaView;
        if (s != null) {
            return s;
        }
        Service made = new MultiOpenService(this);
        Service won = (Service) GUAVA_VIEW.compareAndExchange(this, null, made);
        return won != null ? won : made;
    }

    /**
     * Returns a service that runs the Guava {@code service}, once. Its first open starts the
     * Guava service and waits until it is {@code RUNNING}; its last close stops it and waits
     * until it is {@code TERMINATED}. While open, one task named {@code name} stands for the
     * Guava service: {@link #isRunning()} is true while it runs, and {@link #cancel()}
     * stops it (the service then stays open, idle, until its last close).
     *
     * <p><b>The Guava service on its own.</b> If the Guava service leaves {@code RUNNING} by
     * itself while this service is open (someone else stopped it, or it failed), the task
     * ends when it is {@code TERMINATED} or {@code FAILED}: {@code isRunning()} turns false
     * and the service stays open, idle. A {@code FAILED} Guava service, whether on its own
     * or while being stopped, is a task failure: its {@code failureCause()}, the very object,
     * is in {@link #failures()}, and it is thrown by the first of {@link #awaitTasks()},
     * {@link #stop()} or the last close, as every task failure is (a checked one in a
     * {@link LifecycleException} {@code "NAME: task NAME failed"}).
     *
     * <p><b>Blocking and interrupts.</b> The first open waits for {@code RUNNING} as
     * {@link Service#awaitRunning()} does, through interrupts (the flag stays set), also in
     * {@link #openInterruptibly()} (whose openers waiting for another thread's startup give
     * up on an interrupt, as always); the last close and {@code stop()} wait for
     * {@code TERMINATED} through interrupts, as they wait for every task.
     *
     * <p><b>Memory consistency effects.</b> The Guava service's start-up happens-before the
     * first open returns; its shut-down happens-before the last close (or {@code stop()})
     * returns or throws.
     *
     * <p>The open fails, and no cycle begins, with {@link LifecycleException}
     * {@code "NAME: Guava service S failed to start"} (the cause its {@code failureCause()})
     * if the Guava service fails to start; with {@link IllegalStateException} if it stops
     * before it is {@code RUNNING}, if it was not {@code NEW} at the first open, or in any
     * later cycle: {@code "NAME: open() in a new cycle, but the Guava service S ran in an
     * earlier one and cannot start again"}, since a Guava service cannot restart. A
     * {@code cancel()} that comes while the first open starts the Guava service has it
     * stopped before that open returns (the service is then open, idle); should it fail as
     * it stops, that open fails with its {@code failureCause()} instead (as every startup
     * failure: a checked one wrapped, see {@link #open()}).
     *
     * @param name the service's name, and its task's
     * @param service the Guava service, {@code NEW}; nobody else should start it
     * @return a new service, not yet open
     * @throws NullPointerException if an argument is null
     */
    public static BackgroundService of(String name, Service service) {
        GuavaServiceRunner runner = new GuavaServiceRunner(name, service);
        return new Factory(name, runner::start);
    }

    // ---------------------------------------------------------------- factories

    /**
     * Returns a service that runs one restarting task named {@code name}: it calls
     * {@code body.run(runState)} again and again, with its group's
     * {@link TaskGroup#runState()}, until cancelled; a failure ends that run of the loop and
     * {@code policy} restarts it (see {@link TaskGroup#spawnRestarting}); once the policy
     * gives up, the failure is the service's.
     *
     * @param name the service's name, and its task's
     * @param body one turn of the loop
     * @param policy when a failed loop runs again
     * @return a new service, not yet open
     * @throws NullPointerException if an argument is null
     */
    public static BackgroundService loop(String name, LoopBody body, RestartPolicy policy) {
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(policy, "policy");
        return new Factory(name, tasks -> tasks.spawnRestarting(name, policy, () -> {
            RunState rs = tasks.runState();
            while (!rs.isCancelled()) {
                body.run(rs);
            }
        }));
    }

    /**
     * Returns a service that runs {@code body} at once and then {@code period} after each
     * run ended (a fixed delay, never two runs at once), until cancelled, in one task named
     * {@code name}. A run that throws an {@link Exception} is logged (logger
     * {@code dev.refkit.BackgroundService}, warn) and the next run comes as usual: it is no
     * failure of the service, even after a cancel (then no run follows). An {@link Error}
     * ends the task as its failure.
     *
     * @param name the service's name, and its task's
     * @param period the delay from a run's end to the next run
     * @param body one run
     * @return a new service, not yet open
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code period} is zero or negative
     */
    public static BackgroundService every(String name, Duration period,
            RunState.ThrowingRunnable body) {
        Checks.positive(period, "period");
        Objects.requireNonNull(body, "body");
        return new Factory(name, tasks -> tasks.spawn(name, () -> {
            RunState rs = tasks.runState();
            do {
                try {
                    body.run();
                } catch (Exception e) {
                    if (rs.isCancelled() && TaskGroupCore.isCancellation(e)) {
                        throw e;
                    }
                    log.warn("{}: run failed; next run in {}", name, period, e);
                }
            } while (rs.sleep(period));
        }));
    }

    /**
     * Like {@link #every(String, Duration, RunState.ThrowingRunnable)}, but a failing run
     * counts against {@code policy}: the next run comes after the policy's delay instead of
     * {@code period}, and when the policy gives up (at once for
     * {@link RestartPolicy#never()}) the schedule ends with that failure, the service's.
     * The failures before are logged as {@link TaskGroup#spawnRestarting} does. Successful
     * runs in between do not reset the policy's count by themselves; with
     * {@link RestartPolicy#resetAfter(Duration) resetAfter(healthy)}, a stretch of runs
     * since the last restart that lasted at least {@code healthy} before its failure does.
     *
     * @param name the service's name, and its task's
     * @param period the delay from a successful run's end to the next run
     * @param policy when a failed run is followed by another
     * @param body one run
     * @return a new service, not yet open
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code period} is zero or negative
     */
    public static BackgroundService every(String name, Duration period, RestartPolicy policy,
            RunState.ThrowingRunnable body) {
        Checks.positive(period, "period");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(body, "body");
        return new Factory(name, tasks -> tasks.spawnRestarting(name, policy, () -> {
            RunState rs = tasks.runState();
            do {
                body.run();
            } while (rs.sleep(period));
        }));
    }

    /** What a factory's service does in {@code start}. */
    @FunctionalInterface
    private interface Starter {
        void start(TaskGroup tasks) throws Exception;
    }

    /** The factories' service. */
    private static final class Factory extends BackgroundService {
        private final Starter starter;

        Factory(String name, Starter starter) {
            super(name);
            this.starter = starter;
        }

        @Override
        protected void start(TaskGroup tasks) throws Exception {
            starter.start(tasks);
        }
    }

    // VarHandle mechanics
    private static final VarHandle GUAVA_VIEW;

    static {
        try {
            GUAVA_VIEW = MethodHandles.lookup().findVarHandle(BackgroundService.class,
                    "guavaView", Service.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
