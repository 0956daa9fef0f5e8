package dev.refkit.bench;

import dev.refkit.Task;
import dev.refkit.TaskGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.StructuredTaskScope;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Spawning {@code tasks} (10 000) trivial tasks and joining them all, one operation per
 * batch, side by side (issue 10):
 * <ul>
 *   <li>{@code virtual_taskGroup}: {@code TaskGroup.open()} (a new virtual thread per task
 *       on JDK 21+), {@code spawn} each, {@code close()}, then the results by
 *       {@code resultNow()}; against {@code virtual_executor},
 *       {@code Executors.newVirtualThreadPerTaskExecutor()}: {@code submit} each, then
 *       {@code get} each, then {@code close()}; and {@code virtual_structuredTaskScope}, JDK
 *       25's {@code StructuredTaskScope.open()} (preview): {@code fork} each, {@code join()},
 *       then {@code get} each. Targets: the group at most 1.1 times the executor and no slower
 *       than the scope.</li>
 *   <li>{@code platform_taskGroup}: a group with a daemon platform {@code ThreadFactory},
 *       which takes the code path the group's default takes on JDK 17 (a cached pool of the
 *       group's own threads, ended at {@code close()}); against {@code platform_cachedPool},
 *       a new {@code Executors.newCachedThreadPool()} over the same factory doing the same
 *       (submit, get each, {@code shutdown()}). Target: at most 1.1 times. The bench jar is
 *       built for JDK 25, so this pair is how JDK-17 semantics are measured.</li>
 * </ul>
 * Every operation makes its group, executor or scope and ends it, as a user does per batch.
 * The class uses a preview API, so the JVM and the forks need {@code --enable-preview}:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-preview -jar target/benchmarks.jar TaskGroupBench -f 2 -wi 5 -w 2s -i 5 -r 2s
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(jvmArgsAppend = "--enable-preview")
@State(Scope.Benchmark)
public class TaskGroupBench {

    /** How many tasks one operation spawns and joins. */
    @Param("10000")
    public int tasks;

    private static final ThreadFactory PLATFORM = Thread.ofPlatform().daemon().name("bench-task-", 1).factory();

    /** TaskGroup with its default threads: spawn each, close, read the results. */
    @Benchmark
    public long virtual_taskGroup() {
        List<Task<Integer>> list = new ArrayList<>(tasks);
        try (TaskGroup group = TaskGroup.open("bench")) {
            spawnAll(group, list);
        }
        return sumResults(list);
    }

    /** newVirtualThreadPerTaskExecutor: submit each, get each, close. */
    @Benchmark
    public long virtual_executor() throws InterruptedException, ExecutionException {
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            return submitAndGetAll(executor);
        }
    }

    /** StructuredTaskScope (JDK 25 preview): fork each, join, get each. */
    @Benchmark
    public long virtual_structuredTaskScope() throws InterruptedException {
        List<StructuredTaskScope.Subtask<Integer>> list = new ArrayList<>(tasks);
        try (StructuredTaskScope<Object, Void> scope = StructuredTaskScope.open()) {
            for (int i = 0; i < tasks; i++) {
                int v = i;
                list.add(scope.fork(() -> v));
            }
            scope.join();
        }
        long sum = 0;
        for (StructuredTaskScope.Subtask<Integer> s : list) {
            sum += s.get();
        }
        return sum;
    }

    /** TaskGroup on daemon platform threads (the JDK-17 path): spawn each, close, read the results. */
    @Benchmark
    public long platform_taskGroup() {
        List<Task<Integer>> list = new ArrayList<>(tasks);
        try (TaskGroup group = TaskGroup.builder("bench").threadFactory(PLATFORM).build()) {
            spawnAll(group, list);
        }
        return sumResults(list);
    }

    /**
     * A new newCachedThreadPool over the same factory: submit each, get each, shut down (as
     * the group's close() shuts its pool down once every task has ended).
     */
    @Benchmark
    public long platform_cachedPool() throws InterruptedException, ExecutionException {
        ExecutorService executor = Executors.newCachedThreadPool(PLATFORM);
        try {
            return submitAndGetAll(executor);
        } finally {
            executor.shutdown();
        }
    }

    private void spawnAll(TaskGroup group, List<Task<Integer>> list) {
        for (int i = 0; i < tasks; i++) {
            int v = i;
            list.add(group.spawn(() -> v));
        }
    }

    private static long sumResults(List<Task<Integer>> list) {
        long sum = 0;
        for (Task<Integer> t : list) {
            sum += t.resultNow();
        }
        return sum;
    }

    private long submitAndGetAll(ExecutorService executor) throws InterruptedException, ExecutionException {
        List<Future<Integer>> list = new ArrayList<>(tasks);
        for (int i = 0; i < tasks; i++) {
            int v = i;
            list.add(executor.submit(() -> v));
        }
        long sum = 0;
        for (Future<Integer> f : list) {
            sum += f.get();
        }
        return sum;
    }
}
