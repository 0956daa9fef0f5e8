package dev.refkit.bench;

import dev.refkit.Handle;
import dev.refkit.Lease;
import dev.refkit.MultiOpen;
import dev.refkit.Shared;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The cost of one open+close pair on an object that stays open (no hook runs), against
 * Netty's {@code AbstractReferenceCounted} retain+release, a plain {@code AtomicInteger}
 * increment+decrement (the floor) and a {@code synchronized} counter (a direct port of the
 * Python design); plus a whole first-open/last-close cycle with empty hooks, and the pair
 * through {@code Shared.acquire()}. Run at 1 thread and at 2 threads on the same object:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * java -jar target/benchmarks.jar OpenCloseBench -f 1 -wi 3 -w 1s -i 5 -r 1s -t 1
 * java -jar target/benchmarks.jar OpenCloseBench -f 1 -wi 3 -w 1s -i 5 -r 1s -t 2
 * java -jar target/benchmarks.jar OpenCloseBench -f 1 -wi 3 -w 1s -i 5 -r 1s -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class OpenCloseBench {

    /** A MultiOpen with empty hooks. */
    static final class Res extends MultiOpen {
        Res() {
            super("bench");
        }
    }

    /** Netty's reference counting with nothing to free. */
    static final class NettyRef extends AbstractReferenceCounted {
        @Override
        protected void deallocate() {}

        @Override
        public ReferenceCounted touch(Object hint) {
            return this;
        }
    }

    /** A direct port of the Python design: one monitor around the count and the hooks. */
    static final class SyncCounter {
        private int count;

        synchronized void open() {
            if (++count == 1) {
                startup();
            }
        }

        synchronized void close() {
            if (count == 0) {
                throw new IllegalStateException("close() without a matching open()");
            }
            if (--count == 0) {
                shutdown();
            }
        }

        private void startup() {}

        private void shutdown() {}
    }

    /** The objects every thread shares; each is held open once so no hook runs. */
    @State(Scope.Benchmark)
    public static class Objects {
        final Res multiOpen = new Res();
        final NettyRef netty = new NettyRef(); // refCnt 1 from birth
        final AtomicInteger atomic = new AtomicInteger(1);
        final SyncCounter sync = new SyncCounter();
        final Shared<Object> shared = Shared.of("bench", Object::new, o -> {});
        Handle held;
        Lease<Object> heldLease;

        @Setup(Level.Trial)
        public void open() {
            held = multiOpen.open();
            heldLease = shared.acquire();
            sync.open();
        }

        @TearDown(Level.Trial)
        public void close() {
            held.close();
            heldLease.close();
        }
    }

    /** A per-thread object that is not held open, for the whole-cycle benchmark. */
    @State(Scope.Thread)
    public static class PerThread {
        final Res cycling = new Res();
    }

    /** The open()+close() pair, closing through the object. */
    @Benchmark
    public void multiOpen_openClose(Objects o) {
        o.multiOpen.open();
        o.multiOpen.close();
    }

    /** The pair as users write it: try-with-resources on the Handle. */
    @Benchmark
    @SuppressWarnings("try")
    public void multiOpen_handle(Objects o) {
        try (Handle h = o.multiOpen.open()) {
            // nothing
        }
    }

    /** Netty's retain()+release() on an object that stays referenced. */
    @Benchmark
    public void netty_retainRelease(Objects o) {
        o.netty.retain();
        o.netty.release();
    }

    /** The floor: one atomic increment and one decrement. */
    @Benchmark
    public void atomic_incDec(Objects o) {
        o.atomic.incrementAndGet();
        o.atomic.decrementAndGet();
    }

    /** The Python design: a synchronized counter. */
    @Benchmark
    public void sync_openClose(Objects o) {
        o.sync.open();
        o.sync.close();
    }

    /** The pair through Shared: acquire, get, release. */
    @Benchmark
    public Object shared_acquireRelease(Objects o) {
        try (Lease<Object> l = o.shared.acquire()) {
            return l.get();
        }
    }

    /** A whole cycle: first open (startup, empty) and last close (shutdown, empty). */
    @Benchmark
    public void multiOpen_cycle(PerThread t, Blackhole bh) {
        try (Handle h = t.cycling.open()) {
            bh.consume(h);
        }
    }
}
