package dev.refkit;

import dev.refkit.internal.Failures;
import dev.refkit.internal.ListenerList;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The start, cancel and stop listeners of one owner, each kind in a {@link ListenerList} of
 * its own, made on its first registration. Knows nothing of the owner but its name: the
 * listeners are {@code Consumer<O>}, called with the owner.
 *
 * <p>The owner {@linkplain #queue queues} the calls of a transition under the lock that
 * orders its transitions, and {@linkplain #dispatch dispatches} them once that lock is
 * released; the list's promises follow: calls to one listener never overlap and come in the
 * order of the transitions. Only the listeners of the transition made are dispatched, so a
 * thread making a start never runs a cancel listener's call queued by another thread.
 *
 * <p><b>Thread safety.</b> {@link #add} and {@link #queue} must be called with the owner's
 * transition lock held (it guards the three list fields); {@link #dispatch} without it.
 * A listener's {@link RuntimeException} is logged at warn on the owner's logger and the
 * other calls still run; an {@link Error} is handed back by
 * {@link #dispatch} for the owner to rethrow.
 *
 * @param <O> the owner's type
 */
final class RunStateEvents<O> {

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

    private final O owner;
    private final String ownerName;
    private final Logger log;
    /** Made on the first add of each kind; guarded by the owner's lock. */
    private @Nullable ListenerList<Listener<O>> start;
    private @Nullable ListenerList<Listener<O>> cancel;
    private @Nullable ListenerList<Listener<O>> stop;

    RunStateEvents(O owner, String ownerName, Logger log) {
        this.owner = owner;
        this.ownerName = ownerName;
        this.log = log;
    }

    /**
     * Registers {@code action} for {@code event}; under the owner's lock. A transition
     * queued from now on calls it, until the registration is closed.
     *
     * @return a registration whose idempotent {@code close()} removes the listener
     */
    Registration add(Event event, Consumer<O> action) {
        Listener<O> l = new Listener<>(owner, event, Objects.requireNonNull(action, "listener"));
        ListenerList<Listener<O>> list = listenersOf(event);
        if (list == null) {
            list = new ListenerList<>(this::threw);
            switch (event) {
                case START -> start = list;
                case CANCEL -> cancel = list;
                case STOP -> stop = list;
            }
        }
        return list.add(l)::remove;
    }

    /**
     * Queues a call of every listener of {@code event}, in registration order; under the
     * owner's lock, right after its state changed.
     *
     * @return what to pass to {@link #dispatch} once the lock is released; null if
     *     {@code event} never had a listener
     */
    @Nullable ListenerList<Listener<O>> queue(Event event) {
        ListenerList<Listener<O>> list = listenersOf(event);
        if (list != null) {
            list.enqueue(Listener::call);
        }
        return list;
    }

    /**
     * Like {@link #queue}, and {@code whenRun} runs once every listener of {@code event}
     * registered now has run this call (or skipped it, being removed): on the thread that
     * ran the last one, which may be another thread if this one's dispatch leaves a call to
     * a thread already running that listener. Under the owner's lock; then
     * {@link #dispatch} {@link #calls(Event) calls(event)} once it is released.
     *
     * @param whenRun told once the calls have run; it must not throw
     * @return true if no listener took the call, so {@code whenRun} will not run: the caller
     *     treats the calls as run; false if {@code whenRun} will run
     */
    boolean queue(Event event, Runnable whenRun) {
        ListenerList<Listener<O>> list = listenersOf(event);
        return list == null || list.enqueue(Listener::call, whenRun);
    }

    /**
     * The list {@link #dispatch} runs after {@link #queue(Event, Runnable)}; under the
     * owner's lock.
     *
     * @return the listeners of {@code event}, or null if it never had one
     */
    @Nullable ListenerList<Listener<O>> calls(Event event) {
        return listenersOf(event);
    }

    /**
     * Runs the calls {@link #queue} queued (and any queued since for the same listeners
     * that no other thread is running); call it without any lock.
     *
     * @param calls what {@link #queue} returned
     * @param pending an Error already caught in this transition, or null
     * @return {@code pending} if not null, else the first Error a listener threw, with each
     *     later Error suppressed on it; null if none
     */
    static <O> @Nullable Error dispatch(@Nullable ListenerList<Listener<O>> calls,
            @Nullable Error pending) {
        Error error = calls == null ? null : calls.dispatch();
        return error == null ? pending : Failures.firstFailure(pending, error);
    }

    private @Nullable ListenerList<Listener<O>> listenersOf(Event event) {
        return switch (event) {
            case START -> start;
            case CANCEL -> cancel;
            case STOP -> stop;
        };
    }

    private void threw(Listener<O> l, Throwable t) {
        log.warn("{}: {} listener {} threw", ownerName, l.event.label, l.action, t);
    }

    /**
     * One registered listener: its transition and the owner it is called with.
     *
     * @param <O> the owner's type
     */
    static final class Listener<O> {
        final O owner;
        final Event event;
        final Consumer<O> action;

        Listener(O owner, Event event, Consumer<O> action) {
            this.owner = owner;
            this.event = event;
            this.action = action;
        }

        void call() {
            action.accept(owner);
        }
    }
}
