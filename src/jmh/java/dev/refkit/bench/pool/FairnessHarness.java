package dev.refkit.bench.pool;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Two platform threads fighting over a pool of one object for a fixed time: per-thread
 * borrow counts and the longest single wait, for Refkit's {@code Pool} (fair, its default) and
 * each peer of {@link PoolBorrowReturn}. Each thread loops borrow, a little work
 * ({@code Blackhole.consumeCPU}), return, and borrows again at once, which is the hardest case
 * for fairness: the returning thread is always first in line unless the pool hands the object
 * to the waiter. A warm-up phase of the same length runs first and is not counted. Besides the
 * longest wait it counts the waits over 1 ms and over 5 ms: on a loaded machine a thread
 * descheduled while it holds the object makes the other wait a whole time slice, which is the
 * scheduler's doing, not the pool's, and shows as a handful of long waits rather than many.
 * A measure of starvation that depends less on the scheduler is {@code overtakes}: the most
 * borrows the other thread made while one thread was in a single borrow call, and
 * {@code overtaken>1}, how many borrows saw more than one (with a strictly fair pool of one
 * object the waiter is next once the holder returns, so only a thread descheduled before it
 * joined the line can be overtaken more than once).
 * The first row, {@code none}, is the baseline that shows it: the same two loops with no pool
 * at all (each "wait" is then just the time to read the clock twice, plus any time the thread
 * was descheduled in between). Before the rows, a hiccup meter runs for the same time: two
 * threads that only read the clock, reporting the longest gap between two reads (a stall of
 * the thread by the guest scheduler or of its virtual CPU by the host). With a pool of one,
 * every such stall of the holder is a wait of the other thread, so no pool's longest wait can
 * be much shorter than the longest hiccup.
 *
 * <p>Run it as:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -cp target/benchmarks.jar dev.refkit.bench.pool.FairnessHarness [seconds] [holdTokens] [impl...]
 * </pre>
 * Defaults: 3 seconds per implementation, 100 tokens of work while holding, every
 * implementation. Targets for Refkit: longest wait under 5 ms, busier thread at most 1.2
 * times the other's count.
 *
 * <p><b>Thread safety.</b> Not applicable: a program, run from {@code main}.
 */
public final class FairnessHarness {

    private FairnessHarness() {
    }

    /** What one thread saw during the measured phase. */
    private record ThreadResult(long count, long longestWaitNanos, long totalWaitNanos,
            long over1ms, long over5ms, long maxOvertakes, long overtakenTwice) {
    }

