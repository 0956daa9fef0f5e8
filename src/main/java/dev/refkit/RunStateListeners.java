package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start, cancel and stop listeners of one {@link RunState}: a copy-on-write array in
 * registration order, changed by CAS. A transition takes a {@link #snapshot()} right after
 * it changed the state and {@linkplain #fire fires} it outside any lock, so a listener added
 * or removed meanwhile is never called twice or half-way. A listener's {@link Error} does
 * not stop the others or the transition: {@link #fire} hands it back for rethrowing.
 */
final class RunStateListeners {

    private static final Logger log = LoggerFactory.getLogger(RunState.class);
    private static final Entry[] NONE = {};

    /** The transitions that have listeners. */
    enum Event {
        START("start"),
        CANCEL("cancel"),
        STOP("stop");

        final String label;

        Event(String label) {
            this.label = label;
        }
    }

    /** In registration order; replaced whole by CAS. */
    private volatile Entry[] entries = NONE;

    /** Adds a listener for {@code event} and returns its registration. */
    RunState.Registration add(Event event, Consumer<RunState> listener) {
        Entry e = new Entry(event, listener);
        for (;;) {
            Entry[] old = entries;
            Entry[] next = Arrays.copyOf(old, old.length + 1);
            next[old.length] = e;
            if (casEntries(old, next)) {
                return e;
            }
        }
    }

    private void remove(Entry e) {
        for (;;) {
            Entry[] old = entries;
            int i = Arrays.asList(old).indexOf(e);
            if (i < 0) {
                return;
            }
            Entry[] next = new Entry[old.length - 1];
            System.arraycopy(old, 0, next, 0, i);
            System.arraycopy(old, i + 1, next, i, old.length - i - 1);
            if (casEntries(old, next)) {
                return;
            }
        }
    }

    /** The listeners registered now; pass it to {@link #fire} after the transition. */
    Entry[] snapshot() {
        return entries;
    }

    /**
     * Calls the listeners for {@code event} in {@code snapshot}, in order, skipping those
     * removed since. One that throws a {@link RuntimeException} is logged (warn) and the
     * others still run. One that throws an {@link Error} ({@link VirtualMachineError}s
     * included) does not stop the others either: the Error is returned, for the caller to
     * rethrow once it has finished its transition.
     *
     * @param pending an Error already caught in this transition, or null
     * @return {@code pending} if not null, else the first Error a listener threw, with each
     *     later Error {@linkplain Throwable#addSuppressed suppressed} on it; null if none
     */
    static @Nullable Error fire(Entry[] snapshot, Event event, RunState owner,
            @Nullable Error pending) {
        Error first = pending;
        for (Entry e : snapshot) {
            if (e.event != event || e.removed) {
                continue;
            }
            try {
                e.listener.accept(owner);
            } catch (RuntimeException t) {
                log.warn("{}: {} listener {} threw", owner.name(), event.label, e.listener, t);
            } catch (Error t) {
                first = Checks.firstFailure(first, t);
            }
        }
        return first;
    }

    /** One registration; closing it removes it, once. */
    final class Entry implements RunState.Registration {
        final Event event;
        final Consumer<RunState> listener;
        volatile boolean removed;

        Entry(Event event, Consumer<RunState> listener) {
            this.event = event;
            this.listener = listener;
        }

        @Override
        public void close() {
            removed = true;
            remove(this);
        }
    }

    private boolean casEntries(Entry[] expected, Entry[] next) {
        return ENTRIES.compareAndSet(this, expected, next);
    }

    // VarHandle mechanics
    private static final VarHandle ENTRIES;

    static {
        try {
            ENTRIES = MethodHandles.lookup().findVarHandle(RunStateListeners.class, "entries", Entry[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
