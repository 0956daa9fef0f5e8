package dev.refkit;

import static dev.refkit.TestThreads.WAIT_S;
import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Service;
import com.google.common.util.concurrent.Uninterruptibles;
import dev.refkit.internal.VirtualThreads;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link MultiOpenService}: a Guava service over any {@link MultiOpen}. */
@Timeout(60)
final class MultiOpenServiceTest {

    /** A MultiOpen whose hooks wait for their gates, count their runs and may throw. */
    private static final class Res extends MultiOpen {
        volatile CountDownLatch startupGate = new CountDownLatch(0);
        volatile CountDownLatch shutdownGate = new CountDownLatch(0);
        final CountDownLatch inStartup = new CountDownLatch(1);
        final CountDownLatch inShutdown = new CountDownLatch(1);
        volatile @Nullable Exception startupFailure;
        volatile @Nullable Exception shutdownFailure;
        final AtomicInteger startups = new AtomicInteger();
        final AtomicInteger shutdowns = new AtomicInteger();
        volatile @Nullable Thread startupThread;

        Res(String name) {
            super(name);
        }

        @Override
        protected void startup() throws Exception {
            startups.incrementAndGet();
            startupThread = Thread.currentThread();
            inStartup.countDown();
            Uninterruptibles.awaitUninterruptibly(startupGate);
            Exception f = startupFailure;
            if (f != null) {
                throw f;
            }
        }

        @Override
        protected void shutdown() throws Exception {
            shutdowns.incrementAndGet();
            inShutdown.countDown();
            Uninterruptibles.awaitUninterruptibly(shutdownGate);
            Exception f = shutdownFailure;
            if (f != null) {
                throw f;
            }
        }
    }

    private static void awaitRunning(Service s) throws Exception {
        s.awaitRunning(WAIT_S, TimeUnit.SECONDS);
    }

    private static void awaitTerminated(Service s) throws Exception {
        s.awaitTerminated(WAIT_S, TimeUnit.SECONDS);
    }

