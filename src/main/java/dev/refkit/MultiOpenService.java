package dev.refkit;

import com.google.common.util.concurrent.AbstractService;
import dev.refkit.internal.DaemonThreads;
import dev.refkit.internal.VirtualThreads;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import org.jspecify.annotations.Nullable;

/**
 * A Guava {@link com.google.common.util.concurrent.Service} over one {@link MultiOpen}: its
 * {@code startAsync()} opens the object (this service holds that one {@link Handle}) and its
 * {@code stopAsync()} closes that handle. Its states follow Guava's: {@code STARTING} while
 * the open runs, {@code RUNNING} once it returned, {@code STOPPING} while the close runs,
 * {@code TERMINATED} once it returned; an open or a close that throws makes it
 * {@code FAILED}, with exactly that throwable as {@code failureCause()}.
 *
 * <p>The open and the close each run on a new thread of {@code threads} (by default a
 * virtual thread where the JDK has them, else a daemon platform thread
 * {@code NAME-service-N}), so that {@code startAsync()} and {@code stopAsync()} never block
 * their caller. A {@code stopAsync()} while the open runs cannot cancel it: the service
 * reads {@code STOPPING}, and the handle is closed as soon as the open returns (Guava calls
 * {@link #doStop()} only after {@link #notifyStarted()}).
 *
 * <p>The handle is this service's own open: other owners' opens and closes of the object
 * leave it alone, so the object stays open at least until this service stops.
 *
 * <p><b>Thread safety.</b> As every {@link AbstractService}: any method from any thread.
 * {@code doStart} happens-before the open; the open happens-before {@code RUNNING} is
 * seen; {@code RUNNING} happens-before {@code doStop}, which happens-before the close.
 */
final class MultiOpenService extends AbstractService {
    private final MultiOpen target;
    private final ThreadFactory threads;
    /** This service's open; null until the open has returned. */
    private volatile @Nullable Handle handle;

    /** A service over {@code target} on the library's default threads. */
    MultiOpenService(MultiOpen target) {
        this(target, defaultThreads(target.name()));
    }

    /** A service over {@code target} whose open and close run on threads of {@code threads}. */
    MultiOpenService(MultiOpen target, ThreadFactory threads) {
        this.target = Objects.requireNonNull(target, "target");
        this.threads = Objects.requireNonNull(threads, "threads");
    }

    /**
     * New virtual threads named {@code NAME-service} where the JDK has them, else daemon
     * platform threads {@code NAME-service-N}.
     */
    static ThreadFactory defaultThreads(String name) {
        ThreadFactory virtual = VirtualThreads.factory();
        if (virtual == null) {
            return DaemonThreads.factory(name + "-service-");
        }
        return r -> {
            Thread t = virtual.newThread(r);
            t.setName(name + "-service");
            return t;
        };
    }

    /** Opens the object on a new thread, then reports started or failed. */
    @Override
    protected void doStart() {
        launch(() -> {
            Handle h;
            try {
                h = target.open();
            } catch (Throwable e) {
                notifyFailed(e);
                return;
            }
            handle = h;
            try {
                notifyStarted(); // calls doStop() if stopAsync() came meanwhile
            } catch (Throwable e) { // that doStop() could not launch its thread
                notifyFailed(e);
            }
        });
    }

    /** Closes this service's open on a new thread, then reports stopped or failed. */
    @Override
    protected void doStop() {
        Handle h = handle;
        if (h == null) { // Guava calls doStop() only after notifyStarted()
            throw new AssertionError(this + ": doStop() before the open returned");
        }
        launch(() -> {
            try {
                h.close();
            } catch (Throwable e) {
                notifyFailed(e);
                return;
            }
            notifyStopped();
        });
    }

    /**
     * Starts {@code job} on a new thread; what this throws, Guava's {@code startAsync()} or
     * {@code stopAsync()} turns into {@code FAILED}.
     */
    private void launch(Runnable job) {
        Thread t = threads.newThread(job);
        if (t == null) {
            throw new RejectedExecutionException(target.name()
                    + ": the thread factory made no thread for the Guava service");
        }
        t.start();
    }

    /**
     * {@code Service[NAME]{STATE}}, NAME the object's, STATE Guava's; when {@code FAILED},
     * {@code Service[NAME]{FAILED, failure=CAUSE}}. Never blocks.
     */
    @Override
    public String toString() {
        State s = state();
        String head = "Service[" + target.name() + "]{" + s;
        return s == State.FAILED ? head + ", failure=" + failureCause() + "}" : head + "}";
    }
}
