package dev.refkit;

import org.jspecify.annotations.Nullable;

/**
 * One open of a counting engine, as {@code MultiOpen.open()} hands it out: its
 * {@link #close()} closes that open exactly once, however many threads race to close it.
 *
 * <p><b>Thread safety.</b> Safe for use by any number of threads. The close-once flag is
 * flipped inside {@code synchronized (this)}: the first closer finds it clear, sets it and
 * alone closes the open. A monitor, not a CAS, because the JIT removes the monitor of a
 * handle that never leaves the method that opened it and then removes the handle itself,
 * so {@code try (Handle h = m.open()) {...}} allocates nothing; a field changed through a
 * VarHandle CAS keeps the object on the heap (and so does a volatile flag's fence). The
 * critical section reads and writes one plain field, never blocks and runs no other code, so
 * it is fine for virtual threads: it never pins one for longer than that. {@link #isClosed()}
 * and {@link #toString()} read the flag under the same monitor and never block.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes the handle
 * happen-before the shutdown of that cycle, through the engine's close.
 */
final class MultiOpenHandle implements Handle {
    private final MultiOpenEngine engine;
    private final CallSites.@Nullable Site site;
    /** Set once; guarded by this. */
    private boolean closed;

    MultiOpenHandle(MultiOpenEngine engine, CallSites.@Nullable Site site) {
        this.engine = engine;
        this.site = site;
    }

    @Override
    public void close() {
        if (markClosed()) {
            engine.close(site);
        }
    }

    /** Sets the flag; returns true for the one caller that found it clear. */
    private boolean markClosed() {
        boolean first;
        // Never blocks, runs no other code: fine for virtual threads (see the class Javadoc).
        synchronized (this) {
            first = !closed;
            closed = true;
        }
        return first;
    }

    @Override
    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "Handle[" + engine.name() + (isClosed() ? "]{closed}" : "]{open}");
    }
}