    /** Waits until {@code s} is FAILED, without the exceptions awaitTerminated throws. */
    private static Throwable awaitFailed(Service s) throws Exception {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> s.awaitTerminated(WAIT_S, TimeUnit.SECONDS));
        assertEquals(Service.State.FAILED, s.state());
        assertSame(s.failureCause(), e.getCause());
        return s.failureCause();
    }

    @Test
    void startStop_statesFollowTheOpenAndTheClose() throws Exception {
        Res r = new Res("db");
        r.startupGate = new CountDownLatch(1);
        r.shutdownGate = new CountDownLatch(1);
        MultiOpenService s = new MultiOpenService(r);
        assertEquals(Service.State.NEW, s.state());

        s.startAsync();
        await(r.inStartup);
        assertEquals(Service.State.STARTING, s.state());
        r.startupGate.countDown();
        awaitRunning(s);
        assertEquals(Service.State.RUNNING, s.state());
        assertEquals(MultiOpen.State.OPEN, r.state());
        assertEquals(1, r.openCount());

        s.stopAsync();
        await(r.inShutdown);
        assertEquals(Service.State.STOPPING, s.state());
        r.shutdownGate.countDown();
        awaitTerminated(s);
        assertEquals(Service.State.TERMINATED, s.state());
        assertEquals(MultiOpen.State.CLOSED, r.state());
        assertEquals(1, r.startups.get());
        assertEquals(1, r.shutdowns.get());
    }

    /** startAsync() returns while the open is still blocked in startup, on another thread. */
    @Test
    void startAsync_blockingStartup_doesNotBlockTheCaller() throws Exception {
        Res r = new Res("db");
        r.startupGate = new CountDownLatch(1);
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync(); // would hang here if the open ran in this thread
        await(r.inStartup);
        assertNotSame(Thread.currentThread(), r.startupThread);
        assertEquals(Service.State.STARTING, s.state());
        r.startupGate.countDown();
        awaitRunning(s);
        s.stopAsync();
        awaitTerminated(s);
    }

    @Test
    void startAsync_uncheckedStartupFailure_failedWithThatException() throws Exception {
        Res r = new Res("db");
        IllegalStateException boom = new IllegalStateException("boom");
        r.startupFailure = boom;
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        assertSame(boom, awaitFailed(s));
        assertEquals(MultiOpen.State.NEW, r.state());
    }

    /** A checked startup failure: exactly the LifecycleException that open() threw. */
    @Test
    void startAsync_checkedStartupFailure_failedWithTheOpensLifecycleException()
            throws Exception {
        Res r = new Res("db");
        IOException io = new IOException("io");
        r.startupFailure = io;
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        LifecycleException e = assertInstanceOf(LifecycleException.class, awaitFailed(s));
        assertSame(io, e.getCause());
        assertEquals("db: startup() failed", e.getMessage());
    }

    @Test
    void stopAsync_shutdownFailure_failedWithThatException() throws Exception {
        Res r = new Res("db");
        IllegalStateException boom = new IllegalStateException("shutdown boom");
        r.shutdownFailure = boom;
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        awaitRunning(s);
        s.stopAsync();
        assertSame(boom, awaitFailed(s));
        assertEquals(MultiOpen.State.CLOSED, r.state()); // closed all the same
    }

    /** stopAsync() during the open: STOPPING at once, then the open is closed once it returns. */
    @Test
    void stopAsync_whileStarting_closesAsSoonAsTheOpenReturns() throws Exception {
        Res r = new Res("db");
        r.startupGate = new CountDownLatch(1);
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        await(r.inStartup);
        s.stopAsync();
        assertEquals(Service.State.STOPPING, s.state());
        r.startupGate.countDown();
        awaitTerminated(s);
        assertEquals(MultiOpen.State.CLOSED, r.state());
        assertEquals(1, r.startups.get());
        assertEquals(1, r.shutdowns.get());
    }

    /** stopAsync() while starting, and the open fails: FAILED with that failure, no close. */
    @Test
    void stopAsync_whileStartingThenOpenFails_failed() throws Exception {
        Res r = new Res("db");
        r.startupGate = new CountDownLatch(1);
        IllegalStateException boom = new IllegalStateException("boom");
        r.startupFailure = boom;
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        await(r.inStartup);
        s.stopAsync();
        r.startupGate.countDown();
        assertSame(boom, awaitFailed(s));
        assertEquals(0, r.shutdowns.get());
    }

    @Test
    void stopAsync_beforeStart_terminatedWithoutOpening() throws Exception {
        Res r = new Res("db");
        MultiOpenService s = new MultiOpenService(r);
        s.stopAsync();
        awaitTerminated(s);
        assertEquals(0, r.startups.get());
        assertEquals(MultiOpen.State.NEW, r.state());
    }

    /** The service's open is its own: another owner's close does not shut the object down. */
    @Test
    void otherOwnersClose_whileRunning_objectStaysOpenUntilStop() throws Exception {
        Res r = new Res("db");
        Handle other = r.open();
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        awaitRunning(s);
        assertEquals(2, r.openCount());
        other.close();
        assertEquals(MultiOpen.State.OPEN, r.state());
        assertEquals(1, r.openCount());
        assertEquals(0, r.shutdowns.get());
        s.stopAsync();
        awaitTerminated(s);
        assertEquals(MultiOpen.State.CLOSED, r.state());
        assertEquals(1, r.shutdowns.get());
    }

    /** Stopping while another owner holds an open closes only the service's own. */
    @Test
    void stopAsync_otherOwnerStillOpen_objectStaysOpen() throws Exception {
        Res r = new Res("db");
        MultiOpenService s = new MultiOpenService(r);
        s.startAsync();
        awaitRunning(s);
        Handle other = r.open();
        s.stopAsync();
        awaitTerminated(s);
        assertEquals(MultiOpen.State.OPEN, r.state());
        assertEquals(1, r.openCount());
        other.close();
        assertEquals(1, r.shutdowns.get());
    }

    @Test
    void toString_namedAfterTheObject() throws Exception {
        Res r = new Res("db");
        IllegalStateException boom = new IllegalStateException("boom");
        r.shutdownFailure = boom;
        MultiOpenService s = new MultiOpenService(r);
        assertEquals("Service[db]{NEW}", s.toString());
        s.startAsync();
        awaitRunning(s);
        assertEquals("Service[db]{RUNNING}", s.toString());
        s.stopAsync();
        awaitFailed(s);
        assertEquals("Service[db]{FAILED, failure=java.lang.IllegalStateException: boom}",
                s.toString());
    }

    /** The open and the close each run on a new thread of the given factory. */
    @Test
    void threads_givenFactory_openAndCloseRunOnItsThreads() throws Exception {
        List<Thread> made = new CopyOnWriteArrayList<>();
        ThreadFactory f = job -> {
            Thread t = new Thread(job, "test-" + made.size());
            t.setDaemon(true);
            made.add(t);
            return t;
        };
        Res r = new Res("db");
        MultiOpenService s = new MultiOpenService(r, f);
        s.startAsync();
        awaitRunning(s);
        assertEquals(1, made.size());
        assertSame(made.get(0), r.startupThread);
        s.stopAsync();
        awaitTerminated(s);
        assertEquals(2, made.size());
    }

    @Test
    void threads_factoryMakesNone_failedWithRejectedExecution() throws Exception {
        Res r = new Res("db");
        MultiOpenService s = new MultiOpenService(r, job -> null);
        s.startAsync();
        Throwable e = assertInstanceOf(RejectedExecutionException.class, s.failureCause());
        assertTrue(e.getMessage().startsWith("db: "), e.getMessage());
        assertEquals(Service.State.FAILED, s.state());
        assertEquals(0, r.startups.get());
    }

    /** stopAsync() while starting, and the close's thread cannot be made: FAILED, not stuck. */
    @Test
    void stopAsync_whileStartingNoThreadForTheClose_failedNotStuckStopping() throws Exception {
        Res r = new Res("db");
        r.startupGate = new CountDownLatch(1);
        AtomicInteger made = new AtomicInteger();
        ThreadFactory once = job -> {
            if (made.incrementAndGet() > 1) {
                return null;
            }
            Thread t = new Thread(job, "test-open");
            t.setDaemon(true);
            return t;
        };
        MultiOpenService s = new MultiOpenService(r, once);
        s.startAsync();
        await(r.inStartup);
        s.stopAsync();
        r.startupGate.countDown();
        assertInstanceOf(RejectedExecutionException.class, awaitFailed(s));
    }

    /** Default threads: virtual where the JDK has them, else daemons NAME-service-N. */
    @Test
    void defaultThreads_daemonsNamedAfterTheObject() throws Exception {
        Thread t = MultiOpenService.defaultThreads("db").newThread(() -> { });
        assertTrue(t.isDaemon());
        if (VirtualThreads.available()) {
            assertTrue(VirtualThreads.isVirtual(t));
            assertEquals("db-service", t.getName());
        } else {
            assertEquals("db-service-1", t.getName());
        }
    }

    @Test
    void construct_null_throwsNamingIt() {
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> new MultiOpenService(new Res("db"), null));
        assertEquals("threads", e.getMessage());
    }
}
