package dev.refkit;

import com.google.common.util.concurrent.MoreExecutors;
import dev.refkit.internal.Interrupts;
import dev.refkit.internal.MemberList;
import dev.refkit.internal.ThreadBinding;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a task group does, beneath its public API: spawning (register, then launch), running
 * each task and classifying its end, cancelling, joining, closing and the wait of a start.
 * It decides; the helpers below it own the state: {@link TaskGroupState} the group's word
 * (tasks not yet ended, CANCELLED, CLOSING, CLOSED, ENDED), the set of those tasks, the
 * cancel's reason and the failures; {@link GroupTask} each task's future and run word;
 * {@link TaskThreads} the threads and the delays; {@link Deliveries} which failure was
 * thrown to which thread. It knows nothing of the class that extends it (the way
 * {@code RunStateCore} knows nothing of {@code RunState}): the subclass gives it the
 * settings, the deadline's failure and the bodies, and documents the methods.
 *
 * <p><b>The rules it keeps.</b> A failure is recorded in the group before its task
 * completes, and the first failure is decided before the cancel it causes, so a task woken
 * by that cancel never becomes the first failure. A task spawned after a cancel is cancelled
 * before it can run: spawn registers the task, then tests the cancel; a cancel sets its flag,
 * then goes through the registered tasks; one of the two sees the other.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread; no lock is held
 * while user code runs or a thread waits.
 */
abstract class TaskGroupCore {
    private static final Logger log = LoggerFactory.getLogger("dev.refkit.TaskGroup");
    /** The group whose task the current thread runs (a ScopedValue on JDK 25+). */
    private static final ThreadBinding<TaskGroupCore> CURRENT = ThreadBinding.create();

    final String name;
    private final boolean cancelOnFailure;
    final TaskGroupState<GroupTask<?>> state;
    private final Deliveries deliveries = new Deliveries();
    private final TaskThreads threads;
    final RunState runState;
    private final GroupTask.Owner owner = new GroupTask.Owner() {
        @Override
        public void run(GroupTask<?> task) {
            runTask(task);
        }

        @Override
        public void endedUnstarted(GroupTask<?> task) {
            state.deregister(memberOf(task));
        }

        @Override
        public int waitSpins() {
            return TaskGroupCore.this.waitSpins();
        }
    };
    /** The outer group's cancel, when the group also has an explicit parent; else null. */
    private final @Nullable Registration outerCancel;
    /** The deadline's pending cancel, or null. */
    private final TaskThreads.@Nullable Delayed deadline;
    /** The restarts of every restarting task of the group. */
    private final AtomicInteger restarts = new AtomicInteger();

    /**
     * Opens the group: its run state is a child of {@code parent}, else of the group whose
     * task this thread runs, else a new one; it starts now, and the deadline (if any) is
     * counted from now. {@code deadlineFailure} makes what {@code join()} throws for the
     * deadline (null for a quiet deadline).
     */
    TaskGroupCore(String name, @Nullable ThreadFactory threadFactory, boolean cancelOnFailure,
            @Nullable Duration deadlineAfter, @Nullable Supplier<Throwable> deadlineFailure,
            @Nullable RunState parent) {
        this.name = name;
        this.cancelOnFailure = cancelOnFailure;
        this.threads = TaskThreads.create(name, threadFactory);
        this.state = new TaskGroupState<>(name, waitSpins());
        TaskGroupCore outer = CURRENT.get();
        if (parent != null) {
            runState = parent.child(name);
        } else if (outer != null) {
            runState = outer.runState.child(name);
        } else {
            runState = new RunState(name);
        }
        runState.onCancel(rs -> cancelQuietly(rs.cancelReason().orElse(null)));
        runState.start();
        outerCancel = parent != null && outer != null
                ? outer.runState.onCancel(rs -> cancelQuietly(rs.cancelReason().orElse(null)))
                : null;
        if (runState.isCancelled()) {
            cancelQuietly(runState.cancelReason().orElse(null));
        } else if (parent != null && outer != null && outer.runState.isCancelled()) {
            cancelQuietly(outer.runState.cancelReason().orElse(null));
        }
        if (deadlineAfter == null) {
            deadline = null;
            return;
        }
        Runnable fire = () -> {
            try {
                cancelWith("deadline " + deadlineAfter + " exceeded",
                        deadlineFailure == null ? null : deadlineFailure.get());
            } catch (Error e) {
                state.recordFailure(e);
            }
        };
        long nanos = Checks.saturatedNanos(deadlineAfter);
        if (nanos == 0L) {
            fire.run();
            deadline = null;
        } else {
            deadline = threads.executeAfter(nanos, fire, e -> fire.run());
        }
    }

