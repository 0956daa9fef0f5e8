package dev.refkit.bench.pool;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Borrow and return one object, with try-with-resources (or the peer's equivalent), on a pool
 * of 10, from 1 and from 2 threads: Refkit's {@code Pool} against Stormpot 4.1, commons-pool2
 * 2.13 {@code GenericObjectPool}, HikariCP 7.0.2's {@code ConcurrentBag} and a plain
 * {@code ArrayBlockingQueue}, and the floor of two atomic operations ({@code atomic}: one
 * shared {@code AtomicInteger} incremented and decremented around the object). Average time per borrow+return.
 *
 * <p>Run it, with the allocation per operation ({@code gc.alloc.rate.norm}), as:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar target/benchmarks.jar 'pool.PoolBorrowReturn' -prof gc
 * </pre>
 * It runs 2 forks of 5 one-second warm-up and 5 one-second measured iterations per
 * implementation and thread count; add {@code -f 1 -wi 3 -i 3} for a quick look,
 * {@code -p impl=refkit,refkit-unfair,stormpot} to pick implementations, and
 * {@code -jvmArgsAppend -XX:-DoEscapeAnalysis} to see what a borrow allocates when escape
 * analysis cannot remove the lease. {@link RatioHarness} cross-checks the ratios on a noisy
 * machine.
 *
 * <p><b>Thread safety.</b> The pool is shared by the benchmark's threads
 * ({@link Scope#Benchmark}); each thread has its own {@link Blackhole}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
@Fork(2)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class PoolBorrowReturn {

    /** Which pool: one of {@link PoolDriver#NAMES}. */
    @Param({"refkit", "stormpot", "commons-pool2", "hikari-bag", "abq", "atomic"})
    public String impl;

    /** The pool's size. */
    @Param("10")
    public int size;

    private PoolDriver driver;

    /** Builds and fills the pool. */
    @Setup(Level.Trial)
    public void setUp() throws Exception {
        driver = PoolDriver.of(impl, size);
    }

    /** Closes the pool. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        driver.close();
    }

    /**
     * One thread borrows and returns.
     *
     * @param bh takes the borrowed object
     */
    @Benchmark
    @Threads(1)
    public void oneThread(Blackhole bh) throws Exception {
        driver.borrowReturn(bh);
    }

    /**
     * Two threads borrow and return at once.
     *
     * @param bh takes the borrowed object
     */
    @Benchmark
    @Threads(2)
    public void twoThreads(Blackhole bh) throws Exception {
        driver.borrowReturn(bh);
    }
}
