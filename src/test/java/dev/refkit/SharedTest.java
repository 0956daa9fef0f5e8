package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Shared}: acquire, release, leases, failures and races. */
@Timeout(30)
final class SharedTest {

    /** A value that knows whether it was closed. */
    static final class Conn implements AutoCloseable {
        static final AtomicInteger MADE = new AtomicInteger();
        final int id = MADE.incrementAndGet();
        volatile boolean closed;

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void acquire_first_opensValueAndLastReleaseClosesIt() {
        AtomicInteger opened = new AtomicInteger();
        Shared<Conn> s = Shared.of("conn", () -> {
            opened.incrementAndGet();
            return new Conn();
        });
        assertEquals("Shared[conn]{NEW, count=0}", s.toString());
        Lease<Conn> a = s.acquire();
        Lease<Conn> b = s.acquire();
        assertSame(a.get(), b.get());
        assertEquals(1, opened.get());
        assertEquals("Shared[conn]{OPEN, count=2}", s.toString());
        assertTrue(s.isOpen());
        assertEquals(2, s.openCount());
        Conn c = a.get();
        a.close();
        assertFalse(c.closed);
        b.close();
        assertTrue(c.closed);
        assertEquals(MultiOpen.State.CLOSED, s.state());
        assertFalse(s.isOpen());
    }

    @Test
    void acquire_afterLastRelease_makesNewValue() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        Conn first;
        try (Lease<Conn> l = s.acquire()) {
            first = l.get();
        }
        try (Lease<Conn> l = s.acquire()) {
            assertNotSame(first, l.get());
            assertFalse(l.get().closed);
        }
        assertTrue(first.closed);
    }

