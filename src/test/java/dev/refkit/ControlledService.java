package dev.refkit;

import com.google.common.util.concurrent.AbstractService;
import com.google.common.util.concurrent.Uninterruptibles;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A Guava service for tests: starting and stopping each run on a new thread, each waits
 * for its gate (open unless set) and then succeeds or fails with what the test set; the
 * test can also make it fail or stop by itself.
 */
final class ControlledService extends AbstractService {
    private final String name;
    volatile CountDownLatch startGate = new CountDownLatch(0);
    volatile CountDownLatch stopGate = new CountDownLatch(0);
    volatile @Nullable Throwable startFailure;
    volatile @Nullable Throwable stopFailure;
    final AtomicInteger starts = new AtomicInteger();
    final AtomicInteger stops = new AtomicInteger();
    /** Counted down once doStop() was called. */
    final CountDownLatch stopAsked = new CountDownLatch(1);

    ControlledService(String name) {
        this.name = name;
    }

    @Override
    protected void doStart() {
        starts.incrementAndGet();
        TestThreads.start(() -> {
            Uninterruptibles.awaitUninterruptibly(startGate);
            Throwable f = startFailure;
            if (f != null) {
                notifyFailed(f);
            } else {
                notifyStarted();
            }
        });
    }

    @Override
    protected void doStop() {
        stops.incrementAndGet();
        stopAsked.countDown();
        TestThreads.start(() -> {
            Uninterruptibles.awaitUninterruptibly(stopGate);
            Throwable f = stopFailure;
            if (f != null) {
                notifyFailed(f);
            } else {
                notifyStopped();
            }
        });
    }

    /** Fails by itself, now, in this thread. */
    void failNow(Throwable t) {
        notifyFailed(t);
    }

    @Override
    public String toString() {
        return name + " [" + state() + "]";
    }
}
