package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link MemberList} alone: adds, removes, walks and sweeps, and adds racing a sweep. */
@Timeout(60)
final class MemberListTest {
    private final MemberList<String> list = new MemberList<>();

    private MemberList.Member<String> add(String item) {
        MemberList.Member<String> m = MemberList.member(item);
        list.add(m);
        return m;
    }

    @Test
    void snapshot_oldestFirst_forEach_newestFirst() {
        add("a");
        add("b");
        add("c");
        assertEquals(List.of("a", "b", "c"), list.snapshot());
        List<String> seen = new ArrayList<>();
        list.forEach(seen::add);
        assertEquals(List.of("c", "b", "a"), seen);
    }

    @Test
    void remove_head_middle_tail_eachGoneFromWalks_beforeAndAfterSweep() {
        MemberList.Member<String> a = add("a");
        add("b");
        MemberList.Member<String> c = add("c");
        MemberList.Member<String> d = add("d");
        add("e");
        list.remove(a);
        list.remove(c);
        assertEquals(List.of("b", "d", "e"), list.snapshot());
        list.sweep();
        assertEquals(List.of("b", "d", "e"), list.snapshot());
        list.remove(d);
        list.remove(d); // twice: nothing more
        list.sweep();
        assertEquals(List.of("b", "e"), list.snapshot());
    }

    @Test
    void sweep_allRemoved_emptiesTheList_andAddsGoOn() {
        List<MemberList.Member<String>> nodes = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            nodes.add(add("m" + i));
        }
        nodes.forEach(list::remove);
        list.sweep();
        assertEquals(List.of(), list.snapshot());
        add("after");
        assertEquals(List.of("after"), list.snapshot());
    }

    /** Many adds with removes between: the automatic sweeps never drop a live member. */
    @Test
    void add_manyWithRemoves_autoSweepsKeepEveryLiveMember() {
        List<String> live = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            MemberList.Member<String> m = add("m" + i);
            if (i % 3 == 0) {
                live.add("m" + i);
            } else {
                list.remove(m);
            }
        }
        assertEquals(live, list.snapshot());
    }

    @Test
    void add_sameNodeTwice_refused_nullItem_refused() {
        MemberList.Member<String> a = add("a");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> list.add(a));
        assertEquals("member a added twice", e.getMessage());
        assertThrows(NullPointerException.class, () -> MemberList.member(null));
        assertEquals(List.of("a"), list.snapshot());
    }

    @Test
    void forEach_actionThrows_endsTheWalk_listUnchanged() {
        add("a");
        add("b");
        IllegalStateException boom = new IllegalStateException("boom");
        assertThrows(IllegalStateException.class, () -> list.forEach(x -> {
            throw boom;
        }));
        assertEquals(List.of("a", "b"), list.snapshot());
    }

    /**
     * Two threads add and remove at once (each sweep racing the other's pushes): every
     * member not removed is in the list at the end, once, and none that was removed.
     */
    @Test
    void addAndRemove_twoThreadsRacingSweeps_noLiveMemberLost() throws Exception {
        for (int round = 0; round < 20; round++) {
            MemberList<String> l = new MemberList<>();
            CyclicBarrier start = new CyclicBarrier(2);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            List<Set<String>> kept = List.of(new HashSet<>(), new HashSet<>());
            Thread[] threads = new Thread[2];
            for (int t = 0; t < 2; t++) {
                int id = t;
                threads[t] = new Thread(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < 20_000; i++) {
                            String item = id + ":" + i;
                            MemberList.Member<String> m = MemberList.member(item);
                            l.add(m);
                            if (i % 7 == 0) {
                                kept.get(id).add(item);
                            } else {
                                l.remove(m);
                            }
                            if (i % 1000 == 0) {
                                l.sweep();
                            }
                        }
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                });
                threads[t].start();
            }
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(null, failed.get());
            List<String> snapshot = l.snapshot();
            Set<String> expected = new HashSet<>(kept.get(0));
            expected.addAll(kept.get(1));
            assertEquals(expected.size(), snapshot.size(), "no member twice, none lost");
            assertEquals(expected, new HashSet<>(snapshot));
            l.sweep();
            assertTrue(new HashSet<>(l.snapshot()).equals(expected));
        }
    }
}
