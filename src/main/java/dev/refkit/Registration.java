package dev.refkit;

/**
 * Something registered with a Refkit object, such as a listener or a JVM shutdown hook;
 * {@link #close()} removes it. Returned by {@link RunState#onStart}, {@link RunState#onCancel},
 * {@link RunState#onStop} and {@link RunState#cancelOnShutdown()}, among others.
 *
 * <p>Unlike {@link AutoCloseable#close()}, {@code close()} declares no checked exception, so
 * a registration can be held in a try-with-resources block without a {@code catch}:
 * <pre>{@code
 * try (Registration hook = run.cancelOnShutdown()) {
 *     run.run(loop);
 * }                                        // the hook is removed once the loop is over
 * }</pre>
 *
 * <p><b>Thread safety.</b> {@code close()} may be called from any thread, any number of
 * times, also while what it registered is in use (a listener being called, a hook
 * running); only the first call removes it.
 *
 * <p><b>Memory consistency effects.</b> An event that begins after {@code close()} has
 * returned never reaches what was registered. An event already under way may still reach
 * it, at most once: each owner's documentation says how (for a {@link RunState} listener,
 * a transition made at the same time calls it at most once).
 */
@FunctionalInterface
public interface Registration extends AutoCloseable {

    /**
     * Removes the registration. Idempotent: the first call removes it, later calls do
     * nothing. Never blocks for long and never waits for a call already under way (a
     * listener being called finishes that call). Throws nothing checked.
     */
    @Override
    void close();
}
