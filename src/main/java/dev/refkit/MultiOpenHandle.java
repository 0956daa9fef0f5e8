package dev.refkit;

import org.jspecify.annotations.Nullable;

/**
 * One open of a counting engine, as {@code MultiOpen.open()} hands it out: its
 * {@link #close()} closes that open exactly once, however many threads race to close it.
 *
 * <p><b>Thread safety.</b> Safe for use by any number of threads: the first closer wins the
 * {@link CloseOnce} flag and alone closes the open, and the handle allocates nothing in
 * try-with-resources (see {@link CloseOnce}). {@link #isClosed()} and {@link #toString()}
 * never block.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes the handle
 * happen-before the shutdown of that cycle, through the engine's close.
 */
final class MultiOpenHandle extends CloseOnce implements Handle {
    private final MultiOpenEngine engine;
    private final CallSites.@Nullable Site site;
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

    @Override
    public String toString() {
        return "Handle[" + engine.name() + (isClosed() ? "]{closed}" : "]{open}");
    }
}
