package dev.refkit;

/**
 * Thrown when user code that Refkit runs on the caller's behalf (a {@code startup()} or
 * {@code shutdown()} hook, a {@link Shared} opener or closer, a {@link Pool} factory) threw
 * a checked exception. The checked exception is the {@linkplain #getCause() cause}; the
 * message names the object and the step that failed, e.g. {@code "db: startup() failed"}.
 *
 * <p>Unchecked exceptions from user code are never wrapped: they reach the caller as
 * themselves.
 */
public class LifecycleException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with the given message and cause.
     *
     * @param message the detail message, naming the object and the failed step
     * @param cause the checked exception that user code threw
     */
    public LifecycleException(String message, Throwable cause) {
        super(message, cause);
    }
}
