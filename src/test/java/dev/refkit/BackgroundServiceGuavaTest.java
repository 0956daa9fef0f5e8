package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Service;
import com.google.common.util.concurrent.ServiceManager;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Guava interop of {@link BackgroundService}: {@link BackgroundService#asService()} (a
 * Refkit service in a Guava {@link ServiceManager}) and
 * {@link BackgroundService#of(String, Service)} (a Guava service as a Refkit one).
 */
@Timeout(60)
final class BackgroundServiceGuavaTest {

    /** A service of one task that runs until cancelled. */
    private static BackgroundService sleeper(String name) {
        return BackgroundService.loop(name, rs -> rs.awaitCancellation(Duration.ofDays(1)),
                RestartPolicy.never());
    }

    /** A service whose start throws {@code e}. */
    private static BackgroundService failingStart(String name, RuntimeException e) {
        return new BackgroundService(name) {
            @Override
            protected void start(TaskGroup tasks) {
                throw e;
            }
        };
    }

    private static void awaitRunning(Service s) throws Exception {
        s.awaitRunning(WAIT_S, TimeUnit.SECONDS);
    }

    private static void awaitTerminated(Service s) throws Exception {
        s.awaitTerminated(WAIT_S, TimeUnit.SECONDS);
    }

    // ---------------------------------------------------------------- asService

    @Test
    void asService_everyCall_sameObject() {
        BackgroundService b = sleeper("svc");
        Service s = b.asService();
        assertSame(s, b.asService());
        assertEquals("Service[svc]{NEW}", s.toString());
    }

    /** Two threads racing on the first asService() both get the one view. */
    @Test
    void asService_twoThreadsAtOnce_sameObject() throws Exception {
        for (int i = 0; i < 200; i++) {
            BackgroundService b = sleeper("svc-" + i);
            CyclicBarrier both = new CyclicBarrier(2);
            Future<Service> other = TestThreads.fork(() -> {
                both.await();
                return b.asService();
            });
            both.await();
            Service mine = b.asService();
            assertSame(mine, other.get(WAIT_S, TimeUnit.SECONDS));
        }
    }

    @Test
    void asService_startStop_statesFollowTheService() throws Exception {
        BackgroundService b = sleeper("svc");
        Service s = b.asService();
        s.startAsync();
        awaitRunning(s);
        assertEquals(Service.State.RUNNING, s.state());
        assertTrue(b.isOpen());
        assertTrue(b.isRunning());
        assertEquals(1, b.openCount());
        s.stopAsync();
        awaitTerminated(s);
        assertEquals(Service.State.TERMINATED, s.state());
        assertTrue(b.isClosed());
        assertFalse(b.isRunning());
        // a Guava service runs once; the Refkit service can be opened again directly
        assertThrows(IllegalStateException.class, s::startAsync);
        b.open().close();
    }

    /** start() throws: FAILED with exactly that exception, the service never opened. */
    @Test
    void asService_startThrows_failedWithExactlyIt() throws Exception {
        IllegalStateException boom = new IllegalStateException("cannot start");
        BackgroundService b = failingStart("svc", boom);
        Service s = b.asService();
        s.startAsync();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> s.awaitRunning(WAIT_S, TimeUnit.SECONDS));
        assertSame(boom, e.getCause());
        assertSame(boom, s.failureCause());
        assertEquals(MultiOpen.State.NEW, b.state());
        assertEquals("Service[svc]{FAILED, failure=" + boom + "}", s.toString());
    }

    /** A task failure thrown by the view's last close: FAILED with exactly that exception. */
    @Test
    void asService_lastCloseThrowsTaskFailure_failedWithExactlyIt() throws Exception {
        IllegalStateException boom = new IllegalStateException("task crashed");
        CountDownLatch failed = new CountDownLatch(1);
        BackgroundService b = new BackgroundService("svc") {
            @Override
            protected void start(TaskGroup tasks) {
                tasks.spawn("crash", () -> {
                    throw boom;
                }).addListener(failed::countDown, Runnable::run);
            }
        };
        Service s = b.asService();
        s.startAsync();
        awaitRunning(s);
        await(failed);
        assertEquals(List.of(boom), b.failures());
        s.stopAsync();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> s.awaitTerminated(WAIT_S, TimeUnit.SECONDS));
        assertSame(boom, e.getCause());
        assertSame(boom, s.failureCause());
        assertTrue(b.isClosed());
    }

    /** The view's open is counted: another owner's close does not stop the service. */
    @Test
    void asService_otherOwnerCloses_serviceRunsUntilTheViewStops() throws Exception {
        BackgroundService b = sleeper("svc");
        Handle other = b.open();
        Service s = b.asService();
        s.startAsync();
        awaitRunning(s);
        other.close();
        assertTrue(b.isOpen());
        assertTrue(b.isRunning());
        assertEquals(Service.State.RUNNING, s.state());
        s.stopAsync();
        awaitTerminated(s);
        assertTrue(b.isClosed());
        assertFalse(b.isRunning());
    }

    // ---------------------------------------------------------------- of

    @Test
    void of_openClose_guavaRunningThenTerminated() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        assertEquals("svc", b.name());
        assertEquals(Service.State.NEW, guava.state());
        Handle h = b.open();
        assertEquals(Service.State.RUNNING, guava.state());
        assertTrue(b.isRunning());
        assertEquals("svc", b.tasks().get(0).name());
        assertEquals("BackgroundService[svc]{OPEN, running=1, failed=0, restarts=0}",
                b.toString());
        h.close();
        assertEquals(Service.State.TERMINATED, guava.state()); // when close returns
        assertFalse(b.isRunning());
        assertEquals(1, guava.starts.get());
        assertEquals(1, guava.stops.get());
    }

    /** The last close waits for TERMINATED, however long the Guava service takes to stop. */
    @Test
    void of_slowStop_lastCloseWaitsForTerminated() throws Exception {
        ControlledService guava = new ControlledService("guava");
        guava.stopGate = new CountDownLatch(1);
        BackgroundService b = BackgroundService.of("svc", guava);
        b.open();
        TestThreads.Call close = TestThreads.startCall(() -> {
            b.close();
            return null;
        });
        await(guava.stopAsked);
        assertTrue(close.thread.isAlive());
        assertEquals(Service.State.STOPPING, guava.state());
        guava.stopGate.countDown();
        assertEquals(null, close.join());
        assertEquals(Service.State.TERMINATED, guava.state());
    }

    @Test
    void of_guavaFailsToStart_lifecycleExceptionWithFailureCause() throws Exception {
        ControlledService guava = new ControlledService("guava");
        IOException io = new IOException("no port");
        guava.startFailure = io;
        BackgroundService b = BackgroundService.of("svc", guava);
        LifecycleException e = assertThrows(LifecycleException.class, b::open);
        assertSame(io, e.getCause());
        assertSame(guava.failureCause(), e.getCause());
        assertEquals("svc: Guava service guava [FAILED] failed to start", e.getMessage());
        assertEquals(MultiOpen.State.NEW, b.state());
        assertFalse(b.isRunning());
    }

    @Test
    void of_secondCycle_illegalStateNamingIt() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        b.open().close();
        IllegalStateException e = assertThrows(IllegalStateException.class, b::open);
        assertEquals("svc: open() in a new cycle, but the Guava service guava [TERMINATED] ran"
                + " in an earlier one and cannot start again", e.getMessage());
        assertEquals(MultiOpen.State.CLOSED, b.state());
        assertEquals(1, guava.starts.get());
    }

    /** The Guava service failing by itself while open is a task failure, reported once. */
    @Test
    void of_guavaFailsWhileOpen_reportedAsTaskFailure() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h = b.open();
        IllegalStateException boom = new IllegalStateException("crashed");
        guava.failNow(boom);
        assertSame(boom, assertThrows(IllegalStateException.class, b::awaitTasks));
        assertEquals(List.of(boom), b.failures());
        assertFalse(b.isRunning());
        assertTrue(b.isOpen()); // open, idle, until its last close
        h.close(); // reported already
        assertEquals(List.of(boom), b.failures());
    }

    /** A checked failure by itself: the last close throws it wrapped, as any task's. */
    @Test
    void of_guavaFailsCheckedWhileOpen_lastCloseThrowsItWrapped() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h = b.open();
        IOException io = new IOException("disk");
        guava.failNow(io);
        while (b.isRunning()) {
            Thread.onSpinWait();
        }
        LifecycleException e = assertThrows(LifecycleException.class, h::close);
        assertSame(io, e.getCause());
        assertEquals("svc: task svc failed", e.getMessage());
    }

    /** Stopping fails: the last close throws exactly failureCause. */
    @Test
    void of_guavaStopFails_lastCloseThrowsFailureCause() throws Exception {
        ControlledService guava = new ControlledService("guava");
        IllegalStateException boom = new IllegalStateException("stop failed");
        guava.stopFailure = boom;
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h = b.open();
        assertSame(boom, assertThrows(IllegalStateException.class, h::close));
        assertEquals(Service.State.FAILED, guava.state());
        assertTrue(b.isClosed());
    }

    /** Stopped by someone else: the task ends, no failure, the service stays open, idle. */
    @Test
    void of_guavaStoppedByOthers_taskEndsNoFailure() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h = b.open();
        guava.stopAsync();
        b.awaitTasks();
        assertEquals(Service.State.TERMINATED, guava.state());
        assertFalse(b.isRunning());
        assertEquals(List.of(), b.failures());
        assertTrue(b.isOpen());
        h.close();
    }

    @Test
    void of_stop_stopsGuavaServiceStaysOpen() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h = b.open();
        b.stop();
        assertEquals(Service.State.TERMINATED, guava.state());
        assertTrue(b.isOpen());
        assertEquals(List.of(), b.failures());
        h.close();
    }

    /** A cancel() during the first open's start: the open returns, the Guava service stopped. */
    @Test
    void of_cancelWhileStarting_openReturnsGuavaTerminated() throws Exception {
        ControlledService guava = new ControlledService("guava");
        guava.startGate = new CountDownLatch(1);
        BackgroundService b = BackgroundService.of("svc", guava);
        Future<Handle> open = TestThreads.fork(b::open);
        while (guava.state() != Service.State.STARTING) {
            Thread.onSpinWait();
        }
        b.cancel();
        guava.startGate.countDown();
        Handle h = open.get(WAIT_S, TimeUnit.SECONDS);
        assertEquals(Service.State.TERMINATED, guava.state());
        assertFalse(b.isRunning());
        assertTrue(b.isOpen());
        h.close();
    }

    /** Open then close at once: the close always finds the task begun and stops the service. */
    @Test
    void of_openCloseAtOnce_alwaysTerminatedWhenCloseReturns() throws Exception {
        for (int i = 0; i < 200; i++) {
            ControlledService guava = new ControlledService("guava-" + i);
            BackgroundService b = BackgroundService.of("svc-" + i, guava);
            b.open().close();
            assertEquals(Service.State.TERMINATED, guava.state(), "round " + i);
        }
    }

    /** An interrupted opener still opens (open() waits through interrupts), flag kept. */
    @Test
    void of_interruptedOpener_opensAndKeepsTheFlag() throws Exception {
        ControlledService guava = new ControlledService("guava");
        BackgroundService b = BackgroundService.of("svc", guava);
        Handle h;
        Thread.currentThread().interrupt();
        try {
            h = b.open();
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
        assertEquals(Service.State.RUNNING, guava.state());
        h.close();
        assertEquals(Service.State.TERMINATED, guava.state());
    }

    @Test
    void of_null_throwsNamingIt() {
        assertEquals("name", assertThrows(NullPointerException.class,
                () -> BackgroundService.of(null, new ControlledService("x"))).getMessage());
        assertEquals("service", assertThrows(NullPointerException.class,
                () -> BackgroundService.of("svc", null)).getMessage());
    }

    // ---------------------------------------------------------------- ServiceManager

    /** The test: two Refkit services and one Guava service in one ServiceManager. */
    @Test
    void serviceManager_twoRefkitOneGuava_startsAndStopsThemAll() throws Exception {
        BackgroundService a = sleeper("a");
        BackgroundService b = BackgroundService.every("b", Duration.ofMillis(10), () -> { });
        ControlledService guava = new ControlledService("guava");
        ServiceManager m = new ServiceManager(List.of(a.asService(), b.asService(), guava));
        m.startAsync().awaitHealthy(Duration.ofSeconds(WAIT_S));
        assertTrue(m.isHealthy());
        assertTrue(a.isOpen() && a.isRunning());
        assertTrue(b.isOpen() && b.isRunning());
        assertEquals(Service.State.RUNNING, guava.state());
        m.stopAsync().awaitStopped(Duration.ofSeconds(WAIT_S));
        assertEquals(Set.of(Service.State.TERMINATED), m.servicesByState().keySet());
        assertTrue(a.isClosed());
        assertTrue(b.isClosed());
        assertFalse(a.isRunning() || b.isRunning());
        assertEquals(Service.State.TERMINATED, guava.state());
    }

    /** A failing Refkit service is FAILED in the manager, with its cause, and reported. */
    @Test
    void serviceManager_failingRefkitService_reportedFailedWithCause() throws Exception {
        IllegalStateException boom = new IllegalStateException("cannot start");
        BackgroundService ok = sleeper("ok");
        BackgroundService bad = failingStart("bad", boom);
        ControlledService guava = new ControlledService("guava");
        ServiceManager m = new ServiceManager(List.of(ok.asService(), bad.asService(), guava));
        List<Service> failed = new CopyOnWriteArrayList<>();
        CountDownLatch reported = new CountDownLatch(1);
        m.addListener(new ServiceManager.Listener() {
            @Override
            public void failure(Service service) {
                failed.add(service);
                reported.countDown();
            }
        }, Runnable::run);
        m.startAsync();
        assertThrows(IllegalStateException.class,
                () -> m.awaitHealthy(Duration.ofSeconds(WAIT_S)));
        await(reported);
        assertEquals(List.of(bad.asService()), failed);
        assertEquals(Set.of(bad.asService()), m.servicesByState().get(Service.State.FAILED));
        assertSame(boom, bad.asService().failureCause());
        m.stopAsync().awaitStopped(Duration.ofSeconds(WAIT_S));
        assertTrue(ok.isClosed());
        assertEquals(Service.State.TERMINATED, guava.state());
        assertEquals(MultiOpen.State.NEW, bad.state());
    }
}
