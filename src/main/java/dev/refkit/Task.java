package dev.refkit;

import com.google.common.util.concurrent.ListenableFuture;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * A task of a {@link TaskGroup}: a {@link ListenableFuture} of the body's result, so it
 * composes with Guava's {@code Futures}, plus {@link #join()}, which throws the task's
 * failure the way the group's {@code close()} throws it.
 *
 * <p>It follows the {@link java.util.concurrent.Future} contract: {@link #get()} throws an
 * {@link java.util.concurrent.ExecutionException} whose cause is the body's own exception
 * (never a wrapper), {@link #resultNow()} and {@link #exceptionNow()} have the signatures
 * and meanings of the methods {@code Future} has from Java 19, and {@link #cancel(boolean)}
 * cancels this task alone: {@link #isDone()}, {@link #isCancelled()} and {@link #status()}
 * say so at once and {@code join()} and {@code get()} throw {@link CancellationException} at
 * once; {@code cancel(true)} interrupts a running body, {@code cancel(false)} does not, and
 * in both cases the group still waits for the body to end. A cancelled task counts as
 * cancelled, not failed. (There is no {@code state()} method: it would clash with the one
 * {@code Future} has from Java 19; use {@link #status()}.)
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The queries
 * ({@link #status()}, {@link #name()}, {@link #isDone()}, {@link #resultNow()},
 * {@link #exceptionNow()}, {@code toString()}) never block.
 *
 * <p><b>Memory consistency effects.</b> Actions of the body happen-before {@code join()},
 * {@code get()}, {@code resultNow()} or {@code exceptionNow()} return its outcome, and
 * before listeners added with {@code addListener} run.
 *
 * <p><b>Interrupts and timeouts.</b> {@code join} follows the rule of the
 * <a href="package-summary.html#interrupts">package documentation</a>.
 *
 * @param <V> the result type
 */
public interface Task<V extends @Nullable Object> extends ListenableFuture<V> {

    /** Where a task is in its life; see {@link Task#status()}. */
    enum Status {
        /** Spawned, its body not yet begun (waiting for its delay or for a thread). */
        SCHEDULED,
        /** Its body runs and the task is not yet done. */
        RUNNING,
        /** Its body returned: {@link Task#resultNow()} is the result. */
        SUCCEEDED,
        /** Its body threw: {@link Task#exceptionNow()} is what it threw. */
        FAILED,
        /**
         * Cancelled: by {@link Task#cancel(boolean)}, by its group's cancel before it began,
         * or its body ended with a cancellation-type exception after its group was cancelled
         * (see {@link TaskGroup}).
         */
        CANCELLED
    }

    /**
     * Waits until this task is done and returns its result, or throws its failure as the
     * group's {@code close()} throws it: an unchecked exception or {@link Error} as itself, a
     * checked one wrapped once in a {@link LifecycleException} ({@code "crawler: task fetch-3
     * failed"}, the cause kept); every {@code join()} of the task throws that one instance.
     * Interrupts: see the <a href="package-summary.html#interrupts">package
     * documentation</a>.
     *
     * @return the body's result
     * @throws InterruptedException if the thread is interrupted on entry or while waiting,
     *     with the message {@code "crawler-3: interrupted in join()"} (the task's name) and
     *     the flag clear; the task is unchanged
     * @throws CancellationException if the task was cancelled; the message names the group
     *     and the reason, e.g. {@code "crawler: cancelled: task fetch-3 failed
     *     (java.io.IOException: timeout)"}, or {@code "crawler: task fetch-3 cancelled"}
     *     when it was cancelled alone
     * @throws LifecycleException if the body threw a checked exception (the cause)
     * @throws RuntimeException if the body threw one, as itself
     * @throws Error if the body threw one, as itself
     */
    V join() throws InterruptedException;

    /**
     * Like {@link #join()}, waiting at most {@code timeout}.
     *
     * @param timeout how long to wait at most; huge values mean practically forever
     * @return the body's result
     * @throws InterruptedException as {@link #join()} does
     * @throws TimeoutException if the task is not done when the time is up, with the
     *     message {@code "crawler-3: not done after PT1S"}
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws CancellationException as {@link #join()} does
     * @throws LifecycleException as {@link #join()} does
     * @throws RuntimeException as {@link #join()} does
     * @throws Error as {@link #join()} does
     */
    V join(Duration timeout) throws InterruptedException, TimeoutException;

    /**
     * Returns where this task is now. Never blocks. Once {@link #isDone()} is true, it is
     * {@code SUCCEEDED}, {@code FAILED} or {@code CANCELLED} and never changes again.
     *
     * @return the status
     */
    Status status();

    /**
     * Returns this task's name: the one given to a named spawn method, else
     * {@code GROUP-N}, N counting from 1 over every spawn of the group.
     *
     * @return the name
     */
    String name();

    /**
     * Returns the result of a task that succeeded, without waiting, as
     * {@code Future.resultNow()} does.
     *
     * @return the body's result
     * @throws IllegalStateException if the task is not done, failed or was cancelled
     */
    V resultNow();

    /**
     * Returns what the body of a failed task threw, without waiting, as
     * {@code Future.exceptionNow()} does: the body's own exception, never a wrapper.
     *
     * @return the body's exception
     * @throws IllegalStateException if the task is not done, succeeded or was cancelled
     */
    Throwable exceptionNow();
}
