package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Shared#refresh()}, {@link Lease#invalidate()} on a Shared, and Shared's vocabulary. */
@Timeout(30)
final class SharedRefreshTest {

    /** A value that counts how often it was closed. */
    static final class Val {
        final int id;
        final AtomicInteger closes = new AtomicInteger();

        Val(int id) {
            this.id = id;
        }
    }

    /** A Shared of Vals numbered 1, 2, ... that records every Val made. */
    static final class Fixture {
        final List<Val> made = Collections.synchronizedList(new ArrayList<>());
        final Shared<Val> shared = Shared.of("vals", () -> {
            Val v = new Val(made.size() + 1);
            made.add(v);
            return v;
        }, v -> v.closes.incrementAndGet());

        void assertEachClosedOnce() {
            for (Val v : made) {
                assertEquals(1, v.closes.get(), "value " + v.id);
            }
        }
    }

    @Test
    void refresh_noLeaseOut_doesNothing() {
        Fixture f = new Fixture();
        f.shared.refresh();
        assertEquals(0, f.made.size());
        assertEquals(MultiOpen.State.NEW, f.shared.state());
        f.shared.acquire().close();
        f.shared.refresh();
        assertEquals(1, f.made.size());
        assertEquals(MultiOpen.State.CLOSED, f.shared.state());
    }

    @Test
    void refresh_leaseOut_laterAcquireGetsFreshValueOldLeaseKeepsOld() {
        Fixture f = new Fixture();
        Lease<Val> old = f.shared.acquire();
        f.shared.refresh();
        assertEquals(2, f.made.size(), "the fresh value is made inside refresh()");
        try (Lease<Val> later = f.shared.acquire()) {
            assertEquals(2, later.get().id);
            assertEquals(1, old.get().id);
            assertEquals(0, old.get().closes.get());
            assertEquals(2, f.shared.openCount());
        }
        old.close();
    }

    @Test
    void refresh_oldValue_closedWhenItsLastLeaseClosesNotBefore() {
        Fixture f = new Fixture();
        Lease<Val> a = f.shared.acquire();
        Lease<Val> b = f.shared.acquire();
        f.shared.refresh();
        Lease<Val> fresh = f.shared.acquire();
        a.close();
        assertEquals(0, f.made.get(0).closes.get(), "b still holds the old value");
        b.close();
        assertEquals(1, f.made.get(0).closes.get());
        assertEquals(0, f.made.get(1).closes.get(), "the fresh value is leased");
        assertTrue(f.shared.isOpen());
        fresh.close();
        f.assertEachClosedOnce();
        assertEquals(MultiOpen.State.CLOSED, f.shared.state());
    }

    @Test
    void refresh_lastLeaseOfOldValueCloses_closesUnleasedCurrentToo() throws Exception {
        Fixture f = new Fixture();
        Lease<Val> a = f.shared.acquire();
        f.shared.refresh();
        assertEquals(1, f.shared.openCount());
        assertFalse(f.shared.join(Duration.ZERO), "a value is live");
        a.close();
        f.assertEachClosedOnce();
        assertEquals(2, f.made.size());
        assertEquals(0, f.shared.openCount());
        assertTrue(f.shared.join(Duration.ZERO));
        try (Lease<Val> next = f.shared.acquire()) {
            assertEquals(3, next.get().id, "the next acquire makes a fresh value");
        }
        f.assertEachClosedOnce();
    }

    @Test
    void refresh_openerThrows_throwsAndCurrentStays() {
        AtomicInteger calls = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("boom");
        Shared<Integer> s = Shared.of("n", () -> {
            if (calls.incrementAndGet() == 2) {
                throw boom;
            }
            return calls.get();
        }, v -> {});
        Lease<Integer> a = s.acquire();
        assertSame(boom, assertThrows(IllegalStateException.class, s::refresh));
        try (Lease<Integer> b = s.acquire()) {
            assertEquals(1, b.get(), "the current value stays");
        }
        assertEquals(1, s.openCount());
        a.close();
        assertEquals(MultiOpen.State.CLOSED, s.state());
    }

    @Test
    @SuppressWarnings("try")
    void refresh_insideOpener_throws() {
        AtomicReference<Shared<Integer>> self = new AtomicReference<>();
        AtomicReference<String> msg = new AtomicReference<>();
        AtomicInteger calls = new AtomicInteger();
        Shared<Integer> s = Shared.of("n", () -> {
            if (calls.incrementAndGet() == 2) {
                try {
                    self.get().refresh();
                } catch (IllegalStateException e) {
                    msg.set(e.getMessage());
                }
            }
            return calls.get();
        }, v -> {});
        self.set(s);
        try (Lease<Integer> a = s.acquire()) {
            s.refresh();
        }
        assertEquals("n: refresh() called from inside the opener", msg.get());
    }

