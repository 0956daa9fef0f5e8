package dev.refkit;

/**
 * A value lent by a {@link Shared} or a {@link Pool}; closing the lease gives it back.
 *
 * <pre>{@code
 * try (Lease<Parser> lease = parsers.borrow()) {
 *     lease.get().parse(text);
 * }
 * }</pre>
 *
 * <p><b>Thread safety.</b> A lease may be handed to another thread (with the usual
 * happens-before edge, such as a concurrent queue), which uses and closes it. If several
 * threads close the same lease at once, exactly one gives the value back.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes a lease
 * happen-before the lender disposes of the value or lends it to the next borrower.
 *
 * @param <T> the type of the value lent
 */
public interface Lease<T> extends AutoCloseable {

    /**
     * Returns the value lent. Never blocks.
     *
     * @return the value, never null
     * @throws IllegalStateException {@code "NAME: lease already closed"} if this lease has
     *     been closed or invalidated
     */
    T get();

    /**
     * Gives the value back, the first time it is called; later calls do nothing.
     *
     * @throws RuntimeException if giving back the value ran the lender's close action and
     *     that threw (see the lender's documentation); the lease is closed all the same
     * @throws Error if the lender's action threw one: an {@code Error} is never swallowed,
     *     and the lease is closed all the same
     */
    @Override
    void close();

    /**
     * Returns whether this lease has been closed or invalidated. Never blocks.
     *
     * @return true once {@link #close()} or {@link #invalidate()} has been called
     */
    boolean isClosed();

    /**
     * Tells the lender that the value is broken, and closes this lease. A {@link Pool}
     * destroys the object instead of lending it again and frees its slot. A {@link Shared}
     * closes the lease, then refreshes if its value is still the current one and another
     * lease is out (see {@link Shared#refresh()}): later acquires get a fresh value, other
     * leases keep the old one, which is closed when its last lease is closed. Calling it on a closed lease does
     * nothing; if several threads invalidate or close the same lease at once, exactly one of
     * them gives the value back.
     *
     * @throws RuntimeException if disposing of the value, or making the fresh one, threw
     *     (see the lender's documentation); the lease is closed all the same
     * @throws Error if disposing of the value threw one; the lease is closed all the same
     */
    void invalidate();
}
