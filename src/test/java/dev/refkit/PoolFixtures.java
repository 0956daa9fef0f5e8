package dev.refkit;

import com.google.common.base.Ticker;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/** Shared test objects for the pool tests. */
final class PoolFixtures {
    private PoolFixtures() {}

    /** A pooled object that knows whether it is closed and lent. */
    static final class Res implements AutoCloseable {
        final int id;
        final AtomicBoolean closed = new AtomicBoolean();
        final AtomicBoolean inUse = new AtomicBoolean();
        final AtomicInteger closes = new AtomicInteger();

        Res(int id) {
            this.id = id;
        }

        @Override
        public void close() {
            closed.set(true);
            closes.incrementAndGet();
        }

        @Override
        public String toString() {
            return "Res" + id;
        }
    }

    /** A factory of {@link Res} counting what it made and how many are alive. */
    static final class Factory implements Callable<Res> {
        final AtomicInteger made = new AtomicInteger();
        final AtomicInteger alive = new AtomicInteger();
        final AtomicInteger maxAlive = new AtomicInteger();
        volatile boolean fail;

        @Override
        public Res call() {
            if (fail) {
                throw new IllegalStateException("factory says no");
            }
            int a = alive.incrementAndGet();
            maxAlive.accumulateAndGet(a, Math::max);
            return new Res(made.incrementAndGet());
        }

        void destroyed(Res r) {
            r.close();
            alive.decrementAndGet();
        }
    }

    /** A settable clock. */
    static final class FakeTicker extends Ticker {
        final AtomicLong now = new AtomicLong(1_000_000_000L);

        @Override
        public long read() {
            return now.get();
        }

        void advance(Duration d) {
            now.addAndGet(d.toNanos());
        }
    }

    /** Polls {@code condition} until it holds or 10 s pass. */
    static void eventually(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(1);
        }
    }
}