    /** The group whose task the current thread runs, or null. */
    static @Nullable TaskGroupCore currentGroup() {
        return CURRENT.get();
    }

    /**
     * Spin steps before a wait for this group's tasks (its close, a start, a join) parks:
     * a virtual task, on a carrier already running, often ends or signals within
     * microseconds, well before a parked waiter would be woken; a new platform thread takes
     * longer to start than any useful spin, and a spinning waiter would hold the core it is
     * often placed on, so none then.
     */
    private int waitSpins() {
        return threads.isVirtual() ? VIRTUAL_WAIT_SPINS : 0;
    }

    /** Tens of µs of {@code Thread.onSpinWait()}: about what a park and wake-up cost here. */
    private static final int VIRTUAL_WAIT_SPINS = 1 << 11;

    /**
     * Runs {@code open} (which builds a group) as if this thread ran no task of any group,
     * so the group it builds is no group's child; restores the current group after.
     */
    static <G extends TaskGroupCore> G detached(Supplier<G> open) {
        return CURRENT.callUnbound(open);
    }

    static Callable<@Nullable Void> callable(RunState.ThrowingRunnable body) {
        Objects.requireNonNull(body, "body");
        return () -> {
            body.run();
            return null;
        };
    }

    // ---------------------------------------------------------------- spawning, running

    /**
     * Registers a new task and launches it (after {@code delayNanos} if positive); a task
     * spawned after a cancel is returned cancelled.
     */
    final <V extends @Nullable Object> GroupTask<V> spawnTask(@Nullable String taskName,
            Callable<? extends V> body, boolean isProtected, long delayNanos) {
        Objects.requireNonNull(body, "body");
        return spawnNumbered(taskName, state.nextNumber(), body, isProtected, delayNanos);
    }

    private <V extends @Nullable Object> GroupTask<V> spawnNumbered(@Nullable String taskName,
            int number, Callable<? extends V> body, boolean isProtected, long delayNanos) {
        GroupTask<V> t = new GroupTask<>(taskName, number, name, body, isProtected, owner,
                deliveries);
        MemberList.Member<GroupTask<?>> member = MemberList.member(t);
        t.member = member; // before the task is published: by the register, or spawn's return
        if (!state.register(member)) {
            throw new ClosedException(name + ": task group closed");
        }
        // Registered, then tested: a cancel either sees the task in the set or is seen here.
        if (state.isCancelled()) {
            t.cancelled(state.cancelMessage()); // ends it: owner.endedUnstarted
            return t;
        }
        try {
            if (delayNanos > 0L) {
                TaskThreads.Delayed d = threads.executeAfter(delayNanos, t, e -> noThread(t, e));
                t.addListener(d::cancel, MoreExecutors.directExecutor());
            } else {
                threads.execute(t);
            }
        } catch (RuntimeException | Error e) {
            t.cancel(false); // never ran: ends it, and the spawner gets why
            throw e;
        }
        return t;
    }

