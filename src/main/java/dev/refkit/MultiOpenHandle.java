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
 * VarHandle CAS keeps the object on the heap. The critical section reads and writes one
 * field, never blocks and runs no other code, so it never pins a virtual thread for longer
 * than that. {@link #isClosed()} and {@link #toString()} read the flag (a volatile) and
 * never block.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes the handle
 * happen-before the shutdown of that cycle, through the engine's close.
 */
final class MultiOpenHandle implements Handle {
    private final MultiOpenEngine engine;
    private final CallSites.@Nullable Site site;
    /** Set once, inside synchronized (this); read without the monitor. */
    private volatile boolean closed;

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
        synchronized (this) {
            first = !closed;
            closed = true;
        }
        return first;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "Handle[" + engine.name() + (closed ? "]{closed}" : "]{open}");
    }
}
