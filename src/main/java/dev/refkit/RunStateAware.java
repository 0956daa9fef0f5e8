package dev.refkit;

/**
 * A type that has a {@link RunState} and exposes its most used methods as its own: a
 * service class implements {@link #runState()} and gets {@code cancel()},
 * {@code isCancelled()} and the state queries.
 *
 * <pre>{@code
 * final class Indexer implements RunStateAware {
 *     private final RunState run = new RunState("indexer");
 *     public RunState runState() { return run; }
 * }
 * indexer.cancel();
 * }</pre>
 *
 * <p><b>Thread safety.</b> As thread safe as the {@code RunState} returned; each default
 * method makes one call on it.
 */
public interface RunStateAware {

    /**
     * Returns the RunState this object delegates to; should always return the same one.
     *
     * @return the run state
     */
    RunState runState();

    /** Cancels the run state: see {@link RunState#cancel()}. */
    default void cancel() {
        runState().cancel();
    }

    /**
     * Returns whether the run state is cancelled: see {@link RunState#isCancelled()}.
     *
     * @return true if cancelled
     */
    default boolean isCancelled() {
        return runState().isCancelled();
    }

    /**
     * Returns whether a run is under way: see {@link RunState#isRunning()}.
     *
     * @return true if running, paused or stopping
     */
    default boolean isRunning() {
        return runState().isRunning();
    }

    /**
     * Returns whether the run state is stopping: see {@link RunState#isStopping()}.
     *
     * @return true if stopping
     */
    default boolean isStopping() {
        return runState().isStopping();
    }

    /**
     * Returns whether the run state is stopped: see {@link RunState#isStopped()}.
     *
     * @return true if stopped
     */
    default boolean isStopped() {
        return runState().isStopped();
    }
}
