package dev.refkit.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.refkit.Lease;
import dev.refkit.Shared;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Races on {@link Shared}: an {@code acquire()} against the release of the last lease. The
 * value's "closed" flag is a plain field, so a missing happens-before edge shows as a
 * closed value lent out.
 */
public final class SharedTests {
    private SharedTests() {}

    /** A value with a plain closed flag. */
    static final class Value {
        int closed;
    }

    /** acquire() races the last release: the acquirer never gets a closed value. */
    @JCStressTest
    @Outcome(id = "0, 1, 0", expect = ACCEPTABLE,
            desc = "acquire first: the release only decremented; one value, never closed")
    @Outcome(id = "0, 2, 1", expect = ACCEPTABLE,
            desc = "release first: the value was closed, the acquire made a new one")
    @Outcome(expect = FORBIDDEN, desc = "a closed value lent, or opens and closes unpaired")
    @State
    public static class AcquireRacesLastRelease {
        int opened;
        int closedCount;
        final Shared<Value> shared = Shared.of("v", () -> {
            opened++;
            return new Value();
        }, v -> {
            closedCount++;
            v.closed = 1;
        });
        final Lease<Value> held = shared.acquire();

        @Actor
        public void acquirer(III_Result r) {
            Lease<Value> l = shared.acquire();
            r.r1 = l.get().closed;
        }

        @Actor
        public void releaser() {
            held.close();
        }

        @Arbiter
        public void after(III_Result r) {
            r.r2 = shared.openCount() == 1 ? opened : -1;
            r.r3 = closedCount;
        }
    }
}
