package dev.refkit.bench.pool;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A cross-check of {@link PoolVirtualThreads} for a noisy machine: the same whole job (1000
 * virtual threads sharing a pool of 10, 100 borrows each, {@code consumeCPU(100)} and, with
 * {@code cpu+yield}, {@code Thread.yield()} while holding), every implementation in one JVM,
 * interleaved round after round so that load which comes and goes hits them all alike. It
 * reports per implementation the median wall time and the median process CPU time of a job
 * (the OS counts that in 10 ms ticks here, so it is coarse), and the median per-round ratio
 * of the first implementation's time to each.
 *
 * <p>Run it as:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -cp target/benchmarks.jar dev.refkit.bench.pool.VirtualThreadsHarness [rounds] [cpu|cpu+yield] [impl...]
 * </pre>
 * Defaults: 30 rounds after 10 warm-up rounds, {@code cpu}; refkit, refkit-unfair, stormpot,
 * stormpot-vtap, commons-pool2, hikari-bag, abq and {@code none} (no pool: the floor).
 *
 * <p><b>Thread safety.</b> Not applicable: a program, run from {@code main}.
 */
public final class VirtualThreadsHarness {

    private static final int SIZE = 10;
    private static final int THREADS = 1000;
    private static final int BORROWS = 100;
    private static final long HOLD_TOKENS = 100;
    private static final OperatingSystemMXBean OS =
            (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private VirtualThreadsHarness() {
    }

    /**
     * Runs the harness.
     *
     * @param args {@code [rounds] [cpu|cpu+yield] [impl...]}
     * @throws Exception if a pool fails
     */
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        boolean yield = args.length > 1 && args[1].equals("cpu+yield");
        if (args.length > 1 && !yield && !args[1].equals("cpu")) {
            throw new IllegalArgumentException("hold must be cpu or cpu+yield: " + args[1]);
        }
        List<String> impls = args.length > 2 ? List.of(args).subList(2, args.length)
                : List.of("refkit", "refkit-unfair", "stormpot", "stormpot-vtap",
                        "commons-pool2", "hikari-bag", "abq", "none");
        Map<String, PoolDriver> drivers = new LinkedHashMap<>();
        try {
            for (String impl : impls) {
                drivers.put(impl, PoolDriver.of(impl, SIZE));
            }
            List<String> names = new ArrayList<>(drivers.keySet());
            for (int w = 0; w < 10; w++) {
                for (PoolDriver d : drivers.values()) {
                    job(d, yield);
                }
            }
            Map<String, double[]> wall = new LinkedHashMap<>();
            Map<String, double[]> cpu = new LinkedHashMap<>();
            for (String n : names) {
                wall.put(n, new double[rounds]);
                cpu.put(n, new double[rounds]);
            }
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < names.size(); k++) {
                    String n = names.get((r + k) % names.size());
                    long c0 = OS.getProcessCpuTime();
                    long t0 = System.nanoTime();
                    job(drivers.get(n), yield);
                    wall.get(n)[r] = (System.nanoTime() - t0) / 1e6;
                    cpu.get(n)[r] = (OS.getProcessCpuTime() - c0) / 1e6;
                }
            }
            String first = names.get(0);
            System.out.printf(Locale.ROOT, "%d virtual threads x %d borrows, pool of %d,"
                    + " consumeCPU(%d)%s while holding, %d rounds, %s, %d CPUs%n", THREADS,
                    BORROWS, SIZE, HOLD_TOKENS, yield ? " + Thread.yield()" : "", rounds,
                    Runtime.version(), Runtime.getRuntime().availableProcessors());
            System.out.printf(Locale.ROOT, "%-14s %10s %10s %10s %12s %18s%n", "impl",
                    "wall ms", "p25", "p75", "process cpu", first + " / this");
            for (String n : names) {
                double[] ratio = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    ratio[r] = wall.get(first)[r] / wall.get(n)[r];
                }
                System.out.printf(Locale.ROOT, "%-14s %10.2f %10.2f %10.2f %12.0f %18.3f%n", n,
                        pct(wall.get(n), 50), pct(wall.get(n), 25), pct(wall.get(n), 75),
                        pct(cpu.get(n), 50), pct(ratio, 50));
            }
        } finally {
            for (PoolDriver d : drivers.values()) {
                d.close();
            }
        }
    }

    private static double pct(double[] values, int p) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[Math.min(v.length - 1, v.length * p / 100)];
    }

    private static void job(PoolDriver d, boolean yield) throws Exception {
        List<Future<Integer>> done = new ArrayList<>(THREADS);
        try (ExecutorService vts = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < THREADS; t++) {
                done.add(vts.submit(() -> {
                    for (int i = 0; i < BORROWS; i++) {
                        d.borrowHoldReturn(HOLD_TOKENS, yield);
                    }
                    return BORROWS;
                }));
            }
        }
        for (Future<Integer> f : done) {
            f.get();
        }
    }
}
