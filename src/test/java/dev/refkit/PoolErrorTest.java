package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.PoolFixtures.Factory;
import dev.refkit.PoolFixtures.Res;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An {@link Error} from a {@link Pool}'s user code is never swallowed: it reaches the caller
 * of the operation that ran the hook (or fails the async borrow it ran for), after the pool
 * is consistent again; upkeep and the leak action log it at ERROR and rethrow it.
 */
@Timeout(30)
final class PoolErrorTest {
    /** What the hooks here throw. */
    static final class HookError extends Error {
        private static final long serialVersionUID = 1L;

        HookError(String message) {
            super(message);
        }
    }

    private final Factory factory = new Factory();

    private Pool.Builder<Res> builder() {
        return Pool.builder(factory).name("err").destroy(factory::destroyed);
    }

    @Test
    void borrow_factoryThrowsError_borrowerGetsItSlotFreed() throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        try (Pool<Res> pool = Pool.builder(() -> {
            if (fail.getAndSet(false)) {
                throw new HookError("no object");
            }
            return factory.call();
        }).maxSize(1).name("err").build()) {
            assertEquals("no object", assertThrows(HookError.class, pool::borrow).getMessage());
            assertEquals(0, pool.stats().size());
            pool.borrow(Duration.ZERO).close();
        }
    }

    @Test
    void borrow_validateThrowsError_borrowerGetsItSlotFreed() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> {
            if (fail.getAndSet(false)) {
                throw new HookError("broken check");
            }
            return true;
        }).build()) {
            pool.borrow().close();
            fail.set(true);
            assertThrows(HookError.class, pool::borrow);
            assertEquals(0, pool.stats().size());
            assertEquals(1, pool.stats().destroyed());
            pool.borrow(Duration.ZERO).close();
        }
    }

    @Test
    void lease_onReturnThrowsError_closerGetsItObjectDestroyed() throws Exception {
        try (Pool<Res> pool = builder().maxSize(1).onReturn(r -> {
            throw new HookError("no reset");
        }).build()) {
            Lease<Res> l = pool.borrow();
            assertThrows(HookError.class, l::close);
            assertTrue(l.isClosed());
            assertEquals(0, pool.stats().size());
            pool.borrow(Duration.ZERO).invalidate();
        }
    }

    /** close() destroys every idle object even when destroyers throw Errors, then throws. */
    @Test
    void close_destroyerThrowsError_everyIdleDestroyedErrorThrown() throws Exception {
        AtomicInteger destroys = new AtomicInteger();
        Pool<Res> pool = builder().maxSize(3).destroy(r -> {
            destroys.incrementAndGet();
            throw new HookError("no destroy of " + r);
        }).build();
        List<Lease<Res>> leases = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            leases.add(pool.borrow());
        }
        leases.forEach(Lease::close);
        HookError e = assertThrows(HookError.class, pool::close);
        assertEquals(2, e.getSuppressed().length);
        assertEquals(3, destroys.get());
        assertTrue(pool.isClosed());
        assertTrue(pool.join(Duration.ZERO));
    }

    /** A lent object destroyed on return after close: the closer gets the Error; terminated. */
    @Test
    void close_lentObjectDestroyerThrowsError_closerGetsItPoolTerminates() throws Exception {
        Pool<Res> pool = builder().maxSize(1).destroy(r -> {
            throw new HookError("no destroy");
        }).build();
        Lease<Res> l = pool.borrow();
        pool.close();
        assertThrows(HookError.class, l::close);
        assertTrue(pool.join(Duration.ZERO));
    }

    /** A waiting future whose granted object's check throws an Error fails with it. */
    @Test
    void borrowAsync_validateThrowsError_futureFailsPoolConsistent() throws Exception {
        HookError boom = new HookError("broken check");
        try (Pool<Res> pool = builder().maxSize(1).validate(r -> {
            throw boom;
        }).build()) {
            Lease<Res> held = pool.borrow();
            CompletableFuture<Lease<Res>> f = pool.borrowAsync();
            held.close();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> f.get(10, TimeUnit.SECONDS));
            assertSame(boom, e.getCause());
            assertEquals(0, pool.stats().size());
            assertEquals(0, pool.stats().waiting());
        }
    }

    /** Upkeep logs and rethrows an Error from the factory once its permit is freed. */
    @Test
    void maintain_factoryThrowsError_rethrownPermitFreed() {
        try (Pool<Object> pool = Pool.builder(() -> {
            throw new HookError("no object");
        }).maxSize(2).minIdle(1).name("err").build()) {
            assertThrows(HookError.class, pool::maintain);
            assertEquals(0, pool.stats().size());
            assertEquals(0, pool.stats().waiting());
        }
    }

    /** The leak action rethrows a destroyer's Error after freeing the slot. */
    @Test
    void leakAction_destroyerThrowsError_rethrownSlotFreed() throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        try (Pool<Res> pool = builder().maxSize(1).leakDetection(true).destroy(r -> {
            if (fail.getAndSet(false)) {
                throw new HookError("no destroy");
            }
        }).build()) {
            PoolCore.Loan<Res> l = (PoolCore.Loan<Res>) pool.borrow();
            Throwable e = assertThrows(Throwable.class,
                    () -> java.util.Objects.requireNonNull(l.cleanable).clean());
            assertInstanceOf(HookError.class, e);
            assertTrue(l.isClosed());
            assertEquals(0, pool.stats().size());
            pool.borrow(Duration.ZERO).close();
        }
    }
}
