package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.refkit.MultiOpen.State;
import java.io.IOException;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile tests of the documented contract of {@link MultiOpen}, {@link Shared}, {@link Handle}
 * and {@link Lease}, written from the Javadoc and docs/multiopen.md only (by a tester who had
 * not read the implementation): batches of openers behind startup and shutdown, failed
 * startups with waiters, interrupt races, random stress with failing hooks, finalizeLater,
 * hooks calling back, misuse messages. The stress loops are bounded by rounds and by about
 * one second each.
 */
@Timeout(60)
@SuppressWarnings("try")
final class MultiOpenAttackTest {

    // ------------------------------------------------------------------ fixtures

    interface Hook {
        void run() throws Exception;
    }

    /** A MultiOpen that records what its hooks saw. */
    static final class Probe extends MultiOpen {
        volatile Hook onStartup = () -> { };
        volatile Hook onShutdown = () -> { };
        volatile boolean later;
        final AtomicInteger startups = new AtomicInteger();
        final AtomicInteger startupOk = new AtomicInteger();
        final AtomicInteger shutdowns = new AtomicInteger();
        final AtomicInteger inHook = new AtomicInteger();
        final AtomicInteger violations = new AtomicInteger();
        final ConcurrentLinkedQueue<String> why = new ConcurrentLinkedQueue<>();
        volatile boolean up;
        volatile int shutdownWrote;

        Probe(String name) {
            super(name);
        }

        void violation(String s) {
            violations.incrementAndGet();
            if (why.size() < 20) {
                why.add(s);
            }
        }

        @Override
        protected void startup() throws Exception {
            if (inHook.incrementAndGet() != 1) {
                violation("startup overlaps another hook");
            }
            startups.incrementAndGet();
            try {
                if (up) {
                    violation("startup while the previous cycle is still up");
                }
                onStartup.run();
                up = true;
                startupOk.incrementAndGet();
            } finally {
                inHook.decrementAndGet();
            }
        }

        @Override
        protected void shutdown() throws Exception {
            if (inHook.incrementAndGet() != 1) {
                violation("shutdown overlaps another hook");
            }
            shutdowns.incrementAndGet();
            try {
                if (!up) {
                    violation("shutdown without a successful startup");
                }
                up = false;
                onShutdown.run();
                shutdownWrote++;
            } finally {
                inHook.decrementAndGet();
            }
        }

        @Override
        protected boolean finalizeLater() {
            return later;
        }

        void finish() {
            finalizeNow();
        }

        void guard() {
            ensureOpen();
        }

        void assertClean() {
            assertEquals(0, violations.get(), "violations: " + why);
        }
    }

    /** A thread running a body; its outcome is the value returned or the Throwable thrown. */
    static final class Async {
        final Thread thread;
        final CountDownLatch done = new CountDownLatch(1);
        volatile Object outcome;
        volatile boolean flagAtEnd;

        Async(String name, Callable<?> body) {
            thread = new Thread(() -> {
                try {
                    outcome = body.call();
                } catch (Throwable t) {
                    outcome = t;
                } finally {
                    flagAtEnd = Thread.currentThread().isInterrupted();
                    done.countDown();
                }
            }, name);
            thread.setDaemon(true);
            thread.start();
        }

        Object await() throws InterruptedException {
            if (!done.await(10, TimeUnit.SECONDS)) {
                StringBuilder sb = new StringBuilder("HANG: " + thread.getName() + " in "
                        + thread.getState() + "\n");
                for (StackTraceElement e : thread.getStackTrace()) {
                    sb.append("    at ").append(e).append('\n');
                }
                fail(sb.toString());
            }
            return outcome;
        }

        Handle handle() throws InterruptedException {
            Object o = await();
            if (o instanceof Handle) {
                return (Handle) o;
            }
            throw new AssertionError(thread.getName() + " expected a handle, got " + o,
                    o instanceof Throwable ? (Throwable) o : null);
        }

        Throwable thrown() throws InterruptedException {
            Object o = await();
            if (o instanceof Throwable) {
                return (Throwable) o;
            }
            throw new AssertionError(thread.getName() + " expected a throw, got " + o);
        }
    }

