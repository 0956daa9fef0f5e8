package dev.refkit;

/**
 * One open of a {@link MultiOpen}: closing it closes that open, exactly once.
 *
 * <p>The normal use is try-with-resources:
 * <pre>{@code
 * try (Handle h = db.open()) {
 *     db.query("...");
 * }
 * }</pre>
 *
 * <p><b>Thread safety.</b> A handle may be passed to another thread, which closes it. If
 * several threads call {@link #close()} on the same handle at once, exactly one of them
 * closes the open; the others return without effect. The close-once flag is flipped under
 * the handle's own monitor, a critical section that never blocks and runs no other code
 * (so it is fine for virtual threads); a handle that stays in the method that opened it,
 * as in try-with-resources, is not allocated at all.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it calls {@code close()}
 * on a handle happen-before the owner's {@code shutdown()} runs for that cycle.
 */
public interface Handle extends AutoCloseable {

    /**
     * Closes the open that made this handle, the first time it is called; later calls do
     * nothing. Never blocks unless this is the last open of its owner, in which case the
     * owner's shutdown runs in this thread (see {@link MultiOpen#close()}).
     *
     * @throws RuntimeException if this was the last open and the owner's {@code shutdown()}
     *     threw (an unchecked exception as itself, a checked one wrapped); the owner is
     *     closed all the same
     */
    @Override
    void close();

    /**
     * Returns whether {@link #close()} has been called on this handle. Never blocks.
     *
     * @return true once this handle has been closed
     */
    boolean isClosed();
}
