package dev.refkit;

/**
 * The close-once flag of a handle or a lease: {@link #markClosed()} returns true for exactly
 * one caller, however many threads race to close.
 *
 * <p>The flag is a plain field flipped inside {@code synchronized (this)}. A monitor, not a
 * CAS: the JIT removes the monitor of an object that never leaves the method that made it,
 * and then the object itself, so {@code try (Handle h = m.open()) {...}} and
 * {@code try (Lease<T> l = s.acquire()) {...}} allocate nothing; a field changed through a
 * VarHandle CAS, {@code getAndSet} or a field updater keeps the object on the heap, and so
 * does a volatile flag's fence. The critical section reads and writes one field, never
 * blocks and runs no other code, so it is fine for virtual threads: it never pins one for
 * longer than that.
 *
 * <p><b>Thread safety.</b> {@link #markClosed()} and {@link #isClosed()} may be called from
 * any thread and never block. {@link #closedPlain()} reads the flag without the monitor: it
 * sees its own thread's close and every close that happens-before the read.
 */
abstract class CloseOnce {
    /** Set once; written under this. */
    private boolean closed;

    /** For a subclass; the flag starts clear. */
    CloseOnce() {}

    /** Sets the flag; returns true for the one caller that found it clear. */
    final boolean markClosed() {
        boolean first;
        synchronized (this) {
            first = !closed;
            closed = true;
        }
        return first;
    }

    /**
     * Whether {@link #markClosed()} was called.
     *
     * @return true once closed
     */
    public final synchronized boolean isClosed() {
        return closed;
    }

    /** The flag read without the monitor, for a fast path that tolerates a racing close. */
    final boolean closedPlain() {
        return closed;
    }
}
