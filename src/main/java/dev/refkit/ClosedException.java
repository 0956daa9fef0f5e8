package dev.refkit;

/**
 * Thrown when an object is used while it is not open: a {@link MultiOpen} before its first
 * {@code open()} or after its last {@code close()}, a {@link Pool} after {@code close()}, or
 * a {@link TaskGroup} spawned on after {@code close()}. The message names the object and its
 * state, e.g. {@code "db: already closed"} or {@code "crawler: task group closed"}.
 */
public class ClosedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with the given message.
     *
     * @param message the detail message, naming the object and its state
     */
    public ClosedException(String message) {
        super(message);
    }
}
