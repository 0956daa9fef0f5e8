package dev.refkit;

import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The one-shot signal of a task that says it is ready: {@code WAITING}, then either
 * {@code SIGNALLED} with a value (once; a second signal throws) or {@code EXPIRED} (the
 * waiter gave up; a later signal is ignored). A signal wakes the waiters of the task it is
 * {@linkplain #bind bound} to, which test {@link #isSignalled()} again.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread.
 *
 * <p><b>Memory consistency effects.</b> Actions before {@link #signal} happen-before a
 * thread that sees {@link #isSignalled()} true reads {@link #value()}.
 *
 * @param <R> the value type
 */
final class StartSignal<R extends @Nullable Object> {
    private static final int WAITING = 0;
    private static final int SIGNALLED = 1;
    private static final int EXPIRED = 2;
    /** The winner of the signal is writing the value. */
    private static final int SETTING = 3;

    private final String group;
    private final AtomicInteger phase = new AtomicInteger();
    private volatile @Nullable GroupTask<?> task;
    private volatile String taskName = "?";
    /** Written before the CAS to SIGNALLED, by the one signaller that wins it. */
    private @Nullable R value;

    StartSignal(String group) {
        this.group = group;
    }

    /** The name of the task that signals, for the message. */
    void name(String name) {
        taskName = name;
    }

    /** The task whose waiters a signal wakes. */
    void bind(GroupTask<?> t) {
        task = t;
    }

    /** Whether signalled; waits out a signal that is writing its value. */
    boolean isSignalled() {
        int p;
        while ((p = phase.get()) == SETTING) {
            Thread.onSpinWait();
        }
        return p == SIGNALLED;
    }

    /**
     * WAITING to EXPIRED.
     *
     * @return false if already signalled (or being signalled: then {@link #isSignalled()}
     *     says true once the value is written)
     */
    boolean expire() {
        return phase.compareAndSet(WAITING, EXPIRED);
    }

    /** The value signalled; only once {@link #isSignalled()}. */
    R value() {
        return value;
    }

    /**
     * Signals {@code v}: WAITING to SIGNALLED, and wakes the bound task's waiters. Ignored
     * once EXPIRED.
     *
     * @throws IllegalStateException if already signalled:
     *     {@code "GROUP: task T called started() twice"}
     */
    void signal(R v) {
        if (phase.compareAndSet(WAITING, SETTING)) {
            value = v;
            phase.set(SIGNALLED);
            GroupTask<?> t = task;
            if (t != null) {
                t.wakeJoiners();
            }
            return;
        }
        if (phase.get() == EXPIRED) {
            return; // the waiter gave up
        }
        throw new IllegalStateException(group + ": task " + taskName + " called started() twice");
    }
}
