package dev.refkit.bench.pool;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.openjdk.jmh.infra.Blackhole;

/**
 * A cross-check of {@link PoolBorrowReturn} for a noisy machine: all implementations in one
 * JVM, measured in short interleaved slices (round after round, each round visiting every
 * implementation), so that load which comes and goes hits them all alike. It reports, per
 * implementation and for 1 and 2 threads, the median wall time per borrow+return, the median
 * thread CPU time per borrow+return (time the thread was descheduled is not counted), the
 * median per-round ratio of the first implementation's times to each, and the median number
 * of voluntary context switches per slice (on Linux: how often the threads parked or blocked).
 *
 * <p>JMH's figures stay the reference; here each implementation's loop is compiled on its own
 * ({@link PoolDriver#borrowReturnLoop}), which is close to, but not the same as, JMH's
 * generated loop.
 *
 * <p>Run it as:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -cp target/benchmarks.jar dev.refkit.bench.pool.RatioHarness [rounds] [impl...]
 * </pre>
 * Defaults: 30 rounds of about 20 ms per implementation and thread count, after a warm-up,
 * over every implementation; the first implementation named is the one compared.
 *
 * <p><b>Thread safety.</b> Not applicable: a program, run from {@code main}.
 */
public final class RatioHarness {

    private static final int SIZE = 10;
    private static final long SLICE_NANOS = 20_000_000;
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    private RatioHarness() {
    }

    /** One measured slice: per-thread wall and CPU nanoseconds per operation. */
    private record Slice(double wallPerOp, double cpuPerOp, long voluntarySwitches) {
    }

    /**
     * Runs the harness.
     *
     * @param args {@code [rounds] [impl...]}
     * @throws Exception if a pool fails
     */
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        List<String> impls = args.length > 1 ? List.of(args).subList(1, args.length)
                : PoolDriver.NAMES;
        Map<String, PoolDriver> drivers = new LinkedHashMap<>();
        try {
            for (String impl : impls) {
                drivers.put(impl, PoolDriver.of(impl, SIZE));
            }
            System.out.printf(Locale.ROOT, "pool of %d, %d rounds, %s, %d CPUs%n", SIZE, rounds,
                    Runtime.version(), Runtime.getRuntime().availableProcessors());
            for (int threads = 1; threads <= 2; threads++) {
                report(drivers, threads, rounds);
            }
        } finally {
            for (PoolDriver d : drivers.values()) {
                d.close();
            }
        }
    }

    private static void report(Map<String, PoolDriver> drivers, int threads, int rounds)
            throws Exception {
        Map<String, Integer> batch = new LinkedHashMap<>();
        // Warm-up: compile every loop and size a batch to about one slice.
        for (int w = 0; w < 3; w++) {
            for (Map.Entry<String, PoolDriver> e : drivers.entrySet()) {
                int n = batch.getOrDefault(e.getKey(), 10_000);
                Slice s = slice(e.getValue(), threads, n);
                batch.put(e.getKey(), (int) Math.max(1_000, Math.min(50_000_000,
                        SLICE_NANOS / Math.max(0.1, s.wallPerOp()))));
            }
        }
        List<String> names = new ArrayList<>(drivers.keySet());
        Map<String, double[]> wall = new LinkedHashMap<>();
        Map<String, double[]> cpu = new LinkedHashMap<>();
        Map<String, double[]> parks = new LinkedHashMap<>();
        for (String n : names) {
            wall.put(n, new double[rounds]);
            cpu.put(n, new double[rounds]);
            parks.put(n, new double[rounds]);
        }
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < names.size(); k++) {
                String n = names.get((r + k) % names.size()); // rotate the order each round
                Slice s = slice(drivers.get(n), threads, batch.get(n));
                wall.get(n)[r] = s.wallPerOp();
                cpu.get(n)[r] = s.cpuPerOp();
                parks.get(n)[r] = s.voluntarySwitches();
            }
        }
        System.out.printf(Locale.ROOT, "%n%d thread%s: median ns per borrow+return (per thread)%n",
                threads, threads == 1 ? "" : "s");
        System.out.printf(Locale.ROOT, "%-14s %10s %10s %10s %10s %22s %12s%n", "impl",
                "wall", "wall p25", "wall p75", "cpu", "first / this", "vol. switch");
        String first = names.get(0);
        for (String n : names) {
            double[] ratio = new double[rounds];
            double[] ratioCpu = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                ratio[r] = wall.get(first)[r] / wall.get(n)[r];
                ratioCpu[r] = cpu.get(first)[r] / cpu.get(n)[r];
            }
            System.out.printf(Locale.ROOT,
                    "%-14s %10.2f %10.2f %10.2f %10.2f %8.3f (cpu %5.3f) %12.0f%n",
                    n, pct(wall.get(n), 50), pct(wall.get(n), 25), pct(wall.get(n), 75),
                    pct(cpu.get(n), 50), pct(ratio, 50), pct(ratioCpu, 50),
                    pct(parks.get(n), 50));
        }
    }

    private static double pct(double[] values, int p) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[Math.min(v.length - 1, v.length * p / 100)];
    }

    /** Runs {@code n} cycles on each of {@code threads} threads at once. */
    private static Slice slice(PoolDriver d, int threads, int n) throws Exception {
        if (threads == 1) {
            return run(d, n, new Blackhole(
                    "Today's password is swordfish. I understand instantiating Blackholes"
                            + " directly is dangerous."));
        }
        CyclicBarrier start = new CyclicBarrier(threads);
        Slice[] out = new Slice[threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            all.add(Thread.ofPlatform().start(() -> {
                try {
                    Blackhole bh = new Blackhole("Today's password is swordfish. I understand"
                            + " instantiating Blackholes directly is dangerous.");
                    start.await();
                    out[index] = run(d, n, bh);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : all) {
            t.join();
        }
        if (failure.get() != null) {
            throw new IllegalStateException("a worker failed", failure.get());
        }
        double wall = 0;
        double cpu = 0;
        long switches = 0;
        for (Slice s : out) {
            wall += s.wallPerOp() / threads;
            cpu += s.cpuPerOp() / threads;
            switches += s.voluntarySwitches();
        }
        return new Slice(wall, cpu, switches);
    }

    private static Slice run(PoolDriver d, int n, Blackhole bh) throws Exception {
        long v0 = voluntarySwitches();
        long c0 = MX.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        d.borrowReturnLoop(bh, n);
        long t1 = System.nanoTime();
        long c1 = MX.getCurrentThreadCpuTime();
        long v1 = voluntarySwitches();
        return new Slice((double) (t1 - t0) / n, (double) (c1 - c0) / n, v1 - v0);
    }

    /**
     * The calling thread's voluntary context switches so far (it parked, slept or blocked),
     * from Linux's {@code /proc/thread-self/status}; 0 where that file does not exist.
     */
    private static long voluntarySwitches() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
                if (line.startsWith("voluntary_ctxt_switches:")) {
                    return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: report none
        }
        return 0;
    }
}