    /**
     * Spawns a task that runs {@code body} again after each failure, as {@code policy} says
     * (see {@link RestartRunner}); its restarts are counted in {@link #restartCount()}.
     */
    final Task<@Nullable Void> spawnRestartingTask(String taskName, RestartPolicy policy,
            RunState.ThrowingRunnable body) {
        Objects.requireNonNull(taskName, "name");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(body, "body");
        AtomicReference<@Nullable GroupTask<?>> self = new AtomicReference<>();
        BooleanSupplier taskCancelled = () -> {
            GroupTask<?> t = self.get();
            return t != null && t.isCancelled();
        };
        RestartRunner runner = new RestartRunner(name + ": task " + taskName, policy, body,
                runState, taskCancelled, log, restarts);
        GroupTask<@Nullable Void> t = spawnTask(taskName, runner, false, 0L);
        self.set(t);
        t.addListener(runner::wake, MoreExecutors.directExecutor()); // cancel(false) too
        return t;
    }

    /** The restarts of this group's restarting tasks so far. */
    final int restartCount() {
        return restarts.get();
    }

    private static MemberList.Member<GroupTask<?>> memberOf(GroupTask<?> t) {
        return Objects.requireNonNull(t.member, "member");
    }

    /** A delayed task is due and no thread can be had: it fails with why. */
    private void noThread(GroupTask<?> t, Throwable why) {
        if (t.begin() == GroupTask.BEGIN) {
            t.bodyEnded();
            try {
                ended(t, why);
            } finally {
                state.deregister(memberOf(t));
            }
        }
    }

    /** Runs {@code t} on this thread: its body, then its end. */
    private void runTask(GroupTask<?> t) {
        int begin = t.begin();
        if (begin == GroupTask.GONE) {
            return;
        }
        if (begin == GroupTask.BEGIN && state.isCancelled()) {
            t.skip(state.cancelMessage());
            begin = GroupTask.SKIP;
        }
        if (begin == GroupTask.SKIP) {
            state.deregister(memberOf(t));
            return;
        }
        // The thread runs the task until it has ended in the group: its completion (and the
        // direct listeners that runs) included, so join() and close() there are refused.
        try {
            CURRENT.runWith(this, () -> runBody(t));
        } finally {
            state.deregister(memberOf(t));
        }
    }

    /** A begun task's body, then its end (a direct listener's Error is recorded, not thrown). */
    private void runBody(GroupTask<?> t) {
        Object result = null;
        Throwable failure = null;
        try {
            result = t.body.call();
        } catch (Throwable e) {
            failure = e;
        } finally {
            t.bodyEnded();
            state.leave(memberOf(t)); // out of tasks() before join() can return
        }
        try {
            if (failure == null) {
                t.succeed(result);
            } else {
                ended(t, failure);
            }
        } catch (Error e) {
            state.recordFailure(e); // a direct listener's Error: kept, never lost
        }
    }

    /**
     * A task's body threw {@code raw}: it counts as cancelled if {@code raw} is of a
     * cancellation type and the group, its run state or the task was cancelled; else it
     * failed. A run state cancelled directly (or by its parent) wakes its sleepers before
     * its listener cancels the group, so a woken task may get here first: it then cancels
     * the group itself. A failure is recorded (or, protected, logged) before the task
     * completes, and the first one of an unprotected task decides the group's failure
     * before it cancels the group.
     */
    private void ended(GroupTask<?> t, Throwable raw) {
        if (!state.isCancelled() && isCancellation(raw) && runState.isCancelled()) {
            cancelQuietly(runState.cancelReason().orElse(null));
        }
        boolean groupCancelled = state.isCancelled();
        if (isCancellation(raw) && (groupCancelled || t.isCancelled())) {
            t.cancelled(groupCancelled ? state.cancelMessage() : null);
            return;
        }
        Throwable toThrow = raw instanceof RuntimeException || raw instanceof Error ? raw
                : new LifecycleException(name + ": task " + t.name() + " failed", raw);
        state.countFailed();
        try {
            if (t.isProtected) {
                try {
                    log.warn("{}: protected task {} failed", name, t.name(), raw);
                } catch (RuntimeException hostile) {
                    log.warn("{}: protected task {} failed with {} (its toString() threw)",
                            name, t.name(), raw.getClass().getName());
                }
            } else if (state.recordFailure(toThrow, raw) && cancelOnFailure) {
                cancelQuietly("task " + t.name() + " failed (" + describe(raw) + ")");
            }
        } finally {
            t.fail(raw, toThrow);
        }
    }

