package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Service;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link GuavaServiceRunner}: one Guava service run as a task of a bare {@link TaskGroup}. */
@Timeout(60)
final class GuavaServiceRunnerTest {

    private static TaskGroup supervising() {
        return TaskGroup.builder("g").cancelOnFailure(false).build();
    }

    private static Task<?> onlyTask(TaskGroup g) {
        List<Task<?>> tasks = g.tasks();
        assertEquals(1, tasks.size(), tasks.toString());
        return tasks.get(0);
    }

    @Test
    void start_guavaRunning_oneRunningTaskNamedAfterIt() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        assertEquals(Service.State.RUNNING, svc.state());
        Task<?> t = onlyTask(g);
        assertEquals("svc", t.name());
        assertEquals(Task.Status.RUNNING, t.status()); // start waits until it began
        g.cancel();
        g.close();
        assertEquals(Service.State.TERMINATED, svc.state());
        assertEquals(Task.Status.CANCELLED, t.status());
    }

    /** The group's tasks end only once the Guava service is TERMINATED (a slow stop). */
    @Test
    void cancel_slowStop_taskEndsOnlyAfterTerminated() throws Exception {
        ControlledService svc = new ControlledService("guava");
        svc.stopGate = new CountDownLatch(1);
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        g.cancel();
        await(svc.stopAsked);
        Task<?> t = onlyTask(g);
        assertEquals(Service.State.STOPPING, svc.state());
        assertFalse(t.isDone(), t.toString());
        svc.stopGate.countDown();
        g.close();
        assertEquals(Service.State.TERMINATED, svc.state());
    }

    @Test
    void start_secondTime_illegalStateNamingIt() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        g.cancel();
        g.close();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> r.start(supervising()));
        assertEquals("svc: open() in a new cycle, but the Guava service guava [TERMINATED] ran"
                + " in an earlier one and cannot start again", e.getMessage());
        assertEquals(1, svc.starts.get());
    }

    @Test
    void start_guavaNotNew_illegalStateNamingItsState() throws Exception {
        ControlledService svc = new ControlledService("guava");
        svc.startAsync().awaitRunning();
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.start(g));
        assertEquals("svc: open() cannot start the Guava service guava [RUNNING]: it is"
                + " RUNNING, not NEW", e.getMessage());
        assertEquals(List.of(), g.tasks());
        svc.stopAsync().awaitTerminated();
    }

    @Test
    void start_guavaFailsToStart_lifecycleExceptionWithFailureCause() throws Exception {
        ControlledService svc = new ControlledService("guava");
        IOException io = new IOException("no port");
        svc.startFailure = io;
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        LifecycleException e = assertThrows(LifecycleException.class, () -> r.start(g));
        assertSame(io, e.getCause());
        assertEquals("svc: Guava service guava [FAILED] failed to start", e.getMessage());
        assertEquals(List.of(), g.tasks());
        g.close();
    }

    /** Failing by itself, the Guava service fails the task with exactly its failureCause. */
    @Test
    void guavaFailsByItself_taskFailsWithFailureCause() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        Task<?> t = onlyTask(g);
        IllegalStateException boom = new IllegalStateException("crashed");
        CountDownLatch ended = new CountDownLatch(1);
        t.addListener(ended::countDown, Runnable::run);
        svc.failNow(boom);
        await(ended); // by itself: nobody cancelled the group
        assertSame(boom, t.exceptionNow());
        assertSame(boom, assertThrows(IllegalStateException.class, g::close));
    }

    /** Stopped by someone else, the Guava service ends the task normally. */
    @Test
    void guavaStoppedByOthers_taskEndsNormally() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        Task<?> t = onlyTask(g);
        svc.stopAsync().awaitTerminated(WAIT_S, TimeUnit.SECONDS);
        t.join(java.time.Duration.ofSeconds(WAIT_S));
        assertEquals(Task.Status.SUCCEEDED, t.status());
        g.close();
    }

    /** A stop that fails after the cancel is the task's failure, exactly failureCause. */
    @Test
    void cancel_guavaStopFails_taskFailsWithFailureCause() throws Exception {
        ControlledService svc = new ControlledService("guava");
        IllegalStateException boom = new IllegalStateException("stop failed");
        svc.stopFailure = boom;
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        g.cancel();
        assertSame(boom, assertThrows(IllegalStateException.class, g::close));
        assertEquals(Service.State.FAILED, svc.state());
    }

    /** A checked failureCause is thrown as itself by the body, so the group wraps it once. */
    @Test
    void cancel_guavaStopFailsChecked_groupWrapsItOnce() throws Exception {
        ControlledService svc = new ControlledService("guava");
        IOException io = new IOException("stop failed");
        svc.stopFailure = io;
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        r.start(g);
        g.cancel();
        LifecycleException e = assertThrows(LifecycleException.class, g::close);
        assertSame(io, e.getCause());
        assertEquals("g: task svc failed", e.getMessage());
    }

    /** Group cancelled before the task could begin: start stops the Guava service itself. */
    @Test
    void start_groupAlreadyCancelled_stopsGuavaBeforeReturning() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        g.cancel();
        r.start(g);
        assertEquals(Service.State.TERMINATED, svc.state());
        assertEquals(List.of(), g.tasks());
        g.close();
    }

    /** The first open may come from an interrupted thread: the waits go through it. */
    @Test
    void start_interruptedCaller_startsAndKeepsTheFlag() throws Exception {
        ControlledService svc = new ControlledService("guava");
        GuavaServiceRunner r = new GuavaServiceRunner("svc", svc);
        TaskGroup g = supervising();
        Thread.currentThread().interrupt();
        try {
            r.start(g);
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
        assertEquals(Service.State.RUNNING, svc.state());
        g.cancel();
        g.close();
        assertEquals(Service.State.TERMINATED, svc.state());
    }

    @Test
    void construct_null_throwsNamingIt() {
        assertEquals("name", assertThrows(NullPointerException.class,
                () -> new GuavaServiceRunner(null, new ControlledService("x"))).getMessage());
        assertEquals("service", assertThrows(NullPointerException.class,
                () -> new GuavaServiceRunner("svc", null)).getMessage());
    }
}
