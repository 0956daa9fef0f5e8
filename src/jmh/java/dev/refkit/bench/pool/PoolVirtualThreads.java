package dev.refkit.bench.pool;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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

/**
 * The whole-job time of {@code threads} virtual threads (1000) sharing a pool of 10, each
 * borrowing {@code borrows} times and doing a little work while it holds the object
 * ({@code holdTokens} of {@code Blackhole.consumeCPU}, then, with {@code hold=cpu+yield}, a
 * {@code Thread.yield()}). One operation
 * is the whole job: start every thread, wait until all have finished. Needs JDK 21+.
 *
 * <p>The peers are those of {@link PoolBorrowReturn}, plus {@code stormpot-vtap}: Stormpot's
 * {@code getVirtualThreadSafeTap()}, which its documentation advises for virtual threads, so
 * that "the fastest peer" is the peer at its best.
 *
 * <p>Run it as:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar target/benchmarks.jar 'pool.PoolVirtualThreads'
 * </pre>
 * It runs 2 forks of 5 one-second warm-up and 5 one-second measured iterations per
 * implementation; add {@code -f 1 -wi 3 -i 3} for a quick look.
 *
 * <p><b>Thread safety.</b> The pool is shared ({@link Scope#Benchmark}); the benchmark runs on
 * one JMH thread, which starts the virtual threads.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(2)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class PoolVirtualThreads {

    /** Which pool: {@link PoolDriver#NAMES}, {@code refkit-unfair} or {@code stormpot-vtap}. */
    @Param({"refkit", "refkit-unfair", "stormpot", "stormpot-vtap", "commons-pool2", "hikari-bag",
        "abq"})
    public String impl;

    /** The pool's size. */
    @Param("10")
    public int size;

    /** How many virtual threads share the pool. */
    @Param("1000")
    public int threads;

    /** How many times each virtual thread borrows. */
    @Param("100")
    public int borrows;

    /** The work done while holding an object, in {@code Blackhole.consumeCPU} tokens. */
    @Param("100")
    public long holdTokens;

    /**
     * What a thread does while it holds an object: {@code cpu} burns {@code holdTokens};
     * {@code cpu+yield} then also calls {@code Thread.yield()}, so the virtual thread leaves
     * its carrier while holding, as in a blocking call - only then do the 1000 threads really
     * compete for the 10 objects (with {@code cpu} alone at most one object per carrier is
     * ever lent).
     */
    @Param({"cpu", "cpu+yield"})
    public String hold;

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
     * Runs the whole job once.
     *
     * @return the number of borrows done, so the job is not dead code
     * @throws Exception if a borrow failed in any virtual thread
     */
    @Benchmark
    public long job() throws Exception {
        PoolDriver d = driver;
        int n = borrows;
        long tokens = holdTokens;
        boolean yield = switch (hold) {
            case "cpu" -> false;
            case "cpu+yield" -> true;
            default -> throw new IllegalArgumentException("hold: " + hold);
        };
        List<Future<Integer>> done = new ArrayList<>(threads);
        try (ExecutorService vts = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < threads; t++) {
                done.add(vts.submit(() -> {
                    for (int i = 0; i < n; i++) {
                        d.borrowHoldReturn(tokens, yield);
                    }
                    return n;
                }));
            }
        }
        long total = 0;
        for (Future<Integer> f : done) {
            total += f.get(); // rethrows a failure in a virtual thread
        }
        return total;
    }
}