    /** {@code t.toString()}, or its class name if that throws: user code must not stop us. */
    private static String describe(Throwable t) {
        try {
            return String.valueOf(t);
        } catch (RuntimeException hostile) {
            return t.getClass().getName();
        }
    }

    /** Whether {@code t} is of a type that counts as cancelled after a cancel. */
    static boolean isCancellation(Throwable t) {
        return t instanceof InterruptedException || t instanceof CancellationException
                || t instanceof InterruptedIOException || t instanceof ClosedByInterruptException;
    }

    // ---------------------------------------------------------------- cancel

    /**
     * Cancels with {@code reason} (null for none) and, for a {@code failAfter} deadline, the
     * failure {@code join()} throws for it: the run state, then every task (a running one is
     * interrupted, one not yet begun never begins). An Error from a RunState listener is
     * thrown once every task has been cancelled. Does nothing if already cancelled or closed.
     */
    final void cancelWith(@Nullable String reason, @Nullable Throwable deadlineFailure) {
        if (!state.markCancelled(reason, deadlineFailure)) {
            return;
        }
        Error error = null;
        try {
            if (reason == null) {
                runState.cancel();
            } else {
                runState.cancel(reason);
            }
        } catch (Error e) {
            error = e;
        }
        String message = state.cancelMessage();
        state.forEachMember(t -> t.cancelByGroup(message));
        if (error != null) {
            throw error;
        }
    }

    /** Cancels from inside the group's machinery: an Error is recorded as a failure. */
    private void cancelQuietly(@Nullable String reason) {
        try {
            cancelWith(reason, null);
        } catch (Error e) {
            state.recordFailure(e);
        }
    }

    // ---------------------------------------------------------------- join, close

    final void joinGroup() throws InterruptedException {
        checkNotOwnTask("join()");
        Interrupts.throwIfInterrupted(name, "join()");
        state.awaitEmpty(this, "join()");
        throwOutcome();
    }

