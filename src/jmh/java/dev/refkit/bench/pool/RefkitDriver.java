package dev.refkit.bench.pool;

import dev.refkit.Lease;
import dev.refkit.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Refkit's {@code Pool}, driven the way the README shows: try-with-resources over a
 * {@link Lease}. Kept in its own file because {@link PoolDriver} imports Stormpot's
 * {@code Pool}.
 *
 * <p><b>Thread safety.</b> As {@link PoolDriver}.
 */
final class RefkitDriver extends PoolDriver {
    private final Pool<Thing> pool;

    private RefkitDriver(Pool<Thing> pool) {
        this.pool = pool;
    }

    /**
     * Builds a pool of {@code size} and makes every object by borrowing them all once.
     *
     * @param size the pool's {@code maxSize}
     * @param fair the pool's {@code fair} setting
     * @return the driver
     * @throws InterruptedException if interrupted while filling the pool
     */
    static RefkitDriver create(int size, boolean fair) throws InterruptedException {
        AtomicInteger ids = new AtomicInteger();
        Pool<Thing> pool = Pool.builder(() -> new Thing(ids.incrementAndGet()))
                .maxSize(size)
                .fair(fair)
                .name("bench")
                .build();
        List<Lease<Thing>> all = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            all.add(pool.borrow());
        }
        all.forEach(Lease::close);
        return new RefkitDriver(pool);
    }

    @Override
    void borrowReturn(Blackhole bh) throws InterruptedException {
        try (Lease<Thing> lease = pool.borrow()) {
            bh.consume(lease.get());
        }
    }

    @Override
    void borrowReturnLoop(Blackhole bh, int n) throws InterruptedException {
        for (int i = 0; i < n; i++) {
            try (Lease<Thing> lease = pool.borrow()) {
                bh.consume(lease.get());
            }
        }
    }

    @Override
    void borrowHoldReturn(long tokens, boolean yield) throws InterruptedException {
        try (Lease<Thing> lease = pool.borrow()) {
            lease.get();
            Blackhole.consumeCPU(tokens);
            if (yield) {
                Thread.yield();
            }
        }
    }

    @Override
    Object borrow() throws InterruptedException {
        return pool.borrow();
    }

    @Override
    void giveBack(Object handle) {
        ((Lease<?>) handle).close();
    }

    @Override
    public void close() {
        pool.close();
    }
}