    static void waitUntil(BooleanSupplier cond, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            LockSupport.parkNanos(100_000);
        }
    }

    static void waitParked(Async a) {
        waitUntil(() -> {
            Thread.State s = a.thread.getState();
            return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
        }, a.thread.getName() + " parks");
    }

    static void await(CountDownLatch l) throws InterruptedException {
        assertTrue(l.await(10, TimeUnit.SECONDS), "latch timed out");
    }

    /** A probe whose startup blocks until released; started by an async opener. */
    static final class Blocked {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        Hook hook() {
            return () -> {
                entered.countDown();
                if (!release.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("hook never released");
                }
            };
        }

        Hook hookThen(Hook after) {
            return () -> {
                entered.countDown();
                if (!release.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("hook never released");
                }
                after.run();
            };
        }
    }

    // ------------------------------------------------ 1. waiters counted during startup

    @Test
    void waitersDuringStartup_starterClosesAtOnce_cycleSurvivesUntilEveryWaiterCloses()
            throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", () -> {
            p.open().close();
            return "closed";
        });
        await(b.entered);
        assertEquals(State.STARTING, p.state());
        List<Async> waiters = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            waiters.add(new Async("w" + i, () -> {
                Handle h = p.open();
                if (!p.up) {
                    p.violation("waiter returned while not up");
                }
                return h;
            }));
        }
        for (Async w : waiters) {
            waitParked(w);
        }
        b.release.countDown();
        assertEquals("closed", starter.await());
        List<Handle> hs = new ArrayList<>();
        for (Async w : waiters) {
            hs.add(w.handle());
        }
        assertEquals(State.OPEN, p.state());
        assertEquals(6, p.openCount());
        assertEquals(0, p.shutdowns.get());
        assertEquals(1, p.startups.get());
        for (int i = 0; i < hs.size(); i++) {
            assertTrue(p.up, "cycle ended under waiter " + i);
            hs.get(i).close();
        }
        assertEquals(1, p.shutdowns.get());
        assertEquals(State.CLOSED, p.state());
        assertEquals(0, p.openCount());
        p.assertClean();
    }

    /** Proves openCount() during startup counts the openers waiting for it. */
    @Test
    void openCount_whileStartingWithTwoWaiters_countsThem() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async w1 = new Async("w1", p::open);
        Async w2 = new Async("w2", p::open);
        waitParked(w1);
        waitParked(w2);
        int during = p.openCount();
        String str = p.toString();
        b.release.countDown();
        starter.handle().close();
        w1.handle().close();
        w2.handle().close();
        assertEquals(3, during, "openCount during STARTING with 2 waiters parked; toString=" + str);
    }

    // ------------------------------------------------ 2. failed startup with waiters

    @Test
    void failedStartup_unchecked_sameObjectToAll_noneCounted_nextOpenRetries() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        RuntimeException boom = new IllegalStateException("boom");
        p.onStartup = b.hookThen(() -> {
            throw boom;
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        List<Async> ws = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            final boolean interruptibly = i % 2 == 0;
            ws.add(new Async("w" + i, () -> interruptibly ? p.openInterruptibly() : p.open()));
        }
        for (Async w : ws) {
            waitParked(w);
        }
        b.release.countDown();
        assertSame(boom, starter.thrown());
        for (Async w : ws) {
            assertSame(boom, w.thrown(), w.thread.getName());
            assertFalse(w.flagAtEnd);
        }
        assertEquals(0, p.openCount());
        assertEquals(State.NEW, p.state());
        assertFalse(p.isClosed());
        assertTrue(p.join(Duration.ZERO), "a failed first startup leaves nothing pending");
        p.onStartup = () -> { };
        try (Handle h = p.open()) {
            assertEquals(State.OPEN, p.state());
        }
        assertEquals(2, p.startups.get());
        assertEquals(1, p.shutdowns.get());
        p.assertClean();
    }

    @Test
    void failedStartup_checked_newLifecycleExceptionEach_sameCause() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        IOException io = new IOException("disk");
        p.onStartup = b.hookThen(() -> {
            throw io;
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async w1 = new Async("w1", p::open);
        Async w2 = new Async("w2", p::openInterruptibly);
        waitParked(w1);
        waitParked(w2);
        b.release.countDown();
        Throwable t0 = starter.thrown();
        Throwable t1 = w1.thrown();
        Throwable t2 = w2.thrown();
        for (Throwable t : List.of(t0, t1, t2)) {
            assertInstanceOf(LifecycleException.class, t);
            assertEquals("db: startup() failed", t.getMessage());
            assertSame(io, t.getCause());
        }
        assertNotSame(t0, t1);
        assertNotSame(t0, t2);
        assertNotSame(t1, t2);
        assertEquals(0, p.openCount());
        assertEquals(State.NEW, p.state());
    }

    @Test
    void failedStartup_interrupted_onlyStarterGetsFlag_waitersLeftAlone() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        InterruptedException ie = new InterruptedException("stop");
        p.onStartup = b.hookThen(() -> {
            throw ie;
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async clean = new Async("clean", p::open);
        Async dirty = new Async("dirty", p::open);   // interrupted while waiting: flag stays set
        waitParked(clean);
        waitParked(dirty);
        dirty.thread.interrupt();
        waitParked(dirty);
        b.release.countDown();
        Throwable t0 = starter.thrown();
        assertInstanceOf(LifecycleException.class, t0);
        assertSame(ie, t0.getCause());
        assertTrue(starter.flagAtEnd, "starter's flag restored");
        Throwable t1 = clean.thrown();
        assertInstanceOf(LifecycleException.class, t1);
        assertSame(ie, t1.getCause());
        assertFalse(clean.flagAtEnd, "a waiter's flag must be left alone (was clear)");
        Throwable t2 = dirty.thrown();
        assertSame(ie, t2.getCause());
        assertTrue(dirty.flagAtEnd, "a waiter's flag must be left alone (was set)");
        assertEquals(0, p.openCount());
    }

    @Test
    void failedStartup_error_propagatesAsItself_objectStaysUsable() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        AssertionError err = new AssertionError("bad");
        p.onStartup = b.hookThen(() -> {
            throw err;
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async w = new Async("w", p::open);
        waitParked(w);
        b.release.countDown();
        assertSame(err, starter.thrown());
        assertSame(err, w.thrown());
        assertEquals(0, p.openCount());
        p.onStartup = () -> { };
        p.open().close();
        assertEquals(State.CLOSED, p.state());
        p.assertClean();
    }

    @Test
    void failedShutdown_error_propagates_cycleEndsClosedAndFinalized() throws Exception {
        Probe p = new Probe("db");
        AssertionError err = new AssertionError("bad shutdown");
        p.onShutdown = () -> {
            throw err;
        };
        Handle h = p.open();
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        waitParked(joiner);
        assertSame(err, assertThrows(AssertionError.class, h::close));
        assertTrue(h.isClosed());
        assertEquals("joined", joiner.await());
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.isClosed());
        h.close(); // nothing
        p.onShutdown = () -> { };
        p.open().close();
        assertEquals(2, p.startups.get());
        assertEquals(2, p.shutdowns.get());
        p.assertClean();
    }

    @Test
    void failedShutdown_checked_wrapped() {
        Probe p = new Probe("db");
        IOException io = new IOException("x");
        p.onShutdown = () -> {
            throw io;
        };
        Handle h = p.open();
        LifecycleException e = assertThrows(LifecycleException.class, h::close);
        assertSame(io, e.getCause());
        assertEquals(State.CLOSED, p.state());
    }

    // ------------------------------------------------ 3. openers during shutdown

    @Test
    void openersDuringShutdown_shareOneStartup_andStarterCloseCannotEndIt() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        Handle first = p.open();
        p.onShutdown = b.hook();
        Async closer = new Async("closer", () -> {
            first.close();
            return "closed";
        });
        await(b.entered);
        p.onShutdown = () -> { };
        assertEquals(State.SHUTTING_DOWN, p.state());
        // One of the waiters closes the moment it gets its handle.
        List<Async> ws = new ArrayList<>();
        ws.add(new Async("quick", () -> {
            p.open().close();
            return "quick";
        }));
        for (int i = 0; i < 5; i++) {
            final boolean interruptibly = i % 2 == 1;
            ws.add(new Async("w" + i, () -> interruptibly ? p.openInterruptibly() : p.open()));
        }
        for (Async w : ws) {
            waitParked(w);
        }
        b.release.countDown();
        assertEquals("closed", closer.await());
        assertEquals("quick", ws.get(0).await());
        List<Handle> hs = new ArrayList<>();
        for (Async w : ws.subList(1, ws.size())) {
            hs.add(w.handle());
        }
        assertEquals(2, p.startups.get(), "the batch behind shutdown shares one startup");
        assertEquals(1, p.shutdowns.get());
        assertEquals(5, p.openCount());
        for (Handle h : hs) {
            assertTrue(p.up);
            h.close();
        }
        assertEquals(2, p.shutdowns.get());
        p.assertClean();
    }

    @Test
    void openersDuringShutdown_nextStartupFails_allThrowSame_noneCounted() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        Handle first = p.open();
        p.onShutdown = b.hook();
        RuntimeException boom = new RuntimeException("next fails");
        Async closer = new Async("closer", () -> {
            first.close();
            return "closed";
        });
        await(b.entered);
        p.onShutdown = () -> { };
        p.onStartup = () -> {
            throw boom;
        };
        List<Async> ws = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            final boolean interruptibly = i % 2 == 1;
            ws.add(new Async("w" + i, () -> interruptibly ? p.openInterruptibly() : p.open()));
        }
        for (Async w : ws) {
            waitParked(w);
        }
        b.release.countDown();
        closer.await();
        for (Async w : ws) {
            assertSame(boom, w.thrown(), w.thread.getName());
        }
        assertEquals(2, p.startups.get(), "one failed attempt shared by the batch");
        assertEquals(0, p.openCount());
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.join(Duration.ZERO));
        p.onStartup = () -> { };
        p.open().close();
        assertEquals(3, p.startups.get());
        p.assertClean();
    }

    // ------------------------------------------------ 4. openInterruptibly

    @Test
    void openInterruptibly_interruptedWaitingOnStartup_throwsNotCounted() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async victim = new Async("victim", p::openInterruptibly);
        Async other = new Async("other", p::open);
        waitParked(victim);
        waitParked(other);
        victim.thread.interrupt();
        Throwable t = victim.thrown(); // must give up while startup still runs
        assertInstanceOf(InterruptedException.class, t);
        assertEquals("db: interrupted in openInterruptibly()", t.getMessage());
        assertFalse(victim.flagAtEnd, "flag cleared");
        b.release.countDown();
        Handle hs = starter.handle();
        Handle ho = other.handle();
        assertEquals(2, p.openCount());
        hs.close();
        assertEquals(State.OPEN, p.state());
        ho.close();
        assertEquals(State.CLOSED, p.state());
        assertEquals(0, p.openCount());
        assertEquals(1, p.shutdowns.get());
        p.assertClean();
    }

    @Test
    void openInterruptibly_dueStarterInterruptedBehindShutdown_anotherWaiterRunsIt()
            throws Exception {
        for (int variant = 0; variant < 3; variant++) {
            Probe p = new Probe("db" + variant);
            Blocked b = new Blocked();
            Handle first = p.open();
            p.onShutdown = b.hook();
            Async closer = new Async("closer", () -> {
                first.close();
                return "closed";
            });
            await(b.entered);
            p.onShutdown = () -> { };
            Async t1 = new Async("t1", p::openInterruptibly);
            waitParked(t1);
            Async t2 = new Async("t2", p::openInterruptibly);
            waitParked(t2);
            Async t3 = new Async("t3", p::open);
            waitParked(t3);
            t1.thread.interrupt();
            if (variant >= 1) {
                t2.thread.interrupt();
            }
            Throwable e1 = t1.thrown();
            assertInstanceOf(InterruptedException.class, e1);
            assertEquals("db" + variant + ": interrupted in openInterruptibly()", e1.getMessage());
            if (variant >= 1) {
                assertInstanceOf(InterruptedException.class, t2.thrown());
            }
            if (variant == 2) {
                // interrupt t3 too: open() must not give up
                t3.thread.interrupt();
            }
            b.release.countDown();
            closer.await();
            int expect = 1;
            t3.handle();
            if (variant == 0) {
                t2.handle();
                expect = 2;
            }
            if (variant == 2) {
                assertTrue(t3.flagAtEnd, "open() keeps the flag set");
            }
            assertEquals(2, p.startups.get(), "variant " + variant);
            assertEquals(expect, p.openCount(), "variant " + variant);
            assertEquals(State.OPEN, p.state());
            p.assertClean();
        }
    }

    @Test
    void openInterruptibly_onlyWaiterBehindShutdownInterrupted_nothingChanges() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        Handle first = p.open();
        p.onShutdown = b.hook();
        Async closer = new Async("closer", () -> {
            first.close();
            return "closed";
        });
        await(b.entered);
        p.onShutdown = () -> { };
        Async t1 = new Async("t1", p::openInterruptibly);
        waitParked(t1);
        t1.thread.interrupt();
        assertInstanceOf(InterruptedException.class, t1.thrown());
        b.release.countDown();
        closer.await();
        assertEquals(State.CLOSED, p.state());
        assertEquals(0, p.openCount());
        assertEquals(1, p.startups.get());
        assertTrue(p.join(Duration.ofSeconds(5)));
        p.open().close();
        assertEquals(2, p.startups.get());
        p.assertClean();
    }

    @Test
    void openInterruptibly_interruptedOnEntry_throwsEvenWhenOpenOrNew() {
        Probe p = new Probe("db");
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, p::openInterruptibly);
        assertEquals("db: interrupted in openInterruptibly()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(0, p.startups.get());
        assertEquals(State.NEW, p.state());
        Handle h = p.open();
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, p::openInterruptibly);
        assertFalse(Thread.interrupted());
        assertEquals(1, p.openCount());
        h.close();
    }

    @Test
    void open_withFlagSet_runsAndKeepsFlag() {
        Probe p = new Probe("db");
        Thread.currentThread().interrupt();
        Handle h = p.open();
        assertTrue(Thread.interrupted());
        h.close();
    }

    /** Interrupt racing the end of the startup the opener waits for: handle with flag, or IE. */
    @Test
    void openInterruptibly_interruptRacesStartupEnd_countMatchesHandles() throws Exception {
        int handlesWithFlag = 0;
        int ies = 0;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 400) {
            rounds++;
            Probe p = new Probe("db");
            Blocked b = new Blocked();
            p.onStartup = b.hook();
            Async starter = new Async("starter", p::open);
            await(b.entered);
            AtomicBoolean sent = new AtomicBoolean();
            Async v = new Async("v", () -> {
                Handle h = p.openInterruptibly();
                while (!sent.get()) { // the interrupt may land after the return: wait for it
                    Thread.yield();
                }
                return h;
            });
            waitParked(v);
            CyclicBarrier go = new CyclicBarrier(2);
            Thread interrupter = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    return;
                }
                if (ThreadLocalRandom.current().nextBoolean()) {
                    Thread.onSpinWait();
                }
                v.thread.interrupt();
                sent.set(true);
            });
            interrupter.start();
            go.await();
            b.release.countDown();
            interrupter.join();
            Handle hs = starter.handle();
            Object o = v.await();
            if (o instanceof Handle) {
                assertEquals(2, p.openCount());
                handlesWithFlag++;
                assertTrue(v.flagAtEnd, "returned handle after interrupt: flag set");
                ((Handle) o).close();
            } else {
                assertInstanceOf(InterruptedException.class, o);
                assertFalse(v.flagAtEnd);
                assertEquals(1, p.openCount(), "an interrupted opener is not counted");
                ies++;
            }
            hs.close();
            assertEquals(0, p.openCount());
            assertEquals(State.CLOSED, p.state());
            assertEquals(1, p.startups.get());
            assertEquals(1, p.shutdowns.get());
            p.assertClean();
        }
    }

    /** The opener due to run the next startup is interrupted just as shutdown ends. */
    @Test
    void openInterruptibly_dueStarterInterruptedAsShutdownEnds_noHangNoLoss() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 400) {
            rounds++;
            Probe p = new Probe("db");
            Blocked b = new Blocked();
            Handle first = p.open();
            p.onShutdown = b.hook();
            Async closer = new Async("closer", () -> {
                first.close();
                return "closed";
            });
            await(b.entered);
            p.onShutdown = () -> { };
            Async t1 = new Async("t1", p::openInterruptibly);
            waitParked(t1);
            Async t2 = new Async("t2", p::openInterruptibly);
            waitParked(t2);
            CyclicBarrier go = new CyclicBarrier(2);
            Thread interrupter = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    return;
                }
                t1.thread.interrupt();
            });
            interrupter.start();
            go.await();
            b.release.countDown();
            interrupter.join();
            closer.await();
            int handles = 0;
            for (Async a : List.of(t1, t2)) {
                Object o = a.await();
                if (o instanceof Handle) {
                    handles++;
                } else if (o instanceof InterruptedException) {
                    assertFalse(a.flagAtEnd);
                } else {
                    throw new AssertionError(a.thread.getName() + " got " + o, (Throwable) o);
                }
            }
            assertTrue(t2.await() instanceof Handle, "t2 was never interrupted");
            assertEquals(handles, p.openCount());
            assertEquals(2, p.startups.get());
            assertEquals(State.OPEN, p.state());
            ((Handle) t2.await()).close();
            if (t1.await() instanceof Handle) {
                ((Handle) t1.await()).close();
            }
            assertEquals(State.CLOSED, p.state());
            assertEquals(0, p.openCount());
            p.assertClean();
        }
    }

    // ------------------------------------------------ 5. stress

    /**
     * Threads barrier-open-close for many rounds with random startup and shutdown failures
     * (unchecked, checked, Error), a random mix of open and openInterruptibly, and an
     * interrupter. Every handle returned must be closable exactly once, the cycle must be up
     * while any handle is held, hooks must never overlap, and the object must end with count 0.
     */
    @Test
    void stress_randomFailuresAndInterrupts() throws Exception {
        runStress(4, false);
    }

    @Test
    void stress_randomFailuresAndInterrupts_virtualThreads() throws Exception {
        Assumptions.assumeTrue(Runtime.version().feature() >= 21, "needs JDK 21+");
        runStress(64, true);
    }

    private static Thread startThread(boolean virtual, String name, Runnable r) throws Exception {
        if (virtual) {
            Method m = Thread.class.getMethod("startVirtualThread", Runnable.class);
            return (Thread) m.invoke(null, r);
        }
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void runStress(int threads, boolean virtual) throws Exception {
        Probe p = new Probe("stress");
        AtomicBoolean stop = new AtomicBoolean();
        p.onStartup = () -> {
            int r = ThreadLocalRandom.current().nextInt(20);
            Thread.yield();
            if (r == 0) {
                throw new IllegalStateException("startup unchecked");
            } else if (r == 1) {
                throw new IOException("startup checked");
            } else if (r == 2) {
                throw new AssertionError("startup error");
            }
        };
        p.onShutdown = () -> {
            int r = ThreadLocalRandom.current().nextInt(20);
            Thread.yield();
            if (r == 0) {
                throw new IllegalStateException("shutdown unchecked");
            } else if (r == 1) {
                throw new IOException("shutdown checked");
            }
        };
        AtomicInteger opened = new AtomicInteger();
        AtomicInteger failedOpen = new AtomicInteger();
        AtomicInteger interrupted = new AtomicInteger();
        AtomicInteger negative = new AtomicInteger();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        CyclicBarrier barrier = new CyclicBarrier(threads);
        List<Thread> ts = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(threads);
        for (int i = 0; i < threads; i++) {
            ts.add(startThread(virtual, "s" + i, () -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                try {
                    for (int round = 0; !stop.get(); round++) {
                        try {
                            if (round % 16 == 0) {
                                barrier.await(10, TimeUnit.SECONDS);
                            }
                        } catch (Exception e) {
                            // broken barrier when stopping: carry on without it
                        }
                        Thread.interrupted();
                        Handle h;
                        try {
                            h = rnd.nextBoolean() ? p.openInterruptibly() : p.open();
                        } catch (InterruptedException e) {
                            interrupted.incrementAndGet();
                            if (!"stress: interrupted in openInterruptibly()".equals(e.getMessage())) {
                                unexpected.add(e);
                            }
                            continue;
                        } catch (IllegalStateException | LifecycleException | AssertionError e) {
                            String m = String.valueOf(e.getMessage());
                            if (!m.startsWith("startup") && !m.equals("stress: startup() failed")) {
                                unexpected.add(e);
                            }
                            failedOpen.incrementAndGet();
                            continue;
                        }
                        opened.incrementAndGet();
                        if (!p.up) {
                            p.violation("holding an open but the cycle is not up, state "
                                    + p.state());
                        }
                        if (p.openCount() <= 0) {
                            negative.incrementAndGet();
                        }
                        try {
                            p.guard();
                        } catch (ClosedException e) {
                            p.violation("ensureOpen failed while holding: " + e.getMessage());
                        }
                        if (rnd.nextInt(4) == 0) {
                            Thread.yield();
                        }
                        try {
                            h.close();
                        } catch (IllegalStateException | LifecycleException e) {
                            String m = String.valueOf(e.getMessage());
                            if (!m.startsWith("shutdown") && !m.equals("stress: shutdown() failed")) {
                                unexpected.add(e);
                            }
                        }
                        h.close(); // second close: nothing
                        if (p.openCount() < 0) {
                            negative.incrementAndGet();
                        }
                    }
                } catch (Throwable t) {
                    unexpected.add(t);
                } finally {
                    done.countDown();
                }
            }));
        }
        Thread interrupter = startThread(false, "interrupter", () -> {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            while (!stop.get()) {
                ts.get(rnd.nextInt(ts.size())).interrupt();
                LockSupport.parkNanos(rnd.nextInt(20_000, 200_000));
            }
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (System.nanoTime() < end) {
            if (p.openCount() < 0) {
                negative.incrementAndGet();
            }
            LockSupport.parkNanos(1_000_000);
        }
        stop.set(true);
        barrier.reset();
        interrupter.join(10_000);
        if (!done.await(15, TimeUnit.SECONDS)) {
            StringBuilder sb = new StringBuilder("HANG in stress; state " + p + "\n");
            for (Thread t : ts) {
                if (t.isAlive()) {
                    sb.append(t).append(' ').append(t.getState()).append('\n');
                    for (StackTraceElement e : t.getStackTrace()) {
                        sb.append("    at ").append(e).append('\n');
                    }
                }
            }
            fail(sb.toString());
        }
        assertTrue(unexpected.isEmpty(), () -> "unexpected: " + unexpected.peek() + " of "
                + unexpected.size());
        assertEquals(0, negative.get(), "count seen negative");
        p.assertClean();
        assertEquals(0, p.openCount(), p.toString());
        assertTrue(p.state() == State.CLOSED || p.state() == State.NEW, p.toString());
        assertEquals(p.startupOk.get(), p.shutdowns.get(), "every successful startup shut down once");
        assertTrue(p.join(Duration.ofSeconds(5)), "join hangs at the end: " + p);
        assertTrue(opened.get() > 0);
    }

    /** Batches of threads released at once: overlapping batches run startup once. */
    @Test
    void batchOfOpeners_runStartupOncePerBatch() throws Exception {
        for (int round = 0; round < 50; round++) {
            Probe p = new Probe("batch");
            Blocked b = new Blocked();
            p.onStartup = b.hook();
            Async starter = new Async("starter", () -> {
                p.open().close();
                return "x";
            });
            await(b.entered);
            List<Async> ws = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                ws.add(new Async("w" + i, () -> {
                    p.open().close();
                    return "x";
                }));
            }
            for (Async w : ws) {
                waitParked(w);
            }
            b.release.countDown();
            starter.await();
            for (Async w : ws) {
                assertEquals("x", w.await());
            }
            assertEquals(1, p.startups.get(), "round " + round);
            assertEquals(1, p.shutdowns.get(), "round " + round);
            p.assertClean();
        }
    }

    // ------------------------------------------------ 6. finalizeLater / join

    @Test
    void finalizeLater_reopenMovesPendingFinalization() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        p.open().close();
        assertEquals(State.FINALIZING, p.state());
        assertTrue(p.isClosed());
        assertFalse(p.join(Duration.ZERO));
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        waitParked(joiner);
        Handle h = p.open();
        assertEquals(State.OPEN, p.state());
        IllegalStateException e = assertThrows(IllegalStateException.class, p::finish);
        assertTrue(e.getMessage().contains("OPEN"), e.getMessage());
        assertFalse(p.join(Duration.ofMillis(20)));
        assertTrue(joiner.thread.isAlive());
        h.close();
        assertEquals(State.FINALIZING, p.state());
        assertTrue(joiner.thread.isAlive());
        p.finish();
        assertEquals("joined", joiner.await());
        assertEquals(State.CLOSED, p.state());
        assertThrows(IllegalStateException.class, p::finish);
        p.assertClean();
    }

    @Test
    void finalizeLater_failedStartupFromFinalizing_goesBackToFinalizing() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        p.open().close();
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        waitParked(joiner);
        RuntimeException boom = new RuntimeException("boom");
        p.onStartup = () -> {
            throw boom;
        };
        assertSame(boom, assertThrows(RuntimeException.class, p::open));
        assertEquals(State.FINALIZING, p.state());
        assertTrue(joiner.thread.isAlive());
        assertFalse(p.join(Duration.ofMillis(20)));
        p.finish();
        assertEquals("joined", joiner.await());
        assertEquals(State.CLOSED, p.state());
    }

    @Test
    void finalizeNow_duringStartupFromFinalizing_blocksThenThrows() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        p.open().close();
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async opener = new Async("opener", p::open);
        await(b.entered);
        assertEquals(State.STARTING, p.state());
        Async fin = new Async("fin", () -> {
            p.finish();
            return "finished";
        });
        waitParked(fin);
        b.release.countDown();
        Handle h = opener.handle();
        Object o = fin.await();
        assertInstanceOf(IllegalStateException.class, o, "finalizeNow after reopen: " + o);
        h.close();
        p.finish();
        assertTrue(p.join(Duration.ZERO));
    }

    @Test
    void finalizeNow_racesOpen_fromFinalizing() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        int finWon = 0;
        int openWon = 0;
        while (System.nanoTime() < end && rounds < 2000) {
            rounds++;
            Probe p = new Probe("db");
            p.later = true;
            p.open().close();
            CyclicBarrier go = new CyclicBarrier(2);
            Async fin = new Async("fin", () -> {
                go.await();
                p.finish();
                return "finished";
            });
            Async op = new Async("op", () -> {
                go.await();
                return p.open();
            });
            Handle h = op.handle();
            Object f = fin.await();
            if ("finished".equals(f)) {
                finWon++;
            } else {
                assertInstanceOf(IllegalStateException.class, f);
                openWon++;
                assertFalse(p.join(Duration.ZERO), "reopened: the finalization is pending");
            }
            assertEquals(State.OPEN, p.state());
            h.close();
            if (p.state() == State.FINALIZING) {
                p.finish();
            }
            assertEquals(State.CLOSED, p.state());
            assertTrue(p.join(Duration.ZERO));
            p.assertClean();
        }
    }

    @Test
    void join_semantics() throws Exception {
        Probe p = new Probe("db");
        assertTrue(p.join(Duration.ZERO));
        p.join();
        Thread.currentThread().interrupt();
        InterruptedException ie = assertThrows(InterruptedException.class, p::join);
        assertEquals("db: interrupted in join()", ie.getMessage());
        assertFalse(Thread.interrupted());
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, () -> p.join(Duration.ZERO));
        assertFalse(Thread.interrupted());
        assertThrows(IllegalArgumentException.class, () -> p.join(Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> p.join(null));

        Handle h = p.open();
        assertFalse(p.join(Duration.ZERO));
        int[] seen = new int[1];
        Async joiner = new Async("joiner", () -> {
            p.join();
            seen[0] = p.shutdownWrote;
            return "joined";
        });
        waitParked(joiner);
        h.close();
        assertEquals("joined", joiner.await());
        assertEquals(1, seen[0]);
    }

    @Test
    void join_duringFirstStartup_waits_andFailedStartupEndsTheWait() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hookThen(() -> {
            throw new RuntimeException("no");
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        boolean zero = p.join(Duration.ZERO);
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        b.release.countDown();
        starter.thrown();
        assertEquals("joined", joiner.await());
    }

    // ------------------------------------------------ 7. hooks calling back

    @Test
    void hooksCallingBack_throwIllegalState_neverDeadlock() throws Exception {
        Probe p = new Probe("db");
        List<String> inStartup = Collections.synchronizedList(new ArrayList<>());
        List<String> inShutdown = Collections.synchronizedList(new ArrayList<>());
        p.onStartup = () -> {
            inStartup.add("open:" + msg(() -> p.open()));
            inStartup.add("openI:" + msg(() -> p.openInterruptibly()));
            inStartup.add("close:" + msg(() -> p.close()));
            inStartup.add("closeFinal:" + msg(() -> p.closeFinal()));
            inStartup.add("closeIfOpen:" + msg(() -> p.closeIfOpen()));
            inStartup.add("join:" + msg(() -> p.join()));
            inStartup.add("joinD:" + msg(() -> p.join(Duration.ofSeconds(1))));
            inStartup.add("finalizeNow:" + msg(() -> p.finish()));
            inStartup.add("ensureOpen:" + msg(() -> p.guard()));
            inStartup.add("state:" + p.state() + " " + p);
        };
        p.onShutdown = () -> {
            inShutdown.add("open:" + msg(() -> p.open()));
            inShutdown.add("openI:" + msg(() -> p.openInterruptibly()));
            inShutdown.add("close:" + msg(() -> p.close()));
            inShutdown.add("closeFinal:" + msg(() -> p.closeFinal()));
            inShutdown.add("closeIfOpen:" + msg(() -> p.closeIfOpen()));
            inShutdown.add("join:" + msg(() -> p.join()));
            inShutdown.add("joinD:" + msg(() -> p.join(Duration.ofSeconds(1))));
            inShutdown.add("ensureOpen:" + msg(() -> p.guard()));
            inShutdown.add("state:" + p.state() + " " + p);
        };
        Async a = new Async("a", () -> {
            Handle h = p.open();
            assertEquals(1, p.openCount());
            assertEquals(State.OPEN, p.state());
            h.close();
            return "ok";
        });
        Object o = a.await();
        if (o instanceof Throwable) {
            throw new AssertionError("open/close with calling-back hooks failed", (Throwable) o);
        }
        assertEquals("open:IllegalStateException db: open() called from inside startup()",
                inStartup.get(0));
        assertTrue(inStartup.get(1).startsWith("openI:IllegalStateException db: "), inStartup.get(1));
        assertTrue(inStartup.get(2).startsWith("close:IllegalStateException db: "), inStartup.get(2));
        assertTrue(inStartup.get(3).startsWith("closeFinal:IllegalStateException db: "),
                inStartup.get(3));
        assertTrue(inStartup.get(4).startsWith("closeIfOpen:IllegalStateException db: "),
                inStartup.get(4));
        assertTrue(inStartup.get(5).startsWith("join:IllegalStateException db: "), inStartup.get(5));
        assertTrue(inStartup.get(6).startsWith("joinD:IllegalStateException db: "), inStartup.get(6));
        assertTrue(inStartup.get(7).startsWith("finalizeNow:IllegalStateException"),
                inStartup.get(7));
        assertEquals("ensureOpen:ok", inStartup.get(8));
        assertEquals("open:IllegalStateException db: open() called from inside shutdown()",
                inShutdown.get(0));
        assertTrue(inShutdown.get(1).startsWith("openI:IllegalStateException db: "),
                inShutdown.get(1));
        assertEquals("close:IllegalStateException db: close() called from inside shutdown()",
                inShutdown.get(2));
        assertTrue(inShutdown.get(3).startsWith("closeFinal:IllegalStateException db: "),
                inShutdown.get(3));
        assertEquals("closeIfOpen:ok false", inShutdown.get(4));
        assertTrue(inShutdown.get(5).startsWith("join:IllegalStateException db: "),
                inShutdown.get(5));
        assertTrue(inShutdown.get(6).startsWith("joinD:IllegalStateException db: "),
                inShutdown.get(6));
        assertEquals("ensureOpen:ok", inShutdown.get(7));
        assertEquals(State.CLOSED, p.state());
        assertEquals(0, p.openCount());
        assertEquals(1, p.startups.get());
        assertEquals(1, p.shutdowns.get());
        // and it still works
        p.onStartup = () -> { };
        p.onShutdown = () -> { };
        p.open().close();
        p.assertClean();
    }

    interface Call {
        Object call() throws Exception;
    }

    interface VCall {
        void call() throws Exception;
    }

    static String msg(VCall c) {
        return msg(() -> {
            c.call();
            return null;
        });
    }

    static String msg(Call c) {
        try {
            Object r = c.call();
            return "ok" + (r == null ? "" : " " + r);
        } catch (Throwable t) {
            return t.getClass().getSimpleName() + " " + t.getMessage();
        }
    }

    @Test
    void hookRethrowsReentryException_isAStartupFailure_objectUsable() throws Exception {
        Probe p = new Probe("db");
        p.onStartup = () -> p.open();
        Async a = new Async("a", p::open);
        Throwable t = a.thrown();
        assertInstanceOf(IllegalStateException.class, t);
        assertEquals("db: open() called from inside startup()", t.getMessage());
        assertEquals(0, p.openCount());
        assertEquals(State.NEW, p.state());
        p.onStartup = () -> { };
        p.open().close();
    }

    @Test
    void finalizeNowInsideShutdown_finalizesWhateverFinalizeLaterSays() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        p.onShutdown = p::finish;
        p.open().close();
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.join(Duration.ZERO));
        assertThrows(IllegalStateException.class, p::finish);
        p.assertClean();
    }

    // ------------------------------------------------ 8. misuse and handles

    @Test
    void misuseMessages() {
        Probe p = new Probe("db");
        assertEquals("db: close() before any open()",
                assertThrows(IllegalStateException.class, p::close).getMessage());
        assertFalse(p.closeIfOpen());
        assertEquals("db: not yet opened",
                assertThrows(ClosedException.class, p::guard).getMessage());
        assertEquals("MultiOpen[db]{NEW, count=0}", p.toString());
        p.open();
        p.open();
        p.open();
        assertEquals("MultiOpen[db]{OPEN, count=3}", p.toString());
        assertEquals("db: closeFinal() but 2 opens remain",
                assertThrows(IllegalStateException.class, p::closeFinal).getMessage());
        assertEquals(2, p.openCount());
        assertEquals("db: closeFinal() but 1 open remains",
                assertThrows(IllegalStateException.class, p::closeFinal).getMessage());
        assertEquals(1, p.openCount());
        p.closeFinal();
        assertEquals(State.CLOSED, p.state());
        assertEquals("db: close() without a matching open()",
                assertThrows(IllegalStateException.class, p::close).getMessage());
        assertFalse(p.closeIfOpen());
        assertEquals("db: already closed",
                assertThrows(ClosedException.class, p::guard).getMessage());
        assertEquals(0, p.openCount());
        assertEquals(1, p.shutdowns.get());
        p.assertClean();
    }

    @Test
    void closeAfterFailedFirstStartup_isBeforeAnyOpen() {
        Probe p = new Probe("db");
        p.onStartup = () -> {
            throw new RuntimeException("x");
        };
        assertThrows(RuntimeException.class, p::open);
        assertEquals("db: close() before any open()",
                assertThrows(IllegalStateException.class, p::close).getMessage());
        assertEquals(0, p.openCount());
    }

    @Test
    void handle_doubleCloseFromTwoThreads_closesOnce() throws Exception {
        Probe p = new Probe("db");
        Handle keep = p.open();
        for (int round = 0; round < 2000; round++) {
            Handle h = p.open();
            CyclicBarrier go = new CyclicBarrier(2);
            Async a = new Async("a", () -> {
                go.await();
                h.close();
                return "a";
            });
            go.await();
            h.close();
            a.await();
            assertTrue(h.isClosed());
            assertEquals(1, p.openCount(), "round " + round);
        }
        keep.close();
        assertEquals(0, p.openCount());
        assertEquals(State.CLOSED, p.state());
    }

    @Test
    void closeIfOpen_racesClose_atCountOne_exactlyOneWins() throws Exception {
        for (int round = 0; round < 1000; round++) {
            Probe p = new Probe("db");
            p.open();
            CyclicBarrier go = new CyclicBarrier(2);
            Async a = new Async("a", () -> {
                go.await();
                return p.closeIfOpen();
            });
            go.await();
            boolean mine = p.closeIfOpen();
            Object theirs = a.await();
            assertTrue(mine ^ (Boolean) theirs, "round " + round + ": " + mine + " " + theirs);
            assertEquals(1, p.shutdowns.get());
            assertEquals(0, p.openCount());
        }
    }

    /** A stray close() from another thread while startup runs must not run shutdown then. */
    @Test
    void strayCloseDuringStartup_neverOverlapsHooks() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async stray = new Async("stray", () -> {
            p.close();
            return "closed";
        });
        // it may block or throw; it must not run shutdown now
        stray.done.await(200, TimeUnit.MILLISECONDS);
        assertEquals(0, p.shutdowns.get(), "shutdown ran during startup");
        b.release.countDown();
        Object s = starter.await();
        Object r = stray.await();
        assertTrue(p.openCount() >= 0);
        p.assertClean();
    }

    @Test
    void toStringAndStateNeverBlockDuringHooks() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", p::open);
        await(b.entered);
        Async look = new Async("look", () -> p.toString() + " " + p.state() + " " + p.isOpen()
                + " " + p.isClosed() + " " + p.openCount());
        assertEquals("MultiOpen[db]{STARTING, count=1} STARTING false false 1", look.await());
        b.release.countDown();
        starter.handle().close();
    }

    /** Proves closeFinal() at count 0 throws close()'s misuse message, naming closeFinal(). */
    @Test
    void closeFinal_atZero_throwsWithoutMatchingOpen() {
        Probe p = new Probe("db");
        p.open().close();
        assertEquals("db: closeFinal() without a matching open()",
                assertThrows(IllegalStateException.class, p::closeFinal).getMessage());
    }

    /** Openers arrive (not parked yet) just as startup returns and the starter closes at once. */
    @Test
    void race_openersArriveAsStartupEnds_starterClosesAtOnce() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 500) {
            rounds++;
            Probe p = new Probe("db");
            Blocked b = new Blocked();
            p.onStartup = b.hook();
            Async starter = new Async("starter", () -> {
                p.open().close();
                return "x";
            });
            await(b.entered);
            p.onStartup = () -> { };
            int k = 3;
            CyclicBarrier go = new CyclicBarrier(k + 1);
            List<Async> ws = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                ws.add(new Async("w" + i, () -> {
                    go.await();
                    Handle h = p.open();
                    if (!p.up) {
                        p.violation("returned while not up: " + p);
                    }
                    Thread.yield();
                    if (!p.up) {
                        p.violation("cycle ended under a holder: " + p);
                    }
                    h.close();
                    return "x";
                }));
            }
            go.await();
            b.release.countDown();
            starter.await();
            for (Async w : ws) {
                assertEquals("x", w.await());
            }
            assertEquals(p.startupOk.get(), p.shutdowns.get());
            assertEquals(0, p.openCount());
            assertEquals(State.CLOSED, p.state());
            p.assertClean();
        }
    }

    /** New opens racing a failing startup: either the failure (joined it) or a fresh attempt. */
    @Test
    void race_opensRacingFailedStartup_getFailureOrFreshCycle() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        int gotFailure = 0;
        int gotHandle = 0;
        while (System.nanoTime() < end && rounds < 500) {
            rounds++;
            Probe p = new Probe("db");
            Blocked b = new Blocked();
            RuntimeException boom = new RuntimeException("boom");
            AtomicInteger attempt = new AtomicInteger();
            p.onStartup = () -> {
                if (attempt.incrementAndGet() == 1) {
                    b.entered.countDown();
                    b.release.await();
                    throw boom;
                }
            };
            Async starter = new Async("starter", p::open);
            await(b.entered);
            int k = 3;
            CyclicBarrier go = new CyclicBarrier(k + 1);
            List<Async> ws = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                ws.add(new Async("w" + i, () -> {
                    go.await();
                    return p.open();
                }));
            }
            go.await();
            b.release.countDown();
            assertSame(boom, starter.thrown());
            List<Handle> hs = new ArrayList<>();
            for (Async w : ws) {
                Object o = w.await();
                if (o instanceof Handle) {
                    hs.add((Handle) o);
                    gotHandle++;
                } else {
                    assertSame(boom, o);
                    gotFailure++;
                }
            }
            assertEquals(hs.size(), p.openCount(), p.toString());
            assertEquals(hs.isEmpty() ? State.NEW : State.OPEN, p.state());
            assertTrue(p.startups.get() <= 2, "startups " + p.startups);
            for (Handle h : hs) {
                h.close();
            }
            assertEquals(0, p.openCount());
            p.assertClean();
        }
    }

    @Test
    void shared_acquireInterruptibly_interruptedOnEntry() {
        Shared<Val> s = Shared.of("q", Val::new);
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, s::acquireInterruptibly);
        assertFalse(Thread.interrupted());
        assertEquals(0, s.openCount());
        assertEquals(State.NEW, s.state());
    }

    /** The waiters are counted the moment they arrive: the starter's closeFinal() must see them. */
    @Test
    void starterCloseFinalRightAfterStartup_seesParkedWaitersAsRemainingOpens() throws Exception {
        Probe p = new Probe("db");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", () -> {
            p.open();
            p.closeFinal();
            return "final";
        });
        await(b.entered);
        Async w1 = new Async("w1", p::open);
        Async w2 = new Async("w2", p::open);
        waitParked(w1);
        waitParked(w2);
        b.release.countDown();
        Object o = starter.await();
        Handle h1 = w1.handle();
        Handle h2 = w2.handle();
        assertInstanceOf(IllegalStateException.class, o, "closeFinal must see 2 opens: " + o);
        assertEquals("db: closeFinal() but 2 opens remain", ((Throwable) o).getMessage());
        assertEquals(0, p.shutdowns.get());
        h1.close();
        h2.close();
        assertEquals(1, p.shutdowns.get());
        p.assertClean();
    }

    /** A MultiOpen with call-site tracing on. */
    static final class Traced extends MultiOpen {
        final Blocked b = new Blocked();
        volatile boolean block;

        Traced() {
            super("tr", true);
        }

        @Override
        protected void startup() throws Exception {
            if (block) {
                b.hook().run();
            }
        }
    }

    @Test
    void tracing_namesWaitersCountedDuringStartup() throws Exception {
        Traced t = new Traced();
        t.block = true;
        Async starter = new Async("starter", t::open);
        await(t.b.entered);
        Async w1 = new Async("tw1", t::open);
        waitParked(w1);
        t.b.release.countDown();
        Handle hs = starter.handle();
        Handle h1 = w1.handle();
        String str = t.toString();
        assertTrue(str.contains("starter") && str.contains("tw1"), str);
        hs.close();
        String after = t.toString();
        assertTrue(after.contains("tw1") && !after.contains("[starter]"), after);
        h1.close();
    }

    @Test
    void tracing_closeWithoutMatchingOpen_namesLastClose() {
        Traced t = new Traced();
        t.open();
        t.open();
        IllegalStateException e = assertThrows(IllegalStateException.class, t::closeFinal);
        assertTrue(e.getMessage().startsWith("tr: closeFinal() but 1 open remains"), e.getMessage());
        t.close();
        e = assertThrows(IllegalStateException.class, t::close);
        assertTrue(e.getMessage().startsWith("tr: close() without a matching open() (last close at "),
                e.getMessage());
    }

    @Test
    void openInterruptibly_ownStartupThrowsInterrupted_lifecycleExceptionAndFlagSet() {
        Probe p = new Probe("db");
        InterruptedException ie = new InterruptedException("own");
        p.onStartup = () -> {
            throw ie;
        };
        Throwable t = assertThrows(Throwable.class, p::openInterruptibly);
        boolean flag = Thread.interrupted();
        assertInstanceOf(LifecycleException.class, t, "got " + t);
        assertSame(ie, t.getCause());
        assertTrue(flag, "the thread that ran startup gets its flag set");
        assertEquals(0, p.openCount());
    }

    @Test
    void open_flagSetBefore_startupThrowsUnchecked_flagStillSet() {
        Probe p = new Probe("db");
        p.onStartup = () -> {
            throw new IllegalStateException("x");
        };
        Thread.currentThread().interrupt();
        assertThrows(IllegalStateException.class, p::open);
        assertTrue(Thread.interrupted(), "open() leaves the interrupt flag alone");
    }

    @Test
    void join_duringFailingStartupOfLaterCycle_returns() throws Exception {
        Probe p = new Probe("db");
        p.open().close();
        Blocked b = new Blocked();
        p.onStartup = b.hookThen(() -> {
            throw new RuntimeException("no");
        });
        Async starter = new Async("starter", p::open);
        await(b.entered);
        boolean zero = p.join(Duration.ZERO);
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        b.release.countDown();
        starter.thrown();
        assertEquals("joined", joiner.await());
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.isClosed());
    }

    @Test
    void finalizeLater_openersBehindShutdown_joinerWaitsForNextCycle() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        Handle h = p.open();
        Blocked b = new Blocked();
        p.onShutdown = b.hook();
        Async closer = new Async("closer", () -> {
            h.close();
            return "closed";
        });
        await(b.entered);
        p.onShutdown = () -> { };
        Async joiner = new Async("joiner", () -> {
            p.join();
            return "joined";
        });
        Async w = new Async("w", p::open);
        waitParked(w);
        waitParked(joiner);
        b.release.countDown();
        closer.await();
        Handle hw = w.handle();
        assertEquals(State.OPEN, p.state());
        assertFalse(joiner.done.await(50, TimeUnit.MILLISECONDS), "joiner released by a reopened cycle");
        hw.close();
        assertEquals(State.FINALIZING, p.state());
        p.finish();
        assertEquals("joined", joiner.await());
        p.assertClean();
    }

    @Test
    void finalizeNow_fromOtherThreadDuringShutdown_blocksThenFinalizes() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        Handle h = p.open();
        Blocked b = new Blocked();
        p.onShutdown = b.hook();
        Async closer = new Async("closer", () -> {
            h.close();
            return "closed";
        });
        await(b.entered);
        Async fin = new Async("fin", () -> {
            p.finish();
            return "finished";
        });
        waitParked(fin);
        assertEquals(State.SHUTTING_DOWN, p.state());
        b.release.countDown();
        closer.await();
        assertEquals("finished", fin.await());
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.join(Duration.ZERO));
    }

    @Test
    void failedShutdown_withFinalizeLater_stillEndsClosedAndFinalized() throws Exception {
        Probe p = new Probe("db");
        p.later = true;
        p.onShutdown = () -> {
            throw new IllegalStateException("sd");
        };
        Handle h = p.open();
        assertThrows(IllegalStateException.class, h::close);
        assertEquals(State.CLOSED, p.state());
        assertTrue(p.join(Duration.ZERO));
    }

    /** finalizeLater() itself throwing is undocumented; at least it must not wedge the object. */
    @Test
    void finalizeLaterThrows_objectNotWedged() throws Exception {
        AtomicBoolean throwIt = new AtomicBoolean(true);
        MultiOpen m = new MultiOpen("fl") {
            @Override
            protected boolean finalizeLater() {
                if (throwIt.get()) {
                    throw new IllegalStateException("fl boom");
                }
                return false;
            }
        };
        Handle h = m.open();
        Throwable t = assertThrows(Throwable.class, h::close);
        throwIt.set(false);
        Async a = new Async("a", () -> {
            m.open().close();
            return m.toString() + " join=" + m.join(Duration.ofSeconds(2));
        });
        Object o = a.await();
        assertEquals("MultiOpen[fl]{CLOSED, count=0} join=true", o);
    }

    /** A failing shutdown (checked, unchecked, Error) with openers parked behind it. */
    @Test
    void failedShutdown_withOpenersBehindIt_theyStartTheNextCycle() throws Exception {
        List<Exception> checked = List.of(new IOException("io"));
        Throwable[] fails = {new IllegalStateException("sd"), checked.get(0), new AssertionError("err")};
        for (Throwable fail : fails) {
            Probe p = new Probe("db");
            p.later = true;
            Handle h = p.open();
            Blocked b = new Blocked();
            p.onShutdown = b.hookThen(() -> {
                if (fail instanceof Exception) {
                    throw (Exception) fail;
                }
                throw (Error) fail;
            });
            Async closer = new Async("closer", () -> {
                h.close();
                return "closed";
            });
            await(b.entered);
            p.onShutdown = () -> { };
            Async joiner = new Async("joiner", () -> {
                p.join();
                return "joined";
            });
            waitParked(joiner);
            Async w1 = new Async("w1", p::open);
            Async w2 = new Async("w2", p::openInterruptibly);
            waitParked(w1);
            waitParked(w2);
            b.release.countDown();
            Throwable t = closer.thrown();
            if (fail instanceof IOException) {
                assertSame(fail, t.getCause());
            } else {
                assertSame(fail, t);
            }
            Handle h1 = w1.handle();
            Handle h2 = w2.handle();
            assertEquals(2, p.startups.get());
            assertEquals(State.OPEN, p.state());
            assertEquals(2, p.openCount());
            // the failed cycle is "closed and finalized": the joiner that waited for it returns
            assertTrue(joiner.done.await(5, TimeUnit.SECONDS),
                    "joiner of the failed-shutdown cycle (" + fail + ") still waits; " + p);
            h1.close();
            h2.close();
            assertEquals(State.FINALIZING, p.state());
            p.finish();
            p.assertClean();
        }
    }

    /** The opener that runs the next startup is interrupted while it runs it (not waiting). */
    @Test
    void openInterruptibly_interruptedWhileRunningStartupItself_returnsWithFlagSet()
            throws Exception {
        Probe p = new Probe("db");
        AtomicBoolean go = new AtomicBoolean();
        CountDownLatch inStartup = new CountDownLatch(1);
        p.onStartup = () -> {
            inStartup.countDown();
            while (!go.get()) { // not interruptible on purpose
                Thread.onSpinWait();
            }
        };
        Async starter = new Async("starter", p::openInterruptibly);
        await(inStartup);
        Async w = new Async("w", p::open);
        waitParked(w);
        starter.thread.interrupt();
        go.set(true);
        Object o = starter.await();
        assertInstanceOf(Handle.class, o, "startup succeeded: the open is counted");
        assertTrue(starter.flagAtEnd);
        Handle hw = w.handle();
        assertEquals(2, p.openCount());
        ((Handle) o).close();
        hw.close();
        assertEquals(State.CLOSED, p.state());
        p.assertClean();
    }

    /** Interrupt storm against openInterruptibly with slow hooks, so many opens wait. */
    @Test
    void stress_interruptStormSlowHooks() throws Exception {
        Probe p = new Probe("storm");
        p.onStartup = () -> LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(50_000, 400_000));
        p.onShutdown = () -> LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(50_000, 400_000));
        int threads = 3;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger opened = new AtomicInteger();
        AtomicInteger ies = new AtomicInteger();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(threads);
        for (int i = 0; i < threads; i++) {
            ts.add(startThread(false, "st" + i, () -> {
                try {
                    while (!stop.get()) {
                        Handle h;
                        try {
                            h = p.openInterruptibly();
                        } catch (InterruptedException e) {
                            ies.incrementAndGet();
                            if (!"storm: interrupted in openInterruptibly()".equals(e.getMessage())) {
                                unexpected.add(e);
                            }
                            continue;
                        }
                        opened.incrementAndGet();
                        if (!p.up) {
                            p.violation("holder sees cycle down: " + p);
                        }
                        Thread.interrupted();
                        h.close();
                        Thread.interrupted();
                        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(20_000, 600_000));
                    }
                } catch (Throwable t) {
                    unexpected.add(t);
                } finally {
                    done.countDown();
                }
            }));
        }
        Thread interrupter = startThread(false, "int", () -> {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            while (!stop.get()) {
                ts.get(rnd.nextInt(ts.size())).interrupt();
                LockSupport.parkNanos(rnd.nextInt(10_000, 100_000));
            }
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (System.nanoTime() < end) {
            LockSupport.parkNanos(5_000_000);
        }
        stop.set(true);
        interrupter.join(10_000);
        if (!done.await(15, TimeUnit.SECONDS)) {
            StringBuilder sb = new StringBuilder("HANG: " + p + "\n");
            for (Thread t : ts) {
                for (StackTraceElement e : t.getStackTrace()) {
                    sb.append("  ").append(t.getName()).append(" at ").append(e).append('\n');
                }
            }
            fail(sb.toString());
        }
        assertTrue(unexpected.isEmpty(), () -> "" + unexpected.peek());
        p.assertClean();
        assertEquals(0, p.openCount(), p.toString());
        assertEquals(p.startupOk.get(), p.shutdowns.get());
        assertTrue(p.state() == State.CLOSED || p.state() == State.NEW, p.toString());
        assertTrue(p.join(Duration.ofSeconds(5)));
    }

    @Test
    void shared_acquiresBehindThrowingCloser_getAFreshValue() throws Exception {
        Blocked b = new Blocked();
        AtomicInteger made = new AtomicInteger();
        AtomicBoolean first = new AtomicBoolean(true);
        Shared<Integer> s = Shared.of("sh", made::incrementAndGet, v -> {
            if (first.getAndSet(false)) {
                try {
                    b.hook().run();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                throw new IllegalStateException("closer");
            }
        });
        Lease<Integer> l = s.acquire();
        Async closer = new Async("closer", () -> {
            l.close();
            return "closed";
        });
        await(b.entered);
        Async w1 = new Async("w1", s::acquire);
        Async w2 = new Async("w2", s::acquireInterruptibly);
        waitParked(w1);
        waitParked(w2);
        b.release.countDown();
        assertInstanceOf(IllegalStateException.class, closer.thrown());
        Object o1 = w1.await();
        Object o2 = w2.await();
        assertInstanceOf(Lease.class, o1, "w1 " + o1);
        assertInstanceOf(Lease.class, o2, "w2 " + o2);
        assertEquals(2, made.get(), "one fresh value for the batch");
        assertEquals(2, ((Lease<?>) o1).get());
        assertEquals(2, ((Lease<?>) o2).get());
        ((Lease<?>) o1).close();
        ((Lease<?>) o2).close();
        assertEquals(0, s.openCount());
    }

    /** An interrupt racing a failing startup: IE or the failure, never counted, no hang. */
    @Test
    void race_interruptRacesFailedStartup_neverCounted() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int rounds = 0;
        int ie = 0;
        int failure = 0;
        while (System.nanoTime() < end && rounds < 400) {
            rounds++;
            Probe p = new Probe("db");
            Blocked b = new Blocked();
            RuntimeException boom = new RuntimeException("boom");
            p.onStartup = b.hookThen(() -> {
                throw boom;
            });
            Async starter = new Async("starter", p::open);
            await(b.entered);
            Async v = new Async("v", p::openInterruptibly);
            Async o = new Async("o", p::openInterruptibly);
            waitParked(v);
            waitParked(o);
            CyclicBarrier go = new CyclicBarrier(2);
            Thread interrupter = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    return;
                }
                v.thread.interrupt();
            });
            interrupter.start();
            go.await();
            b.release.countDown();
            interrupter.join();
            assertSame(boom, starter.thrown());
            assertSame(boom, o.thrown());
            Object r = v.await();
            if (r instanceof InterruptedException) {
                ie++;
            } else {
                assertSame(boom, r, "v got " + r);
                failure++;
            }
            assertEquals(0, p.openCount());
            assertEquals(State.NEW, p.state());
            p.onStartup = () -> { };
            p.open().close();
            assertEquals(2, p.startups.get());
            p.assertClean();
        }
    }

    // ------------------------------------------------ 9. Shared

    static final class Val implements AutoCloseable {
        final AtomicInteger closes = new AtomicInteger();

        @Override
        public void close() {
            closes.incrementAndGet();
        }
    }

    @Test
    void shared_leaseMessagesJoinIsClosed() throws Exception {
        Shared<Val> s = Shared.of("http", Val::new);
        assertFalse(s.isClosed());
        assertTrue(s.join(Duration.ZERO));
        Lease<Val> a = s.acquire();
        Lease<Val> b = s.acquire();
        assertSame(a.get(), b.get());
        Val v = a.get();
        assertFalse(s.join(Duration.ZERO));
        a.invalidate();
        assertTrue(a.isClosed());
        assertEquals("http: lease already closed",
                assertThrows(IllegalStateException.class, a::get).getMessage());
        a.close();
        a.invalidate();
        assertEquals(1, s.openCount());
        assertEquals(0, v.closes.get());
        Async joiner = new Async("joiner", () -> {
            s.join();
            return v.closes.get();
        });
        waitParked(joiner);
        b.close();
        assertEquals(1, joiner.await());
        assertTrue(s.isClosed());
        assertEquals("Shared[http]{CLOSED, count=0}", s.toString());
        Thread.currentThread().interrupt();
        assertEquals("http: interrupted in join()",
                assertThrows(InterruptedException.class, s::join).getMessage());
        assertFalse(Thread.interrupted());
    }

    @Test
    void shared_throwingOpener_andNull() {
        AtomicInteger n = new AtomicInteger();
        IOException io = new IOException("io");
        Shared<Val> s = Shared.of("x", () -> {
            int k = n.incrementAndGet();
            if (k == 1) {
                throw io;
            }
            if (k == 2) {
                throw new IllegalArgumentException("iae");
            }
            if (k == 3) {
                return null;
            }
            return new Val();
        });
        LifecycleException le = assertThrows(LifecycleException.class, s::acquire);
        assertSame(io, le.getCause());
        assertThrows(IllegalArgumentException.class, s::acquire);
        assertThrows(NullPointerException.class, s::acquire);
        assertEquals(0, s.openCount());
        assertEquals(State.NEW, s.state());
        try (Lease<Val> l = s.acquire()) {
            assertTrue(s.isOpen());
        }
        assertTrue(s.isClosed());
    }

    @Test
    void shared_throwingCloser_leaseClosedAllTheSame() throws Exception {
        RuntimeException boom = new RuntimeException("closer");
        Shared<String> s = Shared.of("y", () -> "v", v -> {
            throw boom;
        });
        Lease<String> l = s.acquire();
        assertSame(boom, assertThrows(RuntimeException.class, l::close));
        assertTrue(l.isClosed());
        assertTrue(s.isClosed());
        assertTrue(s.join(Duration.ZERO));
        l.close();
        Lease<String> m = s.acquire();
        assertEquals("v", m.get());
        assertThrows(RuntimeException.class, m::invalidate);
        assertEquals(0, s.openCount());
    }

    @Test
    void shared_acquireFromInsideOpenerAndCloser_throws() {
        AtomicReference<Shared<Val>> ref = new AtomicReference<>();
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Shared<Val> s = Shared.of("z", () -> {
            seen.add("opener acquire: " + msg(() -> ref.get().acquire()));
            seen.add("opener join: " + msg(() -> ref.get().join()));
            return new Val();
        }, v -> {
            seen.add("closer acquire: " + msg(() -> ref.get().acquire()));
            seen.add("closer join: " + msg(() -> ref.get().join()));
        });
        ref.set(s);
        s.acquire().close();
        for (String x : seen) {
            assertTrue(x.contains("IllegalStateException"), x);
        }
        assertEquals(0, s.openCount());
        assertEquals(State.CLOSED, s.state());
    }

    @Test
    void shared_stressWithThrowingOpenerAndCloser() throws Exception {
        AtomicInteger live = new AtomicInteger();
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        AtomicInteger bad = new AtomicInteger();
        Shared<Val> s = Shared.of("s", () -> {
            if (live.incrementAndGet() != 1) {
                bad.incrementAndGet();
            }
            try {
                if (ThreadLocalRandom.current().nextInt(8) == 0) {
                    throw new IOException("open");
                }
                made.incrementAndGet();
                return new Val();
            } finally {
                live.decrementAndGet();
            }
        }, v -> {
            if (live.incrementAndGet() != 1) {
                bad.incrementAndGet();
            }
            try {
                v.close();
                closed.incrementAndGet();
                if (ThreadLocalRandom.current().nextInt(8) == 0) {
                    throw new IllegalStateException("close");
                }
            } finally {
                live.decrementAndGet();
            }
        });
        int threads = 4;
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    Lease<Val> l;
                    try {
                        l = s.acquire();
                    } catch (LifecycleException e) {
                        continue;
                    }
                    if (l.get().closes.get() != 0) {
                        bad.incrementAndGet();
                    }
                    try {
                        l.close();
                    } catch (IllegalStateException e) {
                        if (!"close".equals(e.getMessage())) {
                            unexpected.add(e);
                        }
                    } catch (Throwable e) {
                        unexpected.add(e);
                    }
                }
            });
            t.setDaemon(true);
            t.start();
            ts.add(t);
        }
        Thread.sleep(2000); // run time of the stress, not coordination
        stop.set(true);
        for (Thread t : ts) {
            t.join(10_000);
            assertFalse(t.isAlive(), "hang");
        }
        assertTrue(unexpected.isEmpty(), () -> "" + unexpected.peek());
        assertEquals(0, bad.get());
        assertEquals(made.get(), closed.get());
        assertEquals(0, s.openCount());
        assertTrue(s.join(Duration.ofSeconds(5)));
    }

    // ------------------------------------------------ 10. virtual threads

    @Test
    void virtualThreads_manyWaitersOnStartupAndShutdown() throws Exception {
        Assumptions.assumeTrue(Runtime.version().feature() >= 21, "needs JDK 21+");
        Probe p = new Probe("vt");
        Blocked b = new Blocked();
        p.onStartup = b.hook();
        Async starter = new Async("starter", () -> {
            p.open().close();
            return "x";
        });
        await(b.entered);
        int n = 1000;
        CountDownLatch got = new CountDownLatch(n);
        CountDownLatch closeAll = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(n);
        ConcurrentLinkedQueue<Throwable> errs = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < n; i++) {
            final int k = i;
            startThread(true, "v", () -> {
                try {
                    Handle h = k % 2 == 0 ? p.open() : p.openInterruptibly();
                    if (!p.up) {
                        p.violation("vt not up");
                    }
                    got.countDown();
                    closeAll.await();
                    h.close();
                } catch (Throwable t) {
                    errs.add(t);
                } finally {
                    closed.countDown();
                }
            });
        }
        waitUntil(() -> p.state() == State.STARTING && p.openCount() >= 1, "");
        // let the virtual threads all arrive (they park on the attempt)
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (p.openCount() < n + 1 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(1_000_000);
        }
        b.release.countDown();
        starter.await();
        assertTrue(got.await(10, TimeUnit.SECONDS), "not all virtual openers returned");
        assertEquals(1, p.startups.get());
        assertEquals(n, p.openCount());
        // now: block shutdown of the last close, and pile virtual openers behind it
        Blocked sb = new Blocked();
        p.onShutdown = sb.hook();
        closeAll.countDown();
        await(sb.entered);
        p.onShutdown = () -> { };
        waitUntil(() -> closed.getCount() == 1, "all but the last closer done");
        CountDownLatch second = new CountDownLatch(n);
        AtomicInteger held = new AtomicInteger();
        List<Handle> hs = Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            startThread(true, "v2", () -> {
                try {
                    hs.add(p.open());
                    held.incrementAndGet();
                } catch (Throwable t) {
                    errs.add(t);
                } finally {
                    second.countDown();
                }
            });
        }
        sb.release.countDown();
        assertTrue(second.await(10, TimeUnit.SECONDS), "virtual openers behind shutdown hang");
        assertTrue(closed.await(10, TimeUnit.SECONDS));
        assertTrue(errs.isEmpty(), () -> "" + errs.peek());
        assertEquals(n, held.get());
        assertTrue(p.startups.get() >= 2);
        for (Handle h : hs) {
            h.close();
        }
        assertEquals(0, p.openCount());
        assertEquals(State.CLOSED, p.state());
        p.assertClean();
    }
}