    /**
     * Runs the harness.
     *
     * @param args {@code [seconds] [holdTokens] [impl...]}
     * @throws Exception if a pool fails
     */
    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        long holdTokens = args.length > 1 ? Long.parseLong(args[1]) : 100;
        List<String> impls = args.length > 2
                ? List.of(args).subList(2, args.length)
                : concat("none", PoolDriver.NAMES);
        long phaseNanos = (long) (seconds * 1e9);
        System.out.printf(Locale.ROOT, "2 threads, pool of 1, %.1f s per implementation"
                + " (after %.1f s warm-up), hold = consumeCPU(%d), %s%n",
                seconds, seconds, holdTokens, Runtime.version());
        System.out.printf(Locale.ROOT,
                "%-14s %10s %10s %8s %13s %11s %9s %9s %9s %10s  %s%n",
                "impl", "thread A", "thread B", "busier", "longest wait", "mean wait",
                "waits>1ms", "waits>5ms", "overtakes", "overtaken>1", "targets");
        long[] hiccups = hiccups(phaseNanos);
        System.out.printf(Locale.ROOT, "%-14s %10s %10s %8s %10.3f ms %11s %9d %9d%n",
                "(hiccups)", "", "", "", hiccups[0] / 1e6, "", hiccups[1], hiccups[2]);
        for (String impl : impls) {
            try (PoolDriver driver = PoolDriver.of(impl, 1)) {
                run(driver, holdTokens, phaseNanos); // warm-up
                ThreadResult[] r = run(driver, holdTokens, phaseNanos);
                long hi = Math.max(r[0].count(), r[1].count());
                long lo = Math.min(r[0].count(), r[1].count());
                double ratio = lo == 0 ? Double.POSITIVE_INFINITY : (double) hi / lo;
                long longest = Math.max(r[0].longestWaitNanos(), r[1].longestWaitNanos());
                double meanWait = (double) (r[0].totalWaitNanos() + r[1].totalWaitNanos())
                        / Math.max(1, r[0].count() + r[1].count());
                boolean met = !impl.equals("none")
                        && longest < TimeUnit.MILLISECONDS.toNanos(5) && ratio <= 1.2;
                System.out.printf(Locale.ROOT,
                        "%-14s %10d %10d %7.2fx %10.3f ms %8.3f us %9d %9d %9d %10d  %s%n",
                        impl, r[0].count(), r[1].count(), ratio, longest / 1e6, meanWait / 1e3,
                        r[0].over1ms() + r[1].over1ms(), r[0].over5ms() + r[1].over5ms(),
                        Math.max(r[0].maxOvertakes(), r[1].maxOvertakes()),
                        r[0].overtakenTwice() + r[1].overtakenTwice(),
                        impl.equals("none") ? "(baseline)" : met ? "met" : "missed");
            }
        }
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> all = new ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    /**
     * Two threads that only read the clock for {@code phaseNanos}: the longest gap between two
     * reads on either, and the numbers of gaps over 1 ms and over 5 ms.
     */
    private static long[] hiccups(long phaseNanos) throws InterruptedException {
        long[][] seen = new long[2][];
        List<Thread> threads = new ArrayList<>(2);
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < 2; t++) {
            int index = t;
            threads.add(Thread.ofPlatform().name("hiccup-" + t).start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                long longest = 0;
                long over1ms = 0;
                long over5ms = 0;
                long prev = System.nanoTime();
                long end = prev + phaseNanos;
                while (prev - end < 0) {
                    long now = System.nanoTime();
                    long gap = now - prev;
                    if (gap > 1_000_000) {
                        over1ms++;
                        if (gap > 5_000_000) {
                            over5ms++;
                        }
                    }
                    longest = Math.max(longest, gap);
                    prev = now;
                }
                seen[index] = new long[] {longest, over1ms, over5ms};
            }));
        }
        start.countDown();
        for (Thread thread : threads) {
            thread.join();
        }
        return new long[] {
            Math.max(seen[0][0], seen[1][0]), seen[0][1] + seen[1][1], seen[0][2] + seen[1][2]
        };
    }

    /** Runs both threads for {@code phaseNanos} and returns what each saw. */
    private static ThreadResult[] run(PoolDriver driver, long holdTokens, long phaseNanos)
            throws Exception {
        CyclicBarrier start = new CyclicBarrier(2);
        AtomicLong borrows = new AtomicLong(); // bumped only by the holder of the one object
        ThreadResult[] results = new ThreadResult[2];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(2);
        for (int t = 0; t < 2; t++) {
            int index = t;
            threads.add(Thread.ofPlatform().name("fair-" + (char) ('A' + t)).start(() -> {
                try {
                    start.await();
                    long end = System.nanoTime() + phaseNanos;
                    long count = 0;
                    long longest = 0;
                    long total = 0;
                    long over1ms = 0;
                    long over5ms = 0;
                    long maxOvertakes = 0;
                    long overtakenTwice = 0;
                    while (true) {
                        long t0 = System.nanoTime();
                        if (t0 - end >= 0) {
                            break;
                        }
                        long before = borrows.get();
                        Object handle = driver.borrow();
                        long waited = System.nanoTime() - t0;
                        long overtakes = borrows.incrementAndGet() - before - 1;
                        maxOvertakes = Math.max(maxOvertakes, overtakes);
                        if (overtakes > 1) {
                            overtakenTwice++;
                        }
                        try {
                            Blackhole.consumeCPU(holdTokens);
                        } finally {
                            driver.giveBack(handle);
                        }
                        count++;
                        total += waited;
                        longest = Math.max(longest, waited);
                        if (waited > 1_000_000) {
                            over1ms++;
                            if (waited > 5_000_000) {
                                over5ms++;
                            }
                        }
                    }
                    results[index] = new ThreadResult(count, longest, total, over1ms, over5ms,
                            maxOvertakes, overtakenTwice);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        Throwable e = failure.get();
        if (e != null) {
            throw new IllegalStateException("a fairness thread failed", e);
        }
        return results;
    }
}
