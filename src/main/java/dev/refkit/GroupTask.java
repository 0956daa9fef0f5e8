package dev.refkit;

import com.google.common.util.concurrent.AbstractFuture;
import com.google.common.util.concurrent.Futures;
import dev.refkit.internal.Interrupts;
import dev.refkit.internal.MemberList;
import dev.refkit.internal.WaitList;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * One task: the future of its body's result (Guava's {@link AbstractFuture}, so a cancel
 * completes it at once) and the run word that says whether its body has begun, runs, is
 * being interrupted or has ended. It knows nothing of the group: the owner gives it a body
 * and an {@link Owner}, runs the body through {@link Owner#run} when a thread takes the
 * task, and completes it through {@link #succeed}, {@link #fail} and {@link #cancelled}.
 *
 * <p><b>The run word.</b> {@code NEW --begin--> RUNNING --bodyEnded--> ENDED}; a cancel of
 * a {@code NEW} task moves it to {@code ENDED} itself and tells {@link Owner#endedUnstarted}
 * (exactly one of the two moves out of {@code NEW} wins). An interrupt takes
 * {@code RUNNING --> INTERRUPTING --> INTERRUPTED} around its {@code Thread.interrupt()}, and
 * {@link #bodyEnded()} waits out {@code INTERRUPTING} and then clears the flag: so a cancel
 * that races the body's end never interrupts what the thread runs next (as
 * {@code FutureTask} does).
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread, except
 * {@link #begin()} and {@link #bodyEnded()}, which the thread running the task calls.
 *
 * <p><b>Memory consistency effects.</b> The body's actions happen-before the future
 * completes, and that happens-before {@code join()} and {@code get()} return.
 */
final class GroupTask<V extends @Nullable Object> extends AbstractFuture<V>
        implements Task<V>, Runnable {

    /** What the task's owner does for it. */
    interface Owner {
        /** Runs the task on the current thread: called by {@link GroupTask#run()}. */
        void run(GroupTask<?> task);

        /** The task was cancelled before its body began and has ended: called once. */
        void endedUnstarted(GroupTask<?> task);

        /** Spin steps before a wait for the task parks (see {@link WaitList#WaitList(int)}). */
        int waitSpins();
    }

    static final int NEW = 0;
    static final int RUNNING = 1;
    static final int INTERRUPTING = 2;
    static final int INTERRUPTED = 3;
    static final int ENDED = 4;

    /** {@link #begin()}: run the body. */
    static final int BEGIN = 0;
    /** {@link #begin()}: cancelled as it began; the caller ends it. */
    static final int SKIP = 1;
    /** {@link #begin()}: already ended by a cancel; nothing to do. */
    static final int GONE = 2;

    /** The name given, or null for {@code GROUP-N}, made on demand. */
    private final @Nullable String givenName;
    private final int number;
    private final String group;
    final Callable<? extends V> body;
    final boolean isProtected;
    private final Owner owner;
    private final Deliveries deliveries;

    /** NEW to ENDED, see the class documentation; written by CAS or by the runner. */
    private volatile int run;
    /** The thread running the body; written before {@code run} becomes RUNNING. */
    private @Nullable Thread runner;
    /** What {@code join()} throws for a cancel; null for the default message. */
    private volatile @Nullable String cancelMessage;
    /** What {@code join()} throws for a failure: the body's exception or its one wrapper. */
    private volatile @Nullable Throwable thrown;
    /**
     * Its node in the owner's list of live tasks, set by the owner before the task is
     * published (so every thread that can reach the task reads it set); null before.
     */
    MemberList.@Nullable Member<GroupTask<?>> member;
    /** Threads in {@code join()}; made by the first of them. */
    private volatile @Nullable WaitList joiners;

    /**
     * A task named {@code name}, or {@code GROUP-NUMBER} if {@code name} is null (made on
     * demand, so an unnamed spawn builds no string).
     */
    GroupTask(@Nullable String name, int number, String group, Callable<? extends V> body,
            boolean isProtected, Owner owner, Deliveries deliveries) {
        this.givenName = name;
        this.number = number;
        this.group = group;
        this.body = body;
        this.isProtected = isProtected;
        this.owner = owner;
        this.deliveries = deliveries;
    }

    @Override
    public void run() {
        owner.run(this);
    }

    // ---------------------------------------------------------------- the runner's side

    /**
     * NEW to RUNNING on the current thread. Returns {@link #BEGIN} to run the body,
     * {@link #SKIP} if the task was cancelled as it began (now ENDED: the caller accounts for
     * it), or {@link #GONE} if a cancel already ended it.
     */
    int begin() {
        runner = Thread.currentThread();
        if (!RUN.compareAndSet(this, NEW, RUNNING)) {
            runner = null;
            return GONE;
        }
        if (isCancelled()) {
            run = ENDED;
            runner = null;
            return SKIP;
        }
        return BEGIN;
    }

    /**
     * A task that began and must not run (its group was cancelled): cancels it with
     * {@code message} and ends it. The caller accounts for it.
     */
    void skip(String message) {
        cancelled(message);
        bodyEnded();
    }

    /**
     * The body returned or threw: RUNNING (or INTERRUPTED) to ENDED. Waits while an
     * interrupt is being delivered, then clears the interrupt flag it set.
     */
    void bodyEnded() {
        if (!RUN.compareAndSet(this, RUNNING, ENDED)) {
            int r;
            while ((r = run) == INTERRUPTING) {
                Thread.yield();
            }
            if (r != INTERRUPTED) {
                throw new AssertionError(name() + ": body ended in run word " + r);
            }
            run = ENDED;
            Thread.interrupted(); // the interrupt was for the body, not for the next job
        }
        runner = null;
    }

    /** Completes with the body's result (nothing if already cancelled). */
    @SuppressWarnings("unchecked")
    void succeed(@Nullable Object value) {
        set((V) value);
    }

    /**
     * Completes with the body's exception {@code raw}; {@code join()} throws
     * {@code toThrow} (raw itself, or its one wrapper). Nothing if already cancelled.
     */
    void fail(Throwable raw, Throwable toThrow) {
        thrown = toThrow;
        setException(raw);
    }

    /**
     * Completes as cancelled, without interrupting ({@code join()} throws a
     * {@code CancellationException} with {@code message}, or the default message if null).
     */
    void cancelled(@Nullable String message) {
        if (message != null && cancelMessage == null) {
            cancelMessage = message;
        }
        cancel(false);
    }

    // ---------------------------------------------------------------- cancels

    /**
     * The group's cancel: a task not yet begun is cancelled (it never begins); a running
     * one is interrupted, once, and goes on running until its body ends. Wakes the
     * threads in {@code join()} and in a start wait, to test their conditions again.
     */
    void cancelByGroup(String message) {
        if (run == NEW) {
            cancelled(message);
        }
        interruptRunner();
        wakeJoiners();
    }

    /** RUNNING to INTERRUPTING, interrupt, INTERRUPTED; nothing in any other run word. */
    private void interruptRunner() {
        if (RUN.compareAndSet(this, RUNNING, INTERRUPTING)) {
            try {
                Thread t = runner;
                if (t != null) {
                    t.interrupt();
                }
            } finally {
                run = INTERRUPTED;
            }
        }
    }

    @Override
    protected void interruptTask() {
        interruptRunner();
    }

    @Override
    protected void afterDone() {
        if (isCancelled() && RUN.compareAndSet(this, NEW, ENDED)) {
            owner.endedUnstarted(this);
        }
        wakeJoiners();
    }

    /** Wakes the threads waiting for this task, to test their conditions again. */
    void wakeJoiners() {
        WaitList w = joiners;
        if (w != null) {
            w.wakeAll();
        }
    }

    /** The threads waiting for this task; made on first use. */
    WaitList joiners() {
        WaitList w = joiners;
        if (w == null) {
            w = new WaitList(owner.waitSpins());
            WaitList witness = (WaitList) JOINERS.compareAndExchange(this, null, w);
            if (witness != null) {
                w = witness;
            }
        }
        return w;
    }

    // ---------------------------------------------------------------- Task

    @Override
    public V join() throws InterruptedException {
        Interrupts.throwIfInterrupted(name(), "join()");
        if (!isDone()) {
            joiners().await(this::isDone, this, name(), "join()");
        }
        return report();
    }

    @Override
    public V join(Duration timeout) throws InterruptedException, TimeoutException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        Interrupts.throwIfInterrupted(name(), "join()");
        if (!isDone() && !joiners().awaitNanos(this::isDone, nanos, this, name(), "join()")) {
            throw new TimeoutException(name() + ": not done after " + timeout);
        }
        return report();
    }

    /** The outcome of a done task, as {@code join()} gives it. */
    V report() {
        if (isCancelled()) {
            String m = cancelMessage;
            throw new CancellationException(m != null ? m : group + ": task " + name() + " cancelled");
        }
        try {
            return getDone();
        } catch (ExecutionException e) {
            Throwable t = thrown;
            if (t == null) {
                t = Objects.requireNonNull(e.getCause(), "cause");
            }
            deliveries.delivered(t);
            if (t instanceof Error) {
                throw (Error) t;
            }
            throw (RuntimeException) t;
        }
    }

    private V getDone() throws ExecutionException {
        return Futures.getDone(this);
    }

    @Override
    public Status status() {
        if (!isDone()) {
            return run == NEW ? Status.SCHEDULED : Status.RUNNING;
        }
        if (isCancelled()) {
            return Status.CANCELLED;
        }
        return thrown != null ? Status.FAILED : Status.SUCCEEDED;
    }

    /** Whether the body runs now: begun and not yet ended. */
    boolean isRunning() {
        int r = run;
        return r == RUNNING || r == INTERRUPTING || r == INTERRUPTED;
    }

    @Override
    public String name() {
        String n = givenName;
        return n != null ? n : group + "-" + number;
    }

    @Override
    public V resultNow() {
        switch (status()) {
            case SUCCEEDED:
                try {
                    return getDone();
                } catch (ExecutionException e) {
                    throw new AssertionError("succeeded task threw", e);
                }
            case FAILED:
                throw new IllegalStateException(name() + ": task completed with exception");
            case CANCELLED:
                throw new IllegalStateException(name() + ": task was cancelled");
            default:
                throw new IllegalStateException(name() + ": task has not completed");
        }
    }

    @Override
    public Throwable exceptionNow() {
        switch (status()) {
            case FAILED:
                try {
                    getDone();
                } catch (ExecutionException e) {
                    return Objects.requireNonNull(e.getCause(), "cause");
                }
                throw new AssertionError("failed task returned");
            case SUCCEEDED:
                throw new IllegalStateException(name() + ": task completed with a result");
            case CANCELLED:
                throw new IllegalStateException(name() + ": task was cancelled");
            default:
                throw new IllegalStateException(name() + ": task has not completed");
        }
    }

    /** {@code Task[name]{STATUS}}, e.g. {@code Task[crawler-3]{RUNNING}}. Never blocks. */
    @Override
    public String toString() {
        return "Task[" + name() + "]{" + status() + "}";
    }

    // VarHandle mechanics
    private static final VarHandle RUN;
    private static final VarHandle JOINERS;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            RUN = l.findVarHandle(GroupTask.class, "run", int.class);
            JOINERS = l.findVarHandle(GroupTask.class, "joiners", WaitList.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