    @Test
    void invalidate_currentValue_refreshesForLaterAcquires() {
        Fixture f = new Fixture();
        Lease<Val> a = f.shared.acquire();
        Lease<Val> b = f.shared.acquire();
        a.invalidate();
        assertTrue(a.isClosed());
        assertEquals(2, f.made.size());
        try (Lease<Val> c = f.shared.acquire()) {
            assertEquals(2, c.get().id);
        }
        assertEquals(1, b.get().id, "b keeps the old value");
        assertEquals(0, b.get().closes.get());
        b.close();
        f.assertEachClosedOnce();
    }

    @Test
    void invalidate_valueNoLongerCurrent_doesNotRefresh() {
        Fixture f = new Fixture();
        Lease<Val> a = f.shared.acquire();
        Lease<Val> b = f.shared.acquire();
        a.invalidate(); // makes value 2
        b.invalidate(); // value 1 is no longer current: nothing new
        assertEquals(2, f.made.size());
        f.assertEachClosedOnce();
        a.invalidate(); // closed lease: nothing
        assertEquals(2, f.made.size());
    }

    @Test
    void invalidate_twoThreadsAtOnce_refreshesAndClosesOnce() throws Exception {
        for (int i = 0; i < 200; i++) {
            Fixture f = new Fixture();
            Lease<Val> keep = f.shared.acquire();
            Lease<Val> l = f.shared.acquire();
            CyclicBarrier go = new CyclicBarrier(2);
            CompletableFuture<Object> other = TestThreads.fork(() -> {
                go.await();
                l.invalidate();
                return null;
            });
            go.await();
            l.invalidate();
            other.get();
            assertEquals(2, f.made.size(), "one refresh");
            assertEquals(1, f.shared.openCount(), "keep alone");
            keep.close();
            f.assertEachClosedOnce();
        }
    }

    @Test
    void join_untimed_waitsForEveryValue() throws Exception {
        Fixture f = new Fixture();
        Lease<Val> old = f.shared.acquire();
        f.shared.refresh();
        Lease<Val> fresh = f.shared.acquire();
        CountDownLatch joined = new CountDownLatch(1);
        Thread joiner = TestThreads.start(() -> {
            try {
                f.shared.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            joined.countDown();
        });
        old.close();
        TestThreads.awaitParked(joiner);
        assertEquals(1, joined.getCount(), "the fresh value is still leased");
        fresh.close();
        joined.await();
        joiner.join();
        f.assertEachClosedOnce();
    }

    @Test
    void join_interruptedOnEntry_throwsEvenWithNothingLive() {
        Shared<Val> s = Shared.of("vals", () -> new Val(1), v -> {});
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, s::join);
        assertEquals("vals: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
    }

    @Test
    void acquireInterruptibly_interruptedOnEntry_messageSaysAcquireInterruptibly() {
        Shared<Val> s = Shared.of("vals", () -> new Val(1), v -> {});
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class,
                s::acquireInterruptibly);
        assertEquals("vals: interrupted in acquireInterruptibly()", e.getMessage());
    }

    @Test
    void toString_andName_useSharedKind() {
        Fixture f = new Fixture();
        assertEquals("vals", f.shared.name());
        assertEquals("Shared[vals]{NEW, count=0}", f.shared.toString());
        Lease<Val> a = f.shared.acquire();
        assertEquals("Shared[vals]{OPEN, count=1}", f.shared.toString());
        assertEquals("Lease[vals]{open}", a.toString());
        f.shared.refresh();
        assertEquals("Shared[vals]{OPEN, count=1}", f.shared.toString());
        a.close();
        assertEquals("Shared[vals]{CLOSED, count=0}", f.shared.toString());
        assertEquals("Lease[vals]{closed}", a.toString());
    }

    @Test
    void leaseClose_twoThreadsAtOnce_givesBackOnce() throws Exception {
        Shared<Val> s = Shared.of("vals", () -> new Val(1), v -> {});
        Lease<Val> keep = s.acquire();
        for (int i = 0; i < 500; i++) {
            Lease<Val> l = s.acquire();
            CyclicBarrier go = new CyclicBarrier(2);
            CompletableFuture<Object> other = TestThreads.fork(() -> {
                go.await();
                l.close();
                return null;
            });
            go.await();
            l.close();
            other.get();
            assertEquals(1, s.openCount());
        }
        keep.close();
    }

    @Test
    void acquire_afterRefreshReturns_neverGetsOldValue() {
        Fixture f = new Fixture();
        Lease<Val> a = f.shared.acquire();
        for (int i = 0; i < 5; i++) {
            f.shared.refresh();
            try (Lease<Val> l = f.shared.acquire()) {
                assertEquals(f.made.size(), l.get().id);
                assertNotSame(a.get(), l.get());
            }
        }
        assertEquals(1, f.shared.openCount());
        a.close();
        f.assertEachClosedOnce();
        assertEquals(6, f.made.size());
    }
}
