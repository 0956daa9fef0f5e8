package dev.refkit;

import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.Task.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many short tasks spawned at once from many threads, outside and inside the group: none is
 * lost, each runs exactly once, and close returns only after every one has ended.
 */
@Timeout(300)
final class TaskGroupStressTest {

    private static final int TASKS = 100_000;
    private static final int OUTSIDE = 8;
    private static final int INSIDE = 8;

    /** 100 000 tasks from 8 outside threads and 8 tasks of the group: each runs once, all joined. */
    @Test
    void close_100kTasksFromManyThreads_noneLostEveryOneJoined() throws Exception {
        int spawners = OUTSIDE + INSIDE;
        int perSpawner = TASKS / spawners;
        AtomicIntegerArray runs = new AtomicIntegerArray(TASKS);
        AtomicInteger ended = new AtomicInteger();
        Queue<Task<?>> spawned = new ConcurrentLinkedQueue<>();
        Queue<Throwable> problems = new ConcurrentLinkedQueue<>();
        CyclicBarrier go = new CyclicBarrier(spawners);
        CountDownLatch spawnersDone = new CountDownLatch(spawners);
        AtomicReference<Thread> firstThread = new AtomicReference<>();
        TaskGroup g = TaskGroup.open("stress");
        List<Thread> outside = new ArrayList<>();
        for (int s = 0; s < spawners; s++) {
            int base = s * perSpawner;
            Runnable spawner = () -> {
                try {
                    go.await();
                    for (int i = 0; i < perSpawner; i++) {
                        int id = base + i;
                        spawned.add(g.spawn(() -> {
                            if (id == 0) {
                                firstThread.set(Thread.currentThread());
                            }
                            runs.incrementAndGet(id);
                            ended.incrementAndGet();
                            return id;
                        }));
                    }
                } catch (Throwable e) {
                    problems.add(e);
                } finally {
                    spawnersDone.countDown();
                }
            };
            if (s < OUTSIDE) {
                outside.add(TestThreads.start(spawner));
            } else {
                g.spawn(spawner::run);
            }
        }
        Thread monitor = TestThreads.start(() -> {
            while (spawnersDone.getCount() > 0) {
                try {
                    g.tasks().size(); // a snapshot while thousands spawn and end: never throws
                    g.toString();
                } catch (Throwable e) {
                    problems.add(e);
                    return;
                }
            }
        });
        await(spawnersDone);
        g.close();
        int endedAtClose = ended.get();
        TestThreads.joinAll(outside);
        TestThreads.joinAll(List.of(monitor));
        if (Runtime.version().feature() >= 21) {
            assertTrue(TaskGroupAttackTest.isVirtual(firstThread.get()),
                    "JDK 21+: the tasks must run on virtual threads, ran on " + firstThread.get());
        }
        assertEquals(List.of(), List.copyOf(problems));
        assertEquals(TASKS, endedAtClose, "close returned before every task ended");
        assertEquals(TASKS, spawned.size());
        for (int i = 0; i < TASKS; i++) {
            if (runs.get(i) != 1) {
                throw new AssertionError("task " + i + " ran " + runs.get(i) + " times");
            }
        }
        for (Task<?> t : spawned) {
            if (t.status() != Status.SUCCEEDED) {
                throw new AssertionError(t.name() + " " + t.status() + " after close");
            }
        }
        assertEquals(List.of(), g.tasks());
        assertEquals(TASKS, ended.get(), "a task ran after close returned");
    }

    /**
     * Rule 4 under load: spawners racing close either get a task that runs and is waited
     * for, or a ClosedException; no accepted task is lost or runs unwaited, no refused one runs.
     */
    @Test
    void spawn_racingClose_eachTaskRunsAndJoinedOrRefused() throws Exception {
        int threads = 8;
        int maxEach = TASKS / threads;
        AtomicIntegerArray runs = new AtomicIntegerArray(TASKS);
        AtomicInteger ended = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        AtomicIntegerArray refused = new AtomicIntegerArray(TASKS);
        Queue<Throwable> problems = new ConcurrentLinkedQueue<>();
        CountDownLatch spawning = new CountDownLatch(threads);
        TaskGroup g = TaskGroup.open("race");
        List<Thread> spawners = new ArrayList<>();
        for (int s = 0; s < threads; s++) {
            int base = s * maxEach;
            spawners.add(TestThreads.start(() -> {
                for (int i = 0; i < maxEach; i++) {
                    int id = base + i;
                    try {
                        g.spawn(() -> {
                            runs.incrementAndGet(id);
                            ended.incrementAndGet();
                        });
                        accepted.incrementAndGet();
                    } catch (ClosedException e) {
                        refused.set(id, 1);
                        break;
                    } catch (Throwable e) {
                        problems.add(e);
                        break;
                    } finally {
                        if (i == 100) {
                            spawning.countDown();
                        }
                    }
                }
            }));
        }
        await(spawning);
        g.close();
        int endedAtClose = ended.get();
        TestThreads.joinAll(spawners);
        assertEquals(List.of(), List.copyOf(problems));
        assertEquals(accepted.get(), endedAtClose,
                "close returned with accepted tasks still unended (or a task ran twice)");
        int ran = 0;
        for (int i = 0; i < TASKS; i++) {
            int r = runs.get(i);
            assertTrue(r <= 1, "task " + i + " ran " + r + " times");
            assertTrue(r == 0 || refused.get(i) == 0, "refused task " + i + " ran");
            ran += r;
        }
        assertEquals(accepted.get(), ran);
        assertEquals(endedAtClose, ended.get(), "a task ran after close returned");
    }

    /**
     * The group's own run state cancelled directly, 2000 times: a task woken from
     * {@code RunState.sleep} by that cancel, which then throws {@code CancellationException}
     * from {@code throwIfCancelled()}, is
     * cancelled, never a failure, even when it ends before the group has seen the cancel.
     */
    @Test
    void runStateCancelledDirectly_wokenSleeperIsNeverAFailure() throws Exception {
        for (int round = 0; round < 2000; round++) {
            TaskGroup g = TaskGroup.open("g" + round);
            CountDownLatch asleep = new CountDownLatch(1);
            Task<?> t = g.spawn(() -> {
                asleep.countDown();
                g.runState().sleep(java.time.Duration.ofMinutes(10));
                g.runState().throwIfCancelled();
            });
            await(asleep);
            g.runState().cancel("stop");
            g.close(); // throws the task's failure if it counted as one
            assertEquals(Status.CANCELLED, t.status(), "round " + round + ": " + t);
        }
    }
}