    @Test
    void leaseClose_twice_releasesOnce() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        Lease<Conn> keep = s.acquire();
        Lease<Conn> l = s.acquire();
        l.close();
        l.close();
        assertTrue(l.isClosed());
        assertEquals(1, s.openCount());
        keep.close();
        assertEquals(0, s.openCount());
    }

    @Test
    void leaseGet_afterClose_throwsNamingShared() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        Lease<Conn> l = s.acquire();
        l.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, l::get);
        assertEquals("conn: lease already closed", e.getMessage());
    }

    @Test
    void leaseInvalidate_sameAsClose() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        Lease<Conn> l = s.acquire();
        Conn c = l.get();
        l.invalidate();
        assertTrue(l.isClosed());
        assertTrue(c.closed);
        l.invalidate();
        assertEquals(0, s.openCount());
    }

    @Test
    void of_customCloser_calledWithValue() {
        List<String> closed = new ArrayList<>();
        Shared<String> s = Shared.of("str", () -> "v", closed::add);
        s.acquire().close();
        assertEquals(List.of("v"), closed);
    }

    @Test
    void of_nullArguments_throwNpe() {
        assertThrows(NullPointerException.class, () -> Shared.of(null, Conn::new));
        assertThrows(NullPointerException.class, () -> Shared.of("x", null));
        assertThrows(NullPointerException.class, () -> Shared.of("x", () -> "v", null));
    }

    @Test
    void acquire_openerReturnsNull_throwsNpeNotCounted() {
        Shared<String> s = Shared.of("str", () -> null, v -> {});
        NullPointerException e = assertThrows(NullPointerException.class, s::acquire);
        assertEquals("str: the opener returned null", e.getMessage());
        assertEquals(0, s.openCount());
    }

    @Test
    void acquire_openerThrowsChecked_wrappedAndRetried() {
        AtomicInteger calls = new AtomicInteger();
        IOException io = new IOException("down");
        Shared<Conn> s = Shared.of("conn", () -> {
            if (calls.incrementAndGet() == 1) {
                throw io;
            }
            return new Conn();
        });
        LifecycleException e = assertThrows(LifecycleException.class, s::acquire);
        assertEquals("conn: the opener failed", e.getMessage());
        assertSame(io, e.getCause());
        assertEquals(0, s.openCount());
        try (Lease<Conn> l = s.acquire()) {
            assertFalse(l.get().closed);
        }
        assertEquals(2, calls.get());
    }

    @Test
    void release_closerThrows_throwsAndEndsClosed() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        Shared<String> s = Shared.of("str", () -> "v", v -> {
            throw boom;
        });
        Lease<String> l = s.acquire();
        assertSame(boom, assertThrows(IllegalStateException.class, l::close));
        assertTrue(l.isClosed());
        assertEquals(MultiOpen.State.CLOSED, s.state());
        assertTrue(s.join(Duration.ZERO));
    }

    @Test
    void acquire_insideOpener_throwsInsteadOfDeadlock() {
        AtomicReference<Shared<String>> self = new AtomicReference<>();
        AtomicReference<String> msg = new AtomicReference<>();
        Shared<String> s = Shared.of("str", () -> {
            try {
                self.get().acquire();
            } catch (IllegalStateException e) {
                msg.set(e.getMessage());
            }
            return "v";
        }, v -> {});
        self.set(s);
        s.acquire().close();
        assertEquals("str: acquire() called from inside the opener", msg.get());
    }

    @Test
    void acquire_insideCloser_throwsInsteadOfDeadlock() {
        AtomicReference<Shared<String>> self = new AtomicReference<>();
        List<String> msgs = new ArrayList<>();
        Shared<String> s = Shared.of("str", () -> "v", v -> {
            try {
                self.get().acquire();
            } catch (IllegalStateException e) {
                msgs.add(e.getMessage());
            }
        });
        self.set(s);
        s.acquire().close();
        assertEquals(List.of("str: acquire() called from inside the closer"), msgs);
        assertEquals(MultiOpen.State.CLOSED, s.state());
    }

    @Test
    void acquireInterruptibly_interruptedOnEntry_throwsNotCounted() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, s::acquireInterruptibly);
        assertFalse(Thread.interrupted());
        assertEquals(0, s.openCount());
    }

    @Test
    void join_whileLeased_waitsForLastRelease() throws Exception {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        assertTrue(s.join(Duration.ZERO));
        Lease<Conn> l = s.acquire();
        assertFalse(s.join(Duration.ofMillis(10)));
        l.close();
        assertTrue(s.join(Duration.ZERO));
    }

    /** Proves join() without a timeout waits for the last release on another thread. */
    @Test
    void join_untimed_returnsAfterLastReleaseClosedTheValue() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean closedBeforeJoinReturned =
                new java.util.concurrent.atomic.AtomicBoolean();
        Shared<Conn> s = Shared.of("conn", Conn::new, c -> closedBeforeJoinReturned.set(true));
        s.join(); // nothing live: returns at once
        Lease<Conn> l = s.acquire();
        java.util.concurrent.CountDownLatch joining = new java.util.concurrent.CountDownLatch(1);
        Thread releaser = new Thread(() -> {
            try {
                assertTrue(joining.await(20, java.util.concurrent.TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            l.close();
        });
        releaser.start();
        joining.countDown();
        s.join();
        assertTrue(closedBeforeJoinReturned.get());
        releaser.join();
    }

    /** Proves isClosed() is false before the first acquire and while leased, true after. */
    @Test
    void isClosed_acrossLifecycle_falseUntilLastRelease() {
        Shared<Conn> s = Shared.of("conn", Conn::new);
        assertFalse(s.isClosed());
        Lease<Conn> l = s.acquire();
        assertFalse(s.isClosed());
        l.close();
        assertTrue(s.isClosed());
        assertEquals(MultiOpen.State.CLOSED, s.state());
    }

    /** Proves concurrent acquirers get a live value, opened once per cycle, never closed. */
    @Test
    void acquire_manyThreads_neverSeeClosedValueAndPairsOpenClose() throws Exception {
        AtomicInteger opens = new AtomicInteger();
        AtomicInteger closes = new AtomicInteger();
        Shared<Conn> s = Shared.of("conn", () -> {
            opens.incrementAndGet();
            return new Conn();
        }, c -> {
            closes.incrementAndGet();
            c.close();
        });
        int threads = 6;
        CyclicBarrier go = new CyclicBarrier(threads);
        AtomicReference<Throwable> error = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    go.await(20, TimeUnit.SECONDS);
                    for (int i = 0; i < 20_000; i++) {
                        try (Lease<Conn> l = s.acquire()) {
                            if (l.get().closed) {
                                throw new AssertionError("closed value lent");
                            }
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
            th.setDaemon(true);
            th.start();
        }
        assertTrue(done.await(25, TimeUnit.SECONDS));
        assertNull(error.get());
        assertEquals(opens.get(), closes.get());
        assertEquals(0, s.openCount());
    }
}
