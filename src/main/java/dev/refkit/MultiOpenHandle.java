package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;

/**
 * One open of a {@link MultiOpen}, as {@link MultiOpen#open()} hands it out: its
 * {@link #close()} closes that open exactly once, however many threads race to close it.
 * {@link Shared}'s lease extends it, so a lease releases once through the same flag.
 *
 * <p><b>Thread safety.</b> Safe for use by any number of threads. The close-once flag is a
 * volatile int set by one CAS from 0 to 1; only the thread whose CAS wins calls the owner's
 * {@code release}, so a handle never closes its open twice. {@link #isClosed()} and
 * {@link #toString()} never block.
 *
 * <p><b>Memory consistency effects.</b> As for {@link MultiOpen#close()}: actions in a thread
 * before it closes the handle happen-before the owner's {@code shutdown()} of that cycle.
 */
class MultiOpenHandle implements Handle {
    final MultiOpen owner;
    private final CallSites.@Nullable Site site;
    private volatile int closed;

    MultiOpenHandle(MultiOpen owner, CallSites.@Nullable Site site) {
        this.owner = owner;
        this.site = site;
    }

    @Override
    public final void close() {
        if (closed == 0 && CLOSED.compareAndSet(this, 0, 1)) {
            owner.release(MultiOpen.CLOSE, site);
        }
    }

    @Override
    public final boolean isClosed() {
        return closed != 0;
    }

    @Override
    public String toString() {
        return "Handle[" + owner.nameForMessages() + (closed != 0 ? "]{closed}" : "]{open}");
    }

    // VarHandle mechanics
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup()
                    .findVarHandle(MultiOpenHandle.class, "closed", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