    final void closeGroup() {
        checkNotOwnTask("close()");
        if (!state.beginClosing()) {
            return;
        }
        boolean interrupted = false;
        Error error = null;
        for (;;) {
            if (!state.closable()) {
                try {
                    state.awaitClosable(this, "close()");
                } catch (InterruptedException e) {
                    interrupted = true;
                    cancelQuietly("close() interrupted");
                    continue;
                }
            }
            int r = state.tryClose();
            if (r == TaskGroupState.CLOSED_NOW) {
                error = finishClose();
                break;
            }
            if (r == TaskGroupState.CLOSED_BEFORE) {
                state.awaitEnded(this);
                break;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            state.recordFailure(error); // a stop listener's Error: kept with the failures
        }
        throwOutcome();
    }

    private void checkNotOwnTask(String method) {
        if (CURRENT.get() == this) {
            throw new IllegalStateException(name + ": " + method + " from a task of this group");
        }
    }

    /** Throws the failure or the deadline failure, unless this thread already got it. */
    private void throwOutcome() {
        Throwable t = state.outcome();
        if (t == null || deliveries.deliveredHere(t)) {
            return;
        }
        throwDelivered(t);
    }

    private void throwDelivered(Throwable t) {
        deliveries.delivered(t);
        if (t instanceof Error) {
            throw (Error) t;
        }
        throw (RuntimeException) t;
    }

    /** The closer that closed: stops the deadline, the run state and the threads. */
    private @Nullable Error finishClose() {
        Error error = null;
        try {
            TaskThreads.Delayed d = deadline;
            if (d != null) {
                d.cancel();
            }
            Registration r = outerCancel;
            if (r != null) {
                r.close();
            }
            if (runState.isRunning()) {
                runState.stop();
            }
        } catch (IllegalStateException stoppedMeanwhile) {
            // a task stopped the run state itself
        } catch (Error e) {
            error = e;
        } finally {
            threads.shutdown();
            state.markEnded();
        }
        return error;
    }

    // ---------------------------------------------------------------- start

    /**
     * Spawns {@code body}, which signals through {@code signal}, and waits (at most
     * {@code nanos}, if not negative) until it signals, ends, or the group is cancelled.
     */
    final <R extends @Nullable Object> R startTask(long nanos, @Nullable Duration timeout,
            StartSignal<R> signal, Callable<@Nullable Void> body)
            throws InterruptedException, TimeoutException {
        Interrupts.throwIfInterrupted(name, "start()");
        int number = state.nextNumber();
        signal.name(name + "-" + number);
        GroupTask<?> t = spawnNumbered(null, number, body, false, 0L);
        signal.bind(t);
        BooleanSupplier over = () -> signal.isSignalled() || t.isDone() || state.isCancelled();
        if (!over.getAsBoolean()) {
            if (nanos < 0L) {
                t.joiners().await(over, this, name, "start()");
            } else if (!t.joiners().awaitNanos(over, nanos, this, name, "start()")
                    && signal.expire()) {
                t.cancel(true);
                throw new TimeoutException(name + ": task " + t.name()
                        + " did not call started() within " + timeout);
            }
        }
        if (signal.isSignalled()) {
            return signal.value();
        }
        Task.Status st = t.status();
        if (st == Task.Status.SUCCEEDED) {
            throw new IllegalStateException(name + ": task " + t.name()
                    + " ended without started()");
        }
        if (st == Task.Status.FAILED) {
            t.report(); // throws its failure
        }
        Throwable f = state.isCancelled() ? state.failure() : null;
        if (f != null) {
            throwDelivered(f);
        }
        if (st == Task.Status.CANCELLED) {
            t.report(); // throws its cancel
        }
        throw new CancellationException(state.cancelMessage());
    }

    // ---------------------------------------------------------------- queries

    /**
     * Waits until no task is left (without cancelling), at most {@code nanos} if not
     * negative; {@code method} names the caller in the interrupt message. Throws nothing for
     * the failures. Returns false if the time ran out.
     */
    final boolean awaitTasks(long nanos, String method) throws InterruptedException {
        Interrupts.throwIfInterrupted(name, method);
        if (nanos < 0L) {
            state.awaitEmpty(this, method);
            return true;
        }
        return state.awaitEmptyNanos(nanos, this, method);
    }

    /** Waits through interrupts (the flag is set again on return) until no task is left. */
    final void awaitTasksUninterruptibly() {
        state.awaitEmptyUninterruptibly(this);
    }

    /** The tasks not yet ended. */
    final int taskCount() {
        return state.count();
    }

    /** The failures recorded so far, as the originals, in order: a snapshot. */
    final List<Throwable> failureOriginals() {
        return state.originals();
    }

    /** The same failures as thrown (a checked one wrapped once), in the same order. */
    final List<Throwable> failuresThrown() {
        return state.thrown();
    }

    /** Whether the current thread runs a task of this group. */
    final boolean isOwnTask() {
        return CURRENT.get() == this;
    }

    /** {@code TaskGroup[name]{STATE, running=R, failed=F}}. */
    final String describe() {
        int running = 0;
        for (GroupTask<?> t : state.members()) {
            if (t.isRunning()) {
                running++;
            }
        }
        return "TaskGroup[" + name + "]{" + state.stateName() + ", running=" + running
                + ", failed=" + state.failedCount() + "}";
    }
}
