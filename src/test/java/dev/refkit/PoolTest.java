package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.PoolFixtures.FakeTicker;
import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Single-threaded behaviour of {@link Pool}: options, methods, messages, failure paths. */
@Timeout(30)
final class PoolTest {
    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("test").destroy(factory::destroyed);
    }

    // ---- builder

    @Test
    void builder_nullFactory_throwsNpe() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> Pool.builder(null));
        assertEquals("factory", e.getMessage());
    }

    @Test
    void builder_negativeSizes_throwNamingTheOption() {
        assertEquals("maxSize must not be negative: -1", assertThrows(
                IllegalArgumentException.class, () -> builder().maxSize(-1)).getMessage());
        assertEquals("minIdle must not be negative: -2", assertThrows(
                IllegalArgumentException.class, () -> builder().minIdle(-2)).getMessage());
        assertEquals("maxIdle must not be negative: -3", assertThrows(
                IllegalArgumentException.class, () -> builder().maxIdle(-3)).getMessage());
    }

    @Test
    void build_minIdleAboveMaxSize_throwsNamingBoth() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> builder().maxSize(2).minIdle(3).build());
        assertEquals("test: minIdle (3) must not exceed maxSize (2)", e.getMessage());
    }

    @Test
    void build_unboundedMinIdleAboveMaxIdle_throws() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> builder().maxSize(0).maxIdle(1).minIdle(2).build());
        assertEquals("test: minIdle (2) must not exceed maxIdle (1) of an unbounded pool",
                e.getMessage());
    }

    @Test
    void build_validateAfterIdleWithoutValidate_throws() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> builder().validateAfterIdle(Duration.ofSeconds(1)).build());
        assertEquals("test: validateAfterIdle needs validate", e.getMessage());
    }

    @Test
    void builder_badDurationsAndNulls_throw() {
        assertEquals("maxIdleTime must be positive: PT0S", assertThrows(
                IllegalArgumentException.class, () -> builder().maxIdleTime(Duration.ZERO))
                .getMessage());
        assertEquals("maxLifetime must be positive: PT-1S", assertThrows(
                IllegalArgumentException.class,
                () -> builder().maxLifetime(Duration.ofSeconds(-1))).getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> builder().validateAfterIdle(Duration.ofSeconds(-1)));
        assertThrows(NullPointerException.class, () -> builder().name(null));
        assertThrows(NullPointerException.class, () -> builder().validate(null));
        assertThrows(NullPointerException.class, () -> builder().onReturn(null));
        assertThrows(NullPointerException.class, () -> builder().destroy(null));
        assertThrows(NullPointerException.class, () -> builder().ticker(null));
    }

    @Test
    void build_defaults_maxSizeFourFairNamedPool() throws Exception {
        try (Pool<Res> pool = Pool.builder(factory).build()) {
            assertEquals("pool", pool.name());
            assertEquals(4, pool.maxSize());
            List<Lease<Res>> leases = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                leases.add(pool.borrow());
            }
            assertNull(pool.tryBorrow());
            leases.forEach(Lease::close);
        }
        assertEquals(4, factory.made.get());
    }

    // ---- borrow and return

    @Test
    void borrow_afterReturns_reusesMostRecentlyReturned() throws Exception {
        try (Pool<Res> pool = builder().build()) {
            Lease<Res> a = pool.borrow();
            Lease<Res> b = pool.borrow();
            Res ra = a.get();
            Res rb = b.get();
            assertNotSame(ra, rb);
            a.close();
            b.close();
            try (Lease<Res> c = pool.borrow()) {
                assertSame(rb, c.get());
            }
            assertEquals(2, factory.made.get());
        }
    }

    @Test
    void lease_closeTwice_returnsOnce() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            a.close();
            Lease<Res> b = pool.borrow();
            a.close(); // stale: must not return b's object
            assertFalse(b.isClosed());
            assertNull(pool.tryBorrow());
            b.get();
            b.close();
            assertTrue(a.isClosed());
            assertEquals(1, pool.stats().idle());
            assertEquals(2, pool.stats().borrows());
        }
    }

    @Test
    void lease_getAfterClose_throwsNamingPool() throws Exception {
        try (Pool<Res> pool = builder().build()) {
            Lease<Res> a = pool.borrow();
            a.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, a::get);
            assertEquals("test: lease already closed", e.getMessage());
            assertTrue(a.toString().contains("closed"));
        }
    }

    @Test
    void lease_invalidate_destroysAndFreesSlot() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            Res r = a.get();
            a.invalidate();
            a.invalidate();
            a.close();
            assertTrue(r.closed.get());
            assertThrows(IllegalStateException.class, a::get);
            try (Lease<Res> b = pool.borrow()) {
                assertNotSame(r, b.get());
            }
            PoolStats s = pool.stats();
            assertEquals(1, s.destroyed());
            assertEquals(2, s.created());
            assertEquals(1, s.size());
        }
    }

    @Test
    void tryBorrow_full_returnsNullAndNeverWaits() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.tryBorrow();
            assertNotNull(a);
            assertNull(pool.tryBorrow());
            a.close();
            Lease<Res> b = pool.tryBorrow();
            assertNotNull(b);
            b.close();
        }
    }

    @Test
    void borrowTimeout_full_throwsNamingPoolSize() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            Lease<Res> a = pool.borrow();
            TimeoutException e = assertThrows(TimeoutException.class,
                    () -> pool.borrow(Duration.ofMillis(20)));
            assertEquals("test: no object free within PT0.02S (size 1 of 1, 0 waiting)",
                    e.getMessage());
            assertThrows(TimeoutException.class, () -> pool.borrow(Duration.ZERO));
            assertEquals(2, pool.stats().timeouts());
            assertEquals(0, pool.stats().waiting());
            a.close();
            pool.borrow(Duration.ZERO).close();
        }
    }

    @Test
    void borrowTimeout_negative_throws() {
        try (Pool<Res> pool = builder().build()) {
            assertThrows(IllegalArgumentException.class,
                    () -> pool.borrow(Duration.ofMillis(-1)));
        }
    }

    // ---- factory failures (rule 2)

    @Test
    void borrow_factoryThrowsUnchecked_keepsTypeAndFreesSlot() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).build()) {
            factory.fail = true;
            IllegalStateException e = assertThrows(IllegalStateException.class, pool::borrow);
            assertEquals("factory says no", e.getMessage());
            factory.fail = false;
            pool.borrow(Duration.ZERO).close();
            assertEquals(1, pool.stats().failedCreations());
            assertEquals(1, pool.stats().size());
        }
    }

    @Test
    void borrow_factoryThrowsChecked_wrapsWithCause() throws Exception {
        IOException boom = new IOException("disk");
        try (Pool<Object> pool = Pool.builder(() -> {
            throw boom;
        }).name("io").maxSize(1).build()) {
            LifecycleException e = assertThrows(LifecycleException.class, pool::borrow);
            assertEquals("io: factory failed", e.getMessage());
            assertSame(boom, e.getCause());
            assertThrows(LifecycleException.class, pool::tryBorrow); // slot free again
            assertEquals(2, pool.stats().failedCreations());
            assertEquals(0, pool.stats().size());
        }
    }

    @Test
    void borrow_factoryReturnsNull_throwsNpe() {
        try (Pool<Object> pool = Pool.builder(() -> null).name("nul").build()) {
            NullPointerException e = assertThrows(NullPointerException.class, pool::borrow);
            assertEquals("nul: factory returned null", e.getMessage());
            assertEquals(0, pool.stats().size());
        }
    }

    // ---- validate, onReturn, destroy

    @Test
    void validate_fails_destroysAndTriesAnother() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (Pool<Res> pool = builder().validate(r -> calls.incrementAndGet() > 1 || r.id != 1)
                .build()) {
            Lease<Res> a = pool.borrow(); // new objects are not validated
            Res r1 = a.get();
            a.close();
            try (Lease<Res> b = pool.borrow()) { // r1 fails its check
                assertNotSame(r1, b.get());
            }
            assertTrue(r1.closed.get());
            assertEquals(1, pool.stats().destroyed());
        }
    }

    @Test
    void validate_throws_destroysAndFreesSlot() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> {
            throw new IllegalArgumentException("bad check");
        }).build()) {
            pool.borrow().close();
            try (Lease<Res> b = pool.borrow()) {
                assertEquals(2, b.get().id);
            }
            assertEquals(1, pool.stats().destroyed());
            assertEquals(1, pool.stats().size());
        }
    }

    /** Without any time-based option, validate runs on every lend even on a negative clock. */
    @Test
    void validate_negativeTicker_checksEveryLend() throws Exception {
        FakeTicker ticker = new FakeTicker();
        ticker.now.set(-5_000_000_000L); // System.nanoTime() may read negative too
        AtomicInteger checks = new AtomicInteger();
        try (Pool<Res> pool = builder().ticker(ticker).validate(r -> {
            checks.incrementAndGet();
            return true;
        }).build()) {
            pool.borrow().close(); // new objects are not validated
            pool.borrow().close();
            pool.borrow().close();
            assertEquals(2, checks.get());
        }
    }

    @Test
    void validateAfterIdle_shortIdle_skipsCheck() throws Exception {
        FakeTicker ticker = new FakeTicker();
        AtomicInteger checks = new AtomicInteger();
        try (Pool<Res> pool = builder().ticker(ticker).validate(r -> {
            checks.incrementAndGet();
            return true;
        }).validateAfterIdle(Duration.ofSeconds(10)).build()) {
            pool.borrow().close();
            pool.borrow().close();
            assertEquals(0, checks.get());
            ticker.advance(Duration.ofSeconds(10));
            pool.borrow().close();
            assertEquals(1, checks.get());
        }
    }

    @Test
    void onReturn_resetsEachReturn() throws Exception {
        List<Res> reset = new ArrayList<>();
        try (Pool<Res> pool = builder().onReturn(reset::add).build()) {
            Lease<Res> a = pool.borrow();
            a.close();
            a.close();
            assertEquals(List.of(a.isClosed() ? reset.get(0) : null), reset);
            pool.borrow().invalidate(); // no reset for a destroyed object
            assertEquals(1, reset.size());
        }
    }

    @Test
    void onReturn_throws_destroysAndFreesSlot() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).onReturn(r -> {
            throw new IllegalStateException("no reset");
        }).build()) {
            Lease<Res> a = pool.borrow();
            Res r = a.get();
            a.close();
            assertTrue(r.closed.get());
            assertEquals(0, pool.stats().size());
            pool.borrow(Duration.ZERO).close();
        }
    }

    @Test
    void destroy_default_closesAutoCloseable() throws Exception {
        Res r;
        try (Pool<Res> pool = Pool.builder(() -> new Res(7)).build()) {
            Lease<Res> a = pool.borrow();
            r = a.get();
            a.close();
        }
        assertTrue(r.closed.get());
        try (Pool<String> strings = Pool.builder(() -> "s").build()) {
            strings.borrow().invalidate(); // not AutoCloseable: nothing to do
            assertEquals(1, strings.stats().destroyed());
        }
    }

    @Test
    void destroy_throws_loggedAndSlotFreed() throws Exception {
        try (Pool<Res> pool = Pool.builder(factory).maxSize(1).destroy(r -> {
            throw new IllegalStateException("no destroy");
        }).build()) {
            pool.borrow().invalidate();
            assertEquals(0, pool.stats().size());
            assertEquals(1, pool.stats().destroyed());
            pool.borrow(Duration.ZERO).close();
        }
    }

    // ---- expiry and background upkeep

    @Test
    void maxIdleTime_expiredIdle_destroyedInsteadOfLent() throws Exception {
        FakeTicker ticker = new FakeTicker();
        try (Pool<Res> pool = builder().ticker(ticker).maxIdleTime(Duration.ofMinutes(1))
                .build()) {
            Lease<Res> a = pool.borrow();
            Res r = a.get();
            a.close();
            ticker.advance(Duration.ofSeconds(59));
            Lease<Res> b = pool.borrow();
            assertSame(r, b.get());
            b.close();
            ticker.advance(Duration.ofMinutes(1));
            try (Lease<Res> c = pool.borrow()) {
                assertNotSame(r, c.get());
            }
            assertTrue(r.closed.get());
        }
    }

    @Test
    void maxIdleTime_sweep_destroysIdle() throws Exception {
        FakeTicker ticker = new FakeTicker();
        try (Pool<Res> pool = builder().ticker(ticker).maxIdleTime(Duration.ofHours(1))
                .build()) {
            pool.borrow().close();
            pool.maintain();
            assertEquals(1, pool.stats().idle());
            ticker.advance(Duration.ofHours(1));
            pool.maintain();
            assertEquals(0, pool.stats().size());
        }
    }

    @Test
    void maxLifetime_oldObject_destroyedNotTakenFromBorrower() throws Exception {
        FakeTicker ticker = new FakeTicker();
        try (Pool<Res> pool = builder().ticker(ticker).maxLifetime(Duration.ofHours(1))
                .build()) {
            Lease<Res> a = pool.borrow();
            Res r = a.get();
            ticker.advance(Duration.ofHours(2));
            pool.maintain();
            assertFalse(r.closed.get()); // lent: never taken back
            a.close();
            try (Lease<Res> b = pool.borrow()) {
                assertNotSame(r, b.get());
            }
            assertTrue(r.closed.get());
            ticker.advance(Duration.ofHours(2));
            pool.maintain();
            assertEquals(0, pool.stats().size());
        }
    }

    @Test
    void minIdle_background_keepsObjectsReady() throws Exception {
        try (Pool<Res> pool = builder().maxSize(4).minIdle(2).build()) {
            PoolFixtures.eventually(() -> pool.stats().idle() == 2, "2 idle");
            Lease<Res> a = pool.borrow();
            PoolFixtures.eventually(() -> pool.stats().idle() == 2, "topped up to 2 idle");
            assertEquals(3, pool.stats().size());
            a.close();
        }
        assertEquals(0, factory.alive.get());
    }

    @Test
    void unbounded_returnsBeyondMaxIdle_destroyed() throws Exception {
        try (Pool<Res> pool = builder().maxSize(0).maxIdle(2).build()) {
            List<Lease<Res>> leases = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                leases.add(pool.borrow(Duration.ZERO));
            }
            leases.forEach(Lease::close);
            PoolStats s = pool.stats();
            assertEquals(2, s.idle());
            assertEquals(8, s.destroyed());
            assertEquals(2, factory.alive.get());
            assertEquals(0, pool.maxSize());
            assertThrows(IllegalStateException.class, () -> pool.setMaxSize(3));
        }
    }

    // ---- setMaxSize

    @Test
    void setMaxSize_shrink_destroysIdleFirstAndLentOnReturn() throws Exception {
        try (Pool<Res> pool = builder().maxSize(3).build()) {
            Lease<Res> a = pool.borrow();
            Lease<Res> b = pool.borrow();
            Lease<Res> c = pool.borrow();
            c.close();
            pool.setMaxSize(1);
            assertEquals(2, pool.stats().size()); // idle one went, lent ones stay
            assertFalse(a.isClosed());
            a.get();
            a.close();
            assertEquals(1, pool.stats().size());
            assertNull(pool.tryBorrow());
            b.close();
            assertEquals(1, pool.stats().size());
            assertEquals(1, pool.stats().idle());
            pool.setMaxSize(2);
            Lease<Res> d = pool.borrow();
            Lease<Res> e = pool.borrow();
            assertNull(pool.tryBorrow());
            d.close();
            e.close();
        }
        assertEquals(0, factory.alive.get());
    }

    /**
     * A shrink frees an object's place only once its destroyer has returned: growing the
     * bound again meanwhile must not let a borrower make an object beside the one still
     * being destroyed (the stress test saw 5 alive under a bound of 4).
     */
    @Test
    void setMaxSize_shrinkThenGrowDuringDestroy_neverMoreAliveThanTheBound() throws Exception {
        CountDownLatch destroying = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Pool<Res> pool = Pool.builder(factory).name("test").maxSize(2).destroy(r -> {
            destroying.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            factory.destroyed(r);
        }).build();
        Lease<Res> a = pool.borrow();
        pool.borrow().close();
        a.close();
        CompletableFuture<Void> shrink = CompletableFuture.runAsync(() -> pool.setMaxSize(1));
        assertTrue(destroying.await(10, TimeUnit.SECONDS));
        pool.setMaxSize(2);
        Lease<Res> kept = pool.tryBorrow();
        assertNotNull(kept, "the object the shrink kept");
        assertNull(pool.tryBorrow(), "no new object while the old one is being destroyed");
        assertEquals(2, factory.alive.get());
        release.countDown();
        shrink.get(10, TimeUnit.SECONDS);
        Lease<Res> made = pool.borrow(Duration.ofSeconds(10));
        assertEquals(2, factory.maxAlive.get(), "never more alive than the bound");
        made.close();
        kept.close();
        pool.close();
        assertEquals(0, factory.alive.get());
    }

    @Test
    void setMaxSize_badArguments_throw() {
        Pool<Res> pool = builder().build();
        assertEquals("test: maxSize must be at least 1: 0", assertThrows(
                IllegalArgumentException.class, () -> pool.setMaxSize(0)).getMessage());
        pool.close();
        assertThrows(ClosedException.class, () -> pool.setMaxSize(2));
    }

    // ---- stats and close

    @Test
    void stats_counts_matchWhatHappened() throws Exception {
        try (Pool<Res> pool = builder().maxSize(2).build()) {
            Lease<Res> a = pool.borrow();
            pool.borrow().close();
            pool.borrow().invalidate(); // reuses the idle one
            pool.borrow().close();
            PoolStats s = pool.stats();
            assertEquals(2, s.size());
            assertEquals(1, s.idle());
            assertEquals(1, s.lent());
            assertEquals(0, s.waiting());
            assertEquals(3, s.created());
            assertEquals(1, s.destroyed());
            assertEquals(4, s.borrows());
            assertEquals(0, s.failedCreations());
            assertEquals(Duration.ZERO, s.longestWait());
            assertTrue(s.toString().startsWith("PoolStats{size=2, idle=1, lent=1"));
            assertEquals("Pool[test]{OPEN, idle=1, lent=1, waiting=0}", pool.toString());
            a.close();
        }
    }

    @Test
    void close_lentObjects_destroyedOnReturn() throws Exception {
        Pool<Res> pool = builder().build();
        Lease<Res> a = pool.borrow();
        pool.borrow().close();
        pool.close();
        assertTrue(pool.isClosed());
        assertEquals(1, factory.alive.get()); // the idle one is gone
        assertFalse(pool.join(Duration.ofMillis(10)));
        assertEquals(a.get().id, 1);
        a.close();
        assertEquals(0, factory.alive.get());
        assertTrue(pool.join(Duration.ZERO));
        pool.close();
    }

    @Test
    void borrow_afterClose_throwsClosedException() {
        Pool<Res> pool = builder().build();
        pool.close();
        ClosedException e = assertThrows(ClosedException.class, pool::borrow);
        assertEquals("test: pool closed", e.getMessage());
        assertThrows(ClosedException.class, pool::tryBorrow);
        assertThrows(ClosedException.class, () -> pool.borrow(Duration.ofSeconds(1)));
        Exception async = assertThrows(Exception.class, () -> pool.borrowAsync().join());
        assertInstanceOf(ClosedException.class, async.getCause());
    }
}
