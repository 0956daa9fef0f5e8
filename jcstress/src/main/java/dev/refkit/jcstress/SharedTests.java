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
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Races on {@link Shared}: an {@code acquire()} against the close of the last lease, and
 * {@code refresh()} against acquires and lease closes. A value's "closed" count is a plain
 * field, so a missing happens-before edge shows as a closed value lent out, and a value
 * closed twice or never shows in the arbiter.
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

    /** A value that counts its closes in a plain field. */
    static final class Counted {
        int closes;
    }

    /** Values made by one Shared, in order; plain fields, read by the arbiter. */
    abstract static class Made {
        final Counted[] made = new Counted[8];
        int count;
        final Shared<Counted> shared = Shared.of("c", () -> {
            Counted c = new Counted();
            made[count++] = c;
            return c;
        }, c -> c.closes++);

        /** 1 if every value made was closed exactly once and nothing is live, else 0. */
        int eachClosedOnce() {
            for (int i = 0; i < count; i++) {
                if (made[i].closes != 1) {
                    return 0;
                }
            }
            return shared.openCount() == 0 && !shared.isOpen() ? 1 : 0;
        }
    }

    /**
     * refresh() races an acquire, a use and the close of both leases: every lease sees a
     * value not closed while it holds it, and each value is closed exactly once.
     */
    @JCStressTest
    @Outcome(id = "0, 0, 1, 1", expect = ACCEPTABLE,
            desc = "refresh found no lease out: one value, closed once")
    @Outcome(id = "0, 0, 2, 1", expect = ACCEPTABLE,
            desc = "refresh made a fresh value while leases were out: two values, each closed once")
    @Outcome(expect = FORBIDDEN,
            desc = "a lease saw a closed value, or a value closed twice or never")
    @State
    public static class RefreshRacesAcquireAndClose extends Made {
        final Lease<Counted> held = shared.acquire();

        @Actor
        public void refresher() {
            shared.refresh();
        }

        @Actor
        public void user(IIII_Result r) {
            Lease<Counted> l = shared.acquire();
            r.r1 = l.get().closes;
            held.close();
            r.r2 = l.get().closes;
            l.close();
        }

        @Arbiter
        public void after(IIII_Result r) {
            r.r3 = count;
            r.r4 = eachClosedOnce();
        }
    }

    /**
     * refresh() races the close of the last lease: the fresh value, if made, is closed with
     * the old one, and no value is left open or closed twice.
     */
    @JCStressTest
    @Outcome(id = "1, 1", expect = ACCEPTABLE,
            desc = "the close came first: refresh found no lease out")
    @Outcome(id = "2, 1", expect = ACCEPTABLE,
            desc = "refresh came first: the fresh value was closed with the old one")
    @Outcome(expect = FORBIDDEN, desc = "a value left open, or closed twice")
    @State
    public static class RefreshRacesLastClose extends Made {
        final Lease<Counted> held = shared.acquire();

        @Actor
        public void refresher() {
            shared.refresh();
        }

        @Actor
        public void closer() {
            held.close();
        }

        @Arbiter
        public void after(II_Result r) {
            r.r1 = count;
            r.r2 = eachClosedOnce();
        }
    }
}
