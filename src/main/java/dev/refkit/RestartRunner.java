package dev.refkit;

import dev.refkit.internal.Wait;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The body of a restarting task: runs {@code body} again and again while it fails, as a
 * {@link RestartPolicy} says, waiting between runs on a {@link RunState}. It knows nothing of
 * task groups: the owner gives it the task's name, the policy, the body, the run state whose
 * cancel ends it, a test of the task's own cancel (which interrupts the runner), a logger
 * and a counter of restarts (shared, so that an owner can count the restarts of all its
 * tasks).
 *
 * <p><b>The loop.</b> A run that returns ends the task with success. A run that throws while
 * the run state or the task is cancelled ends it with that exception (the owner decides
 * whether it counts as cancelled). Otherwise the failure is restart {@code n}, where {@code n} counts
 * the failures since the task began, reset to 0 first by a run that lasted at least the
 * policy's {@code resetAfter}: if the policy gives up on {@code n}, the failure is rethrown
 * (the task's failure); else it is logged (warn, with the name, the attempt number and the
 * exception), the counter is incremented, and the loop waits the policy's delay; a cancel
 * of the run state or of the task (which the owner reports through {@link #wake()}) before
 * or during that wait ends the task at once with a {@link CancellationException} and no
 * further run.
 *
 * <p><b>Thread safety.</b> {@link #call()} runs on one thread at a time (the task's);
 * {@link #restarts()} may be read from any thread.
 */
final class RestartRunner implements Callable<@Nullable Void> {
    private final String name;
    private final RestartPolicy policy;
    private final RunState.ThrowingRunnable body;
    private final RunState runState;
    private final BooleanSupplier taskCancelled;
    /** The restart delay under way, or null. */
    private volatile @Nullable Wait delayWait;
    private final Logger log;
    private final AtomicInteger restarts;
    private final LongSupplier clock;

    /**
     * A runner for the task {@code name} (as logs and messages show it); {@code restarts}
     * is incremented once per restart (null: a counter of its own).
     */
    RestartRunner(String name, RestartPolicy policy, RunState.ThrowingRunnable body,
            RunState runState, BooleanSupplier taskCancelled, Logger log,
            @Nullable AtomicInteger restarts) {
        this(name, policy, body, runState, taskCancelled, log, restarts, System::nanoTime);
    }

    /** As above, with {@code clock} for {@link System#nanoTime()} (to time the runs). */
    RestartRunner(String name, RestartPolicy policy, RunState.ThrowingRunnable body,
            RunState runState, BooleanSupplier taskCancelled, Logger log,
            @Nullable AtomicInteger restarts, LongSupplier clock) {
        this.clock = clock;
        this.name = name;
        this.policy = policy;
        this.body = body;
        this.runState = runState;
        this.taskCancelled = taskCancelled;
        this.log = log;
        this.restarts = restarts != null ? restarts : new AtomicInteger();
    }

    /** The restarts counted so far (by every runner sharing the counter). */
    int restarts() {
        return restarts.get();
    }

    @Override
    public @Nullable Void call() throws Exception {
        long resetNanos = policy.resetAfterNanos();
        int count = 0;
        for (int attempt = 1;; attempt++) {
            long began = clock.getAsLong();
            try {
                body.run();
                return null;
            } catch (Exception | Error e) {
                if (cancelled()) {
                    throw e;
                }
                if (resetNanos >= 0L && clock.getAsLong() - began >= resetNanos) {
                    count = 0;
                }
                count++;
                long delay = policy.delayNanos(count);
                if (delay < 0L) {
                    log.warn("{}: attempt {} failed; giving up after {} restarts ({})", name,
                            attempt, count - 1, policy);
                    throw e;
                }
                try {
                    log.warn("{}: attempt {} failed; restart {} in {} ms", name, attempt, count,
                            delay / 1_000_000L, e);
                } catch (RuntimeException hostile) { // its toString() threw: restart all the same
                    log.warn("{}: attempt {} failed with {}; restart {}", name, attempt,
                            e.getClass().getName(), count);
                }
                restarts.incrementAndGet();
                waitToRestart(delay);
            }
        }
    }

    /**
     * Ends a restart delay under way at once if the task or the run state is cancelled:
     * for a cancel that wakes nobody by itself (the task's {@code cancel(false)}). Any thread.
     */
    void wake() {
        Wait w = delayWait;
        if (w != null) {
            LockSupport.unpark(w.thread());
        }
    }

    /**
     * Waits {@code delay} nanoseconds; a cancel of the run state or the task before or during
     * it ends the task (the run state's cancel wakes the wait, {@link #wake()} the task's).
     */
    private void waitToRestart(long delay) throws InterruptedException {
        Wait w = new Wait() {
            @Override
            protected boolean isDone() {
                return cancelled();
            }
        };
        boolean cancelledMeanwhile;
        delayWait = w;
        Registration onCancel = runState.onCancel(rs -> wake());
        try {
            cancelledMeanwhile = w.awaitNanos(delay, this, name, "the restart delay");
        } catch (InterruptedException e) {
            if (cancelled()) {
                throw cancellation(e);
            }
            throw e;
        } finally {
            onCancel.close();
            delayWait = null;
        }
        if (cancelledMeanwhile || cancelled()) {
            throw cancellation(null);
        }
    }

    private boolean cancelled() {
        return runState.isCancelled() || taskCancelled.getAsBoolean();
    }

    private CancellationException cancellation(@Nullable Throwable cause) {
        String reason = runState.cancelReason().orElse(null);
        CancellationException c = new CancellationException(name + ": cancelled while waiting"
                + " to restart" + (reason == null ? "" : ": " + reason));
        if (cause != null) {
            c.initCause(cause);
        }
        return c;
    }
}
