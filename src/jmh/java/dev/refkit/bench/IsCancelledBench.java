package dev.refkit.bench;

import dev.refkit.RunState;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The cost of polling {@link RunState#isCancelled()} in a daemon loop, against a plain
 * {@code AtomicBoolean.get()} (the floor) in the same run: one call per operation, and a
 * loop of 1,000 polls the way a busy loop polls. Target: at most 1.1 times the floor.
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * java -jar target/benchmarks.jar IsCancelledBench -f 1 -wi 3 -w 1s -i 5 -r 1s
 * java -jar target/benchmarks.jar IsCancelledBench -f 1 -wi 3 -w 1s -i 5 -r 1s -t 2
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IsCancelledBench {

    private static final int LOOP = 1_000;

    /** One running, never cancelled RunState and one false AtomicBoolean, shared by all threads. */
    @State(Scope.Benchmark)
    public static class Flags {
        RunState run;
        AtomicBoolean flag;

        /** Starts the RunState. */
        @Setup
        public void setup() {
            run = new RunState("bench");
            run.start();
            flag = new AtomicBoolean();
        }
    }

    /** One isCancelled() call. */
    @Benchmark
    public boolean runStateIsCancelled(Flags f) {
        return f.run.isCancelled();
    }

    /** One AtomicBoolean.get() call: the floor. */
    @Benchmark
    public boolean atomicBooleanGet(Flags f) {
        return f.flag.get();
    }

    /** A loop polling isCancelled() 1,000 times, as a busy loop does. */
    @Benchmark
    @OperationsPerInvocation(LOOP)
    public int runStateIsCancelledLoop(Flags f) {
        RunState run = f.run;
        int n = 0;
        for (int i = 0; i < LOOP; i++) {
            if (!run.isCancelled()) {
                n++;
            }
        }
        return n;
    }

    /** A loop polling AtomicBoolean.get() 1,000 times: the floor. */
    @Benchmark
    @OperationsPerInvocation(LOOP)
    public int atomicBooleanGetLoop(Flags f) {
        AtomicBoolean flag = f.flag;
        int n = 0;
        for (int i = 0; i < LOOP; i++) {
            if (!flag.get()) {
                n++;
            }
        }
        return n;
    }
}
