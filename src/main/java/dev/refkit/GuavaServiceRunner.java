package dev.refkit;

import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.Service;
import com.google.common.util.concurrent.Uninterruptibles;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs one Guava {@link Service} as the work of a {@link TaskGroup}, once:
 * {@link #start(TaskGroup)} starts it, waits until it is {@code RUNNING}, and spawns one
 * task, named {@code name}, that lives as long as the Guava service runs.
 *
 * <p>The task ends in one of three ways. Cancelled (its group's cancel interrupts it), it
 * stops the Guava service and waits until it is {@code TERMINATED}, then ends as cancelled.
 * If the Guava service leaves {@code RUNNING} by itself (someone else stopped it, or it
 * failed), the task waits until it is {@code TERMINATED} and ends normally. Either way, if
 * the Guava service ends {@code FAILED}, the task fails with exactly its
 * {@code failureCause()}. So the group's tasks have ended only once the Guava service has.
 *
 * <p>A Guava service runs once: a second {@code start} throws {@link IllegalStateException}.
 *
 * <p><b>Thread safety.</b> {@code start} may be called from any thread; calls are meant to
 * come one at a time (a caller's lifecycle lock), a second one always throws.
 */
final class GuavaServiceRunner {
    private final String name;
    private final Service service;
    /** Set by the first {@code start}. */
    private final AtomicBoolean started = new AtomicBoolean();
    /** Released when the Guava service leaves {@code RUNNING}, for whatever reason. */
    private final CountDownLatch leftRunning = new CountDownLatch(1);

    /**
     * A runner of {@code service}, whose messages and task are named {@code name}.
     *
     * @throws NullPointerException if an argument is null
     */
    GuavaServiceRunner(String name, Service service) {
        this.name = Objects.requireNonNull(name, "name");
        this.service = Objects.requireNonNull(service, "service");
    }

    /**
     * Starts the Guava service, waits until it is {@code RUNNING} (uninterruptibly, as
     * {@link Service#awaitRunning()} does; the interrupt flag stays set), then spawns its task
     * into {@code tasks} and waits until the task has begun or ended (so that a cancel of
     * {@code tasks} afterwards always reaches a running task). If {@code tasks} was cancelled
     * before the task began, stops the Guava service and waits until it is
     * {@code TERMINATED} before returning.
     *
     * @throws IllegalStateException if called before (a Guava service cannot start again),
     *     or if the Guava service is not {@code NEW}, or stops before it is {@code RUNNING}
     * @throws LifecycleException {@code "NAME: Guava service S failed to start"} if it
     *     fails to start, with its {@code failureCause()} as the cause
     * @throws Exception the Guava service's {@code failureCause()}, if {@code tasks} was
     *     cancelled before the task began and the Guava service failed as it stopped
     */
    void start(TaskGroup tasks) throws Exception {
        if (started.get()) {
            throw cannotStartAgain();
        }
        Service.State s = service.state();
        if (s != Service.State.NEW) {
            throw new IllegalStateException(name + ": open() cannot start the Guava service "
                    + service + ": it is " + s + ", not NEW");
        }
        if (!started.compareAndSet(false, true)) {
            throw cannotStartAgain();
        }
        service.addListener(new Service.Listener() {
            @Override
            public void stopping(Service.State from) {
                leftRunning.countDown();
            }

            @Override
            public void terminated(Service.State from) {
                leftRunning.countDown();
            }

            @Override
            public void failed(Service.State from, Throwable failure) {
                leftRunning.countDown();
            }
        }, MoreExecutors.directExecutor());
        try {
            service.startAsync().awaitRunning();
        } catch (IllegalStateException e) {
            if (service.state() == Service.State.FAILED) {
                throw new LifecycleException(name + ": Guava service " + service
                        + " failed to start", service.failureCause());
            }
            throw new IllegalStateException(name + ": Guava service " + service
                    + " stopped before it was RUNNING", e);
        }
        boolean begun;
        try {
            begun = spawnAndAwaitBegun(tasks);
        } catch (Throwable e) { // no task will stop the Guava service: stop it here
            try {
                stopAndAwaitTerminated();
            } catch (Throwable stop) {
                if (stop != e) {
                    e.addSuppressed(stop);
                }
            }
            throw e;
        }
        if (!begun) { // cancelled before it began: nobody else will stop the Guava service
            stopAndAwaitTerminated();
        }
    }

    private IllegalStateException cannotStartAgain() {
        return new IllegalStateException(name + ": open() in a new cycle, but the Guava service "
                + service + " ran in an earlier one and cannot start again");
    }

    /**
     * Spawns the task and waits, uninterruptibly, until it has begun or ended.
     *
     * @return whether it began (false: cancelled before it began)
     */
    private boolean spawnAndAwaitBegun(TaskGroup tasks) {
        CountDownLatch begunOrEnded = new CountDownLatch(1);
        AtomicBoolean begun = new AtomicBoolean();
        Task<?> task = tasks.spawn(name, () -> {
            begun.set(true);
            begunOrEnded.countDown();
            run();
        });
        task.addListener(begunOrEnded::countDown, MoreExecutors.directExecutor());
        Uninterruptibles.awaitUninterruptibly(begunOrEnded);
        return begun.get();
    }

    /** The task's body, from its first line: see the class Javadoc. */
    private void run() throws Exception {
        try {
            leftRunning.await();
        } catch (InterruptedException cancelled) {
            stopAndAwaitTerminated();
            throw cancelled;
        }
        awaitTerminated();
    }

    /** Asks the Guava service to stop (idempotent) and waits as {@link #awaitTerminated()}. */
    private void stopAndAwaitTerminated() throws Exception {
        service.stopAsync();
        awaitTerminated();
    }

    /**
     * Waits, uninterruptibly, until the Guava service is {@code TERMINATED} or
     * {@code FAILED}; throws its {@code failureCause()} if it {@code FAILED}.
     */
    private void awaitTerminated() throws Exception {
        try {
            service.awaitTerminated();
        } catch (IllegalStateException e) {
            if (service.state() != Service.State.FAILED) {
                throw e;
            }
            Throwable cause = service.failureCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            throw new LifecycleException(name + ": Guava service " + service + " failed", cause);
        }
    }
}
