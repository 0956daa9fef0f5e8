package dev.refkit;

import dev.refkit.internal.DaemonThreads;
import dev.refkit.internal.VirtualThreads;
import dev.refkit.internal.Wait;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The threads that run one owner's jobs, now or after a delay: one new virtual thread per
 * job where the JDK has them and no factory was given; else threads of a factory (by default
 * daemon platform threads named {@code NAME-task-N}), kept for later jobs while they are idle
 * (as {@code Executors.newCachedThreadPool} keeps them) and ended by {@link #shutdown()}.
 *
 * <p>A delayed job waits on its own virtual thread where the owner's jobs run on virtual
 * threads (no carrier is held while it waits); otherwise on one scheduler thread shared by
 * every owner, which hands the job to a thread of the owner when it is due.
 *
 * <p>A reused thread runs its jobs one after another; a job must leave its thread as it
 * found it (its interrupt flag clear): the pool clears it before each job, too.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread.
 */
final class TaskThreads {
    private static final @Nullable ThreadFactory VIRTUAL = VirtualThreads.factory();

    /** Non-null: jobs run on new virtual threads from it. */
    private final @Nullable ThreadFactory virtual;
    /** Non-null: jobs run on this pool. */
    private final @Nullable ThreadPoolExecutor pool;

    private TaskThreads(@Nullable ThreadFactory virtual, @Nullable ThreadPoolExecutor pool) {
        this.virtual = virtual;
        this.pool = pool;
    }

    /**
     * Threads for the owner {@code name}: virtual per job if {@code factory} is null and the
     * JDK has them, else a pool over {@code factory} or over daemon threads
     * {@code NAME-task-N}.
     */
    static TaskThreads create(String name, @Nullable ThreadFactory factory) {
        if (factory == null && VIRTUAL != null) {
            return new TaskThreads(VIRTUAL, null);
        }
        return new TaskThreads(null, new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60L,
                TimeUnit.SECONDS, new SynchronousQueue<>(),
                factory != null ? factory : DaemonThreads.factory(name + "-task-")));
    }

    /** Platform threads only, whatever the JDK: for tests. */
    static TaskThreads platform(String name) {
        return new TaskThreads(null, new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60L,
                TimeUnit.SECONDS, new SynchronousQueue<>(), DaemonThreads.factory(name + "-task-")));
    }

    /** Whether jobs run on new virtual threads. */
    boolean isVirtual() {
        return virtual != null;
    }

    /**
     * Runs {@code job} on a thread of its own now.
     *
     * @throws RejectedExecutionException after {@link #shutdown()}, or if the factory made
     *     no thread
     * @throws RuntimeException what the factory threw
     */
    void execute(Runnable job) {
        ThreadFactory v = virtual;
        if (v != null) {
            v.newThread(job).start();
        } else {
            ThreadPoolExecutor p = pool;
            if (p == null) {
                throw new AssertionError("no threads");
            }
            p.execute(job);
        }
    }

    /**
     * Runs {@code job} after {@code nanos}, on a thread of this owner, unless cancelled
     * first; a job due after {@link #shutdown()} is dropped. If no thread can be had when it
     * is due, {@code noThread} gets why, on the scheduler thread.
     *
     * @return the handle that cancels it
     * @throws RuntimeException what the factory threw, for a virtual waiter
     */
    Delayed executeAfter(long nanos, Runnable job, Consumer<Throwable> noThread) {
        ThreadFactory v = virtual;
        if (v != null) {
            VirtualDelay d = new VirtualDelay(nanos, job);
            Thread t = v.newThread(d);
            d.thread = t;
            t.start();
            return d;
        }
        ThreadPoolExecutor p = pool;
        if (p == null) {
            throw new AssertionError("no threads");
        }
        ScheduledFuture<?> f = Scheduler.INSTANCE.schedule(() -> {
            try {
                p.execute(job);
            } catch (RejectedExecutionException shutDown) {
                if (!p.isShutdown()) {
                    noThread.accept(shutDown);
                } // else the owner has shut down: the job is dropped
            } catch (RuntimeException | Error e) {
                noThread.accept(e);
            }
        }, nanos, TimeUnit.NANOSECONDS);
        return () -> f.cancel(false);
    }

    /** Lets idle pool threads end; a virtual owner has nothing to end. */
    void shutdown() {
        ThreadPoolExecutor p = pool;
        if (p != null) {
            p.shutdown();
        }
    }

    /** A delayed job's handle. */
    interface Delayed {
        /** Cancels the job if it has not begun; does nothing after. */
        void cancel();
    }

    /** A delayed job waiting on its own virtual thread. */
    private static final class VirtualDelay implements Delayed, Runnable {
        private final long nanos;
        private final Runnable job;
        private volatile boolean cancelled;
        volatile @Nullable Thread thread;

        VirtualDelay(long nanos, Runnable job) {
            this.nanos = nanos;
            this.job = job;
        }

        @Override
        public void run() {
            Wait w = new Wait() {
                @Override
                protected boolean isDone() {
                    return cancelled;
                }
            };
            if (!w.awaitUninterruptiblyNanos(nanos, this)) {
                Thread.interrupted(); // nobody interrupts a waiter that is not yet a job
                job.run();
            }
        }

        @Override
        public void cancel() {
            cancelled = true;
            Thread t = thread;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /** Holder: the one shared scheduler thread starts on first use. */
    private static final class Scheduler {
        static final ScheduledThreadPoolExecutor INSTANCE = DaemonThreads.scheduler("refkit-task-timer-");
    }
}
