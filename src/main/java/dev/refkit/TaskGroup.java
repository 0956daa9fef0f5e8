package dev.refkit;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Structured tasks: threads that never outlive their owner, whose first failure cancels
 * the rest and reaches the owner, and no failure is ever lost (trio's nursery, giambio's
 * {@code TaskManager}, the JDK's {@code StructuredTaskScope}, on Java 17 and without a
 * preview flag).
 *
 * <p><b>Lifecycle.</b> {@code OPEN} from {@link #open()} or {@link Builder#build()}:
 * {@code spawn*} and {@code start} add tasks. {@code CLOSING} while {@link #close()} waits
 * for every task to end; tasks may still spawn siblings then. {@code CLOSED} once every
 * task has ended and {@code close()} has returned or thrown: {@code spawn*} and
 * {@code start} throw {@link ClosedException} ({@code "crawler: task group closed"}). A
 * cancel ({@link #cancel()}, a failure, a deadline, the parent's cancel) may come in any
 * state before {@code CLOSED}: it cancels the group's {@link #runState()}, interrupts every
 * running task, cancels every task not yet begun, and every later {@code spawn*} returns a
 * task already {@code CANCELLED}. A cancel is not a failure: with no failed task,
 * {@code join()} and {@code close()} return normally after it.
 *
 * <p><b>Failures.</b> The first task to fail decides the group's failure; that is decided
 * before the group is cancelled (with {@code cancelOnFailure}, the default), so a task
 * woken by that cancel never becomes the first failure. A task that ends, after its group
 * was cancelled or after it was itself cancelled, by throwing {@link InterruptedException},
 * {@link CancellationException}, {@link java.io.InterruptedIOException} or
 * {@link java.nio.channels.ClosedByInterruptException} counts as cancelled; any other
 * exception is a failure and is kept, even one thrown after the cancel. An unchecked
 * exception or {@link Error} is thrown as itself; a checked one is wrapped once per task in
 * a {@link LifecycleException} ({@code "crawler: task fetch-3 failed"}, the cause kept),
 * and the task's {@code join()}, {@code start()} and the group's {@code join()} and
 * {@code close()} all throw that one instance. Every later failure is attached to the first
 * with {@link Throwable#addSuppressed}, in the order they happened. A failure is recorded
 * in the group before its task completes. Protected tasks ({@code spawnProtected}) never
 * decide it, nor do a restarting task's intermediate failures ({@code spawnRestarting}):
 * they are logged. An {@link Error} thrown by a listener that a task's
 * completion runs (a direct listener) is kept as a failure of the group too.
 *
 * <p><b>No self-suppression.</b> {@code join()} and {@code close()} return normally instead
 * of throwing an instance already thrown to the calling thread (by a task's {@code join()},
 * {@code start()} or this group's {@code join()}): the failure was delivered.
 *
 * <p><b>Threads.</b> By default a virtual thread per task on Java 21 and later, else daemon
 * platform threads {@code NAME-task-N}, reused within the group and ended when it closes. A
 * cancel that races a task's end never interrupts whatever that thread runs next.
 *
 * <p><b>Nesting.</b> A group opened (or built) on a thread that runs a task of another
 * group becomes its child: cancelling the outer group cancels the inner one.
 * {@link #current()} returns the group whose task the calling thread runs.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread, except that
 * {@code join()} and {@code close()} throw {@link IllegalStateException} on a thread that
 * runs a task of this group. The queries ({@link #name()}, {@link #tasks()},
 * {@link #runState()}, {@link #toString()}) never block. No lock is held while user code
 * runs or while a thread waits.
 *
 * <p><b>Memory consistency effects.</b> Actions before a {@code spawn*} call
 * happen-before its body begins. Actions of a task's body happen-before the group's
 * {@code join()} or {@code close()} returns or throws. Actions before a task's
 * {@code started(value)} happen-before {@code start()} returns that value.
 *
 * <p><b>Interrupts and timeouts.</b> {@code join}, {@code start} and the task's waits
 * follow the rule of the <a href="package-summary.html#interrupts">package
 * documentation</a>; {@code close()} is the uninterruptible wait described there, except
 * that an interrupt also cancels the group.
 *
 * <p><b>Example.</b>
 * <pre>{@code
 * try (TaskGroup group = TaskGroup.open("crawler")) {
 *     Task<Page> home = group.spawn(() -> fetch(homeUrl));
 *     group.spawnAfter(Duration.ofSeconds(1), () -> fetch(sitemapUrl));
 *     group.spawn(() -> { while (!group.runState().isCancelled()) poll(); });
 *     use(home.join());
 * }   // close() waits for every task; the first failure cancelled the rest and is thrown here
 * }</pre>
 */
public final class TaskGroup extends TaskGroupCore implements AutoCloseable {

    /**
     * The body of a task run by {@link #start(StartingTask)}: it signals once it is ready,
     * with the value {@code start} returns, and then goes on running in the group.
     *
     * @param <R> the type of the value it signals
     */
    @FunctionalInterface
    public interface StartingTask<R extends @Nullable Object> {
        /**
         * Runs the task; calls {@code started.started(value)} once it is ready.
         *
         * @param started the signal
         * @throws Exception if the task fails
         */
        void run(Started<R> started) throws Exception;
    }

    /**
     * The signal a {@link StartingTask} gives when it is ready.
     *
     * @param <R> the type of the value it signals
     */
    public interface Started<R extends @Nullable Object> {
        /**
         * Signals that the task is ready: {@code start} returns {@code value}. Actions
         * before this call happen-before {@code start} returns.
         *
         * @param value what {@code start} returns
         * @throws IllegalStateException if called a second time, with the message
         *     {@code "crawler: task T called started() twice"}
         */
        void started(R value);
    }

    /**
     * Thrown by {@link #join()} and {@link #close()} of a group whose {@code failAfter}
     * deadline cancelled it, once every task has ended, if no task failed. The message
     * names the group and the deadline: {@code "crawler: deadline PT0.2S exceeded"}.
     */
    public static final class DeadlineExceededException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /** The deadline, counted from {@code build()}. */
        private final Duration deadline;

        DeadlineExceededException(String group, Duration deadline) {
            super(group + ": deadline " + deadline + " exceeded");
            this.deadline = deadline;
        }

        /** {@return the deadline that was exceeded, as given to {@code failAfter}} */
        public Duration deadline() {
            return deadline;
        }
    }

    private TaskGroup(Builder b) {
        super(b.name, b.threadFactory, b.cancelOnFailure, b.deadline,
                b.failAtDeadline ? deadlineFailure(b.name, b.deadline) : null, b.parent);
    }

    private static @Nullable Supplier<Throwable> deadlineFailure(String name,
            @Nullable Duration deadline) {
        return deadline == null ? null : () -> new DeadlineExceededException(name, deadline);
    }

    // ---------------------------------------------------------------- opening

    /** {@return a new open group named {@code "tasks"}, with the defaults of {@link Builder}} */
    public static TaskGroup open() {
        return open("tasks");
    }

    /**
     * Opens a group with the defaults (see {@link Builder}).
     *
     * @param name the name used in messages, thread names, logs and {@link #toString()}
     * @return the open group
     * @throws NullPointerException if {@code name} is null
     */
    public static TaskGroup open(String name) {
        return builder(name).build();
    }

    /**
     * Returns a builder for a group with a thread factory, supervision, a deadline or a
     * parent.
     *
     * @param name the name used in messages, thread names, logs and {@link #toString()}
     * @return a new builder
     * @throws NullPointerException if {@code name} is null
     */
    public static Builder builder(String name) {
        return new Builder(Objects.requireNonNull(name, "name"));
    }

    /**
     * Returns the group whose task the calling thread runs, if any.
     *
     * @return that group, or empty on a thread that runs no task of any group
     */
    public static Optional<TaskGroup> current() {
        return Optional.ofNullable((TaskGroup) currentGroup());
    }

    // ---------------------------------------------------------------- spawning

    /**
     * Spawns a task that runs {@code body} on a thread of its own (see <b>Threads</b>). The
     * task is part of the group from this call: the group's {@code join()} and
     * {@code close()} wait for it. After {@link #cancel()}, returns a task already
     * {@code CANCELLED} whose body never runs.
     *
     * @param body the task's body
     * @param <V> the result type
     * @return the task, named {@code GROUP-N}
     * @throws NullPointerException if {@code body} is null
     * @throws ClosedException if the group is closed: {@code "crawler: task group closed"}
     */
    public <V extends @Nullable Object> Task<V> spawn(Callable<? extends V> body) {
        return spawnTask(null, body, false, 0L);
    }

    /**
     * Like {@link #spawn(Callable)}, for a body without a result.
     *
     * @param body the task's body
     * @return the task, named {@code GROUP-N}, whose result is null
     * @throws NullPointerException if {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawn(RunState.ThrowingRunnable body) {
        return spawnTask(null, callable(body), false, 0L);
    }

    /**
     * Like {@link #spawn(Callable)}, with a name for the task.
     *
     * @param name the task's name, for messages, logs and {@link Task#name()}
     * @param body the task's body
     * @param <V> the result type
     * @return the task
     * @throws NullPointerException if {@code name} or {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public <V extends @Nullable Object> Task<V> spawn(String name, Callable<? extends V> body) {
        return spawnTask(Objects.requireNonNull(name, "name"), body, false, 0L);
    }

    /**
     * Like {@link #spawn(RunState.ThrowingRunnable)}, with a name for the task.
     *
     * @param name the task's name
     * @param body the task's body
     * @return the task, whose result is null
     * @throws NullPointerException if {@code name} or {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawn(String name, RunState.ThrowingRunnable body) {
        return spawnTask(Objects.requireNonNull(name, "name"), callable(body), false, 0L);
    }

    /**
     * Spawns a task whose body begins after {@code delay} (giambio's {@code schedule()}).
     * It is part of the group from this call, {@code SCHEDULED} until then; a cancel of the
     * group (or of the task) before the delay ends means it never begins and is
     * {@code CANCELLED} at once. The wait holds no thread where virtual threads exist, and
     * at most one scheduler thread shared by every group otherwise.
     *
     * @param delay how long to wait before the body begins; zero begins at once
     * @param body the task's body
     * @param <V> the result type
     * @return the task, named {@code GROUP-N}
     * @throws NullPointerException if {@code delay} or {@code body} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws ClosedException if the group is closed
     */
    public <V extends @Nullable Object> Task<V> spawnAfter(Duration delay,
            Callable<? extends V> body) {
        return spawnTask(null, body, false, Checks.waitNanos(delay, "delay"));
    }

    /**
     * Like {@link #spawnAfter(Duration, Callable)}, for a body without a result.
     *
     * @param delay how long to wait before the body begins
     * @param body the task's body
     * @return the task, named {@code GROUP-N}, whose result is null
     * @throws NullPointerException if {@code delay} or {@code body} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawnAfter(Duration delay, RunState.ThrowingRunnable body) {
        return spawnTask(null, callable(body), false, Checks.waitNanos(delay, "delay"));
    }

    /**
     * Like {@link #spawnAfter(Duration, Callable)}, with a name for the task.
     *
     * @param name the task's name
     * @param delay how long to wait before the body begins
     * @param body the task's body
     * @param <V> the result type
     * @return the task
     * @throws NullPointerException if {@code name}, {@code delay} or {@code body} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws ClosedException if the group is closed
     */
    public <V extends @Nullable Object> Task<V> spawnAfter(String name, Duration delay,
            Callable<? extends V> body) {
        return spawnTask(Objects.requireNonNull(name, "name"), body, false,
                Checks.waitNanos(delay, "delay"));
    }

    /**
     * Like {@link #spawnAfter(Duration, RunState.ThrowingRunnable)}, with a name for the
     * task.
     *
     * @param name the task's name
     * @param delay how long to wait before the body begins
     * @param body the task's body
     * @return the task, whose result is null
     * @throws NullPointerException if {@code name}, {@code delay} or {@code body} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawnAfter(String name, Duration delay,
            RunState.ThrowingRunnable body) {
        return spawnTask(Objects.requireNonNull(name, "name"), callable(body), false,
                Checks.waitNanos(delay, "delay"));
    }

    /**
     * Spawns a protected task (flockwave's protected mode): its failure is logged through
     * slf4j (logger {@code dev.refkit.TaskGroup}, warn, naming the task and the group),
     * cancels nobody and is not thrown by the group's {@code join()} or {@code close()}; the
     * task's own {@code join()} still throws it. The group's cancel still cancels it.
     *
     * @param body the task's body
     * @param <V> the result type
     * @return the task, named {@code GROUP-N}
     * @throws NullPointerException if {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public <V extends @Nullable Object> Task<V> spawnProtected(Callable<? extends V> body) {
        return spawnTask(null, body, true, 0L);
    }

    /**
     * Like {@link #spawnProtected(Callable)}, for a body without a result.
     *
     * @param body the task's body
     * @return the task, named {@code GROUP-N}, whose result is null
     * @throws NullPointerException if {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawnProtected(RunState.ThrowingRunnable body) {
        return spawnTask(null, callable(body), true, 0L);
    }

    /**
     * Like {@link #spawnProtected(Callable)}, with a name for the task.
     *
     * @param name the task's name
     * @param body the task's body
     * @param <V> the result type
     * @return the task
     * @throws NullPointerException if {@code name} or {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public <V extends @Nullable Object> Task<V> spawnProtected(String name,
            Callable<? extends V> body) {
        return spawnTask(Objects.requireNonNull(name, "name"), body, true, 0L);
    }

    /**
     * Like {@link #spawnProtected(RunState.ThrowingRunnable)}, with a name for the task.
     *
     * @param name the task's name
     * @param body the task's body
     * @return the task, whose result is null
     * @throws NullPointerException if {@code name} or {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawnProtected(String name, RunState.ThrowingRunnable body) {
        return spawnTask(Objects.requireNonNull(name, "name"), callable(body), true, 0L);
    }

    /**
     * Spawns a restarting task (frequenz's actor restarts): one task across all its runs.
     * When {@code body} throws (an Error too), the failure is logged (logger
     * {@code dev.refkit.TaskGroup}, warn, with the task's name and attempt number) and the
     * body runs again after the delay {@code policy} gives, until the policy gives up: then
     * the last failure is the task's, and the group's as a {@code spawn} failure would be. A
     * run that returns ends the task; a cancel during the delay (the group's, or the task's,
     * with or without interrupt) ends it at once, {@code CANCELLED}, with no further run; a
     * run that throws after a cancel ends it by <b>Failures</b>. Never blocks; memory effects
     * as {@code spawn}'s.
     *
     * @param name the task's name
     * @param policy when to run the body again
     * @param body one run of the task
     * @return the task, whose result is null
     * @throws NullPointerException if {@code name}, {@code policy} or {@code body} is null
     * @throws ClosedException if the group is closed
     */
    public Task<@Nullable Void> spawnRestarting(String name, RestartPolicy policy,
            RunState.ThrowingRunnable body) {
        return spawnRestartingTask(name, policy, body);
    }

    // ---------------------------------------------------------------- start

    /**
     * Runs {@code body.run(started)} as a task of this group and returns the value that
     * task passes to {@code started.started(value)}, once it does (trio's
     * {@code nursery.start}); the task goes on running in the group. Never hangs:
     * <ul>
     *   <li>If the task fails before it signals, throws its failure as its {@code join()}
     *       does (and the group treats the failure as any other).</li>
     *   <li>If it returns normally without signalling, throws
     *       {@link IllegalStateException} ({@code "crawler: task T ended without
     *       started()"}), which is not a group failure.</li>
     *   <li>If the group is cancelled, or a sibling fails and so cancels it, before the task
     *       signals, returns at once by throwing the group's failure, or a
     *       {@link CancellationException} naming the group and the reason
     *       ({@code "crawler: cancelled: REASON"}) if there is none.</li>
     * </ul>
     * Interrupts: see the <a href="package-summary.html#interrupts">package
     * documentation</a>; an interrupt ends the wait and leaves the task running.
     *
     * @param body the task's body
     * @param <R> the type of the value it signals
     * @return the value the task signalled
     * @throws InterruptedException if the thread is interrupted on entry or while waiting,
     *     with the message {@code "crawler: interrupted in start()"} and the flag clear
     * @throws NullPointerException if {@code body} is null
     * @throws ClosedException if the group is closed
     * @throws IllegalStateException if the task returned without signalling
     * @throws CancellationException if the task or the group was cancelled before the task
     *     signalled, and no task failed
     * @throws LifecycleException if the task failed first with a checked exception, or the
     *     group's failure is one
     * @throws RuntimeException if the task failed first with one, or the group's failure is
     *     one, as itself
     * @throws Error if the task failed with one, or the group's failure is one, as itself
     */
    public <R extends @Nullable Object> R start(StartingTask<R> body)
            throws InterruptedException {
        try {
            return start(-1L, null, body);
        } catch (TimeoutException e) {
            throw new AssertionError("untimed start timed out", e);
        }
    }

    /**
     * Like {@link #start(StartingTask)}, waiting at most {@code timeout} for the signal.
     * When the time is up first, cancels that task alone, as {@code cancel(true)} does (it
     * counts as cancelled, not failed), and throws {@link TimeoutException}.
     *
     * @param timeout how long to wait at most for the signal
     * @param body the task's body
     * @param <R> the type of the value it signals
     * @return the value the task signalled
     * @throws InterruptedException as {@link #start(StartingTask)} does
     * @throws TimeoutException if the task did not signal in time, with the message
     *     {@code "crawler: task T did not call started() within PT1S"}
     * @throws NullPointerException if {@code timeout} or {@code body} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws ClosedException if the group is closed
     * @throws IllegalStateException if the task returned without signalling
     * @throws CancellationException as {@link #start(StartingTask)} does
     * @throws LifecycleException as {@link #start(StartingTask)} does
     * @throws RuntimeException as {@link #start(StartingTask)} does
     * @throws Error as {@link #start(StartingTask)} does
     */
    public <R extends @Nullable Object> R start(Duration timeout, StartingTask<R> body)
            throws InterruptedException, TimeoutException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        return start(nanos, timeout, body);
    }

    private <R extends @Nullable Object> R start(long nanos, @Nullable Duration timeout,
            StartingTask<R> body) throws InterruptedException, TimeoutException {
        Objects.requireNonNull(body, "body");
        StartSignal<R> signal = new StartSignal<>(name);
        return startTask(nanos, timeout, signal, callable(() -> body.run(signal::signal)));
    }

    // ---------------------------------------------------------------- cancel, join, close

    /**
     * Returns the group's run state: running while the group is open, cancelled when the
     * group is cancelled, stopped when it closes. Tasks poll it, sleep on it or make
     * children of it. Cancelling it cancels the group, with its reason.
     *
     * @return the run state, named as the group
     */
    public RunState runState() {
        return runState;
    }

    /**
     * Cancels the group without a reason: as {@link #cancel(String)}, but a
     * {@link CancellationException} it causes says {@code "crawler: cancelled"}.
     */
    public void cancel() {
        cancelWith(null, null);
    }

    /**
     * Cancels the group: cancels its {@link #runState()} (with {@code reason}), interrupts
     * every running task, cancels every task not yet begun (they never begin), and makes
     * every later {@code spawn*} return a task already {@code CANCELLED}. Idempotent: the
     * first cancel decides the reason, later ones change nothing. Does nothing once the
     * group is closed. Never blocks on the tasks. A cancel is not a failure.
     *
     * <p>Every {@link CancellationException} that the group or a task cancelled by it throws
     * names the group and the reason: {@code "crawler: cancelled: REASON"}. A cancel caused
     * by a task's failure has the reason {@code "task fetch-3 failed
     * (java.io.IOException: timeout)"}.
     *
     * @param reason why, for messages and {@link RunState#cancelReason()}
     * @throws NullPointerException if {@code reason} is null
     */
    public void cancel(String reason) {
        cancelWith(Objects.requireNonNull(reason, "reason"), null);
    }

    /**
     * Waits until every task has ended, including tasks spawned while it waits, then throws
     * the group's failure if there is one (see <b>Failures</b> and <b>No
     * self-suppression</b>), or the {@link DeadlineExceededException} if a
     * {@code failAfter} deadline cancelled the group and no task failed. The group stays
     * open. Interrupts: see the <a href="package-summary.html#interrupts">package
     * documentation</a>; an interrupt ends the wait and changes nothing else.
     *
     * @throws InterruptedException if the thread is interrupted on entry or while waiting,
     *     with the message {@code "crawler: interrupted in join()"} and the flag clear
     * @throws IllegalStateException if called from a task of this group, with the message
     *     {@code "crawler: join() from a task of this group"}
     * @throws DeadlineExceededException if the {@code failAfter} deadline cancelled the
     *     group and no task failed
     * @throws LifecycleException if the group's failure is a checked exception (the cause)
     * @throws RuntimeException if the group's failure is one, as itself
     * @throws Error if the group's failure is one, as itself
     */
    public void join() throws InterruptedException {
        joinGroup();
    }

    /**
     * Closes the group: waits as {@link #join()} does, then refuses new tasks
     * ({@code CLOSED}), stops the {@link #runState()}, and throws as {@code join()} does.
     * An interrupt while it waits cancels the group (reason {@code "close() interrupted"});
     * it still waits for every task to end, and returns (or throws) with the interrupt flag
     * set. A {@code close()} after another {@code close()} has returned or thrown returns at
     * once and throws nothing; one called while another waits, waits too and throws as it
     * does.
     *
     * @throws IllegalStateException if called from a task of this group, with the message
     *     {@code "crawler: close() from a task of this group"}
     * @throws DeadlineExceededException if the {@code failAfter} deadline cancelled the
     *     group and no task failed
     * @throws LifecycleException if the group's failure is a checked exception (the cause)
     * @throws RuntimeException if the group's failure is one, as itself
     * @throws Error if the group's failure is one, as itself
     */
    @Override
    public void close() {
        closeGroup();
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns a snapshot of the tasks not yet ended: a task has ended when its body has
     * returned or thrown, or when it was cancelled before it began (a cancelled task whose
     * body still runs has not). Never blocks.
     *
     * @return the tasks, oldest spawn first
     */
    public List<Task<?>> tasks() {
        return List.copyOf(state.members());
    }

    /** {@return the name given at {@code open} or {@code builder}; never blocks} */
    public String name() {
        return name;
    }

    /**
     * Returns {@code TaskGroup[name]{STATE, running=R, failed=F}}, e.g.
     * {@code TaskGroup[crawler]{OPEN, running=3, failed=0}}: STATE is {@code OPEN},
     * {@code CLOSING} while {@code close()} waits, or {@code CLOSED}; {@code running} counts
     * the tasks begun and not yet ended, {@code failed} the tasks that failed (protected ones
     * included). Never blocks.
     */
    @Override
    public String toString() {
        return describe();
    }

    // ---------------------------------------------------------------- builder

    /**
     * Builds a {@link TaskGroup}; every setting has a default, so
     * {@code builder(name).build()} is {@link TaskGroup#open(String)}.
     */
    public static final class Builder {
        private final String name;
        private @Nullable ThreadFactory threadFactory;
        private boolean cancelOnFailure = true;
        private @Nullable Duration deadline;
        private boolean failAtDeadline;
        private @Nullable RunState parent;

        private Builder(String name) {
            this.name = name;
        }

        /**
         * Sets the factory that makes the threads the tasks run on. Default: one new
         * virtual thread per task where the JDK has them, else daemon platform threads named
         * {@code NAME-task-N}. A thread from this factory may run several tasks of the group,
         * one after another; it is never interrupted for a task it no longer runs.
         *
         * @param threadFactory the factory
         * @return this builder
         * @throws NullPointerException if {@code threadFactory} is null
         */
        public Builder threadFactory(ThreadFactory threadFactory) {
            this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
            return this;
        }

        /**
         * Sets whether a task's failure cancels the group; default true. With false the
         * group supervises (Kotlin's {@code supervisorScope}): a failure cancels nobody and
         * is still thrown by {@code join()} and {@code close()}.
         *
         * @param cancelOnFailure whether the first failure cancels the group
         * @return this builder
         */
        public Builder cancelOnFailure(boolean cancelOnFailure) {
            this.cancelOnFailure = cancelOnFailure;
            return this;
        }

        /**
         * Sets a deadline, counted from {@link #build()}: when it is up, the group is
         * cancelled (reason {@code "deadline PT0.2S exceeded"}), and {@code join()} and
         * {@code close()} throw {@link DeadlineExceededException}
         * ({@code "crawler: deadline PT0.2S exceeded"}) once every task has ended, unless a
         * task failed (its failure is thrown instead) or the group was cancelled before the
         * deadline. Replaces an earlier {@code failAfter} or {@code moveOnAfter}.
         *
         * @param deadline how long the group may stay open
         * @return this builder
         * @throws NullPointerException if {@code deadline} is null
         * @throws IllegalArgumentException if {@code deadline} is negative
         */
        public Builder failAfter(Duration deadline) {
            this.deadline = Checks.nonNegative(deadline, "deadline");
            this.failAtDeadline = true;
            return this;
        }

        /**
         * Sets a quiet deadline, counted from {@link #build()}: when it is up, the group is
         * cancelled (reason {@code "deadline PT0.2S exceeded"}) and nothing is thrown for
         * it. Replaces an earlier {@code failAfter} or {@code moveOnAfter}.
         *
         * @param deadline how long the group may stay open
         * @return this builder
         * @throws NullPointerException if {@code deadline} is null
         * @throws IllegalArgumentException if {@code deadline} is negative
         */
        public Builder moveOnAfter(Duration deadline) {
            this.deadline = Checks.nonNegative(deadline, "deadline");
            this.failAtDeadline = false;
            return this;
        }

        /**
         * Sets a parent run state: cancelling it (now or later) cancels the group, with its
         * reason. The group's {@link TaskGroup#runState()} is a
         * {@linkplain RunState#child child} of it.
         *
         * @param parent the parent run state
         * @return this builder
         * @throws NullPointerException if {@code parent} is null
         */
        public Builder parent(RunState parent) {
            this.parent = Objects.requireNonNull(parent, "parent");
            return this;
        }

        /**
         * Opens the group: starts its run state (already cancelled if the parent is) and
         * its deadline. Built on a thread that runs a task of another group, the group is
         * that group's child (see <b>Nesting</b>). A builder may build several groups.
         *
         * @return the open group
         */
        public TaskGroup build() {
            return new TaskGroup(this);
        }
    }
}
