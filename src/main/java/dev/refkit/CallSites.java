package dev.refkit;

import java.net.URL;
import java.security.CodeSource;
import java.util.Iterator;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentLinkedDeque;
import org.jspecify.annotations.Nullable;

/**
 * Call-site tracing for a counting engine: where the live opens came from and where the last
 * final close came from. Only objects with tracing on have one, so the fast paths of the
 * others pay a null check on a final field and nothing more.
 *
 * <p>A call site is the first frame of the calling thread's stack that is not the library's
 * own: when the library runs as a named module, a frame whose class is in that module; on
 * the class path, a frame whose class is in package {@code dev.refkit} (or below it) and was
 * loaded from the same place as this class (so that code of the user's own in that package,
 * such as tests, still counts as a caller).
 *
 * <p><b>Thread safety.</b> Safe for concurrent use; {@link #appendTo} never blocks.
 */
final class CallSites {

    /** The system property that turns tracing on for every object created afterwards. */
    static final String PROPERTY = "dev.refkit.traceCallSites";

    private static final StackWalker WALKER =
            StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);
    private static final Module MODULE = CallSites.class.getModule();
    private static final String PACKAGE = CallSites.class.getPackageName();
    private static final @Nullable String LOCATION = location(CallSites.class);

    /** One recorded call: the first frame outside the library, and the thread. */
    static final class Site {
        final String where;
        final Thread thread; // held only while the open is live

        Site(String where, Thread t) {
            this.where = where;
            this.thread = t;
        }

        @Override
        public String toString() {
            return where + " [" + thread.getName() + "]";
        }
    }

    private final ConcurrentLinkedDeque<Site> live = new ConcurrentLinkedDeque<>();
    private volatile @Nullable Site lastClose;

    /** Returns whether the system property asks for tracing on every object. */
    static boolean globallyOn() {
        return Boolean.getBoolean(PROPERTY);
    }

    /** Records an open made by the current thread and returns its site. */
    Site opened() {
        Site s = capture();
        live.add(s);
        return s;
    }

    /**
     * Records a close. {@code s} is the site of the open being closed when it is known (a
     * handle or lease); otherwise the current thread's latest open is taken, else the oldest.
     */
    void closed(@Nullable Site s, boolean last) {
        if (s != null) {
            live.removeFirstOccurrence(s);
        } else {
            Thread me = Thread.currentThread();
            boolean removed = false;
            for (Iterator<Site> it = live.descendingIterator(); it.hasNext(); ) {
                Site o = it.next();
                if (o.thread == me && live.removeLastOccurrence(o)) {
                    removed = true;
                    break;
                }
            }
            if (!removed) {
                live.pollFirst();
            }
        }
        if (last) {
            lastClose = capture();
        }
    }

    /** Returns " (last close at X)" or "" when no close has been recorded yet. */
    String lastCloseSuffix() {
        Site s = lastClose;
        return s == null ? "" : " (last close at " + s + ")";
    }

    /** Returns " (open at A, at B)" for the live opens, or "" if there are none. */
    String liveSuffix() {
        String opens = liveList();
        return opens.isEmpty() ? "" : " (" + opens + ")";
    }

    private String liveList() {
        StringJoiner j = new StringJoiner(", ");
        for (Site s : live) {
            j.add("open at " + s);
        }
        return j.toString();
    }

    /** Appends the traced sites to a {@code toString()} body. */
    void appendTo(StringBuilder sb) {
        sb.append(", opens=[").append(liveList()).append(']');
        Site s = lastClose;
        if (s != null) {
            sb.append(", lastClose=").append(s);
        }
    }

    private static Site capture() {
        String where = WALKER.walk(frames -> frames
                .filter(f -> !isLibrary(f.getDeclaringClass()))
                .findFirst()
                .map(Object::toString)
                .orElse("unknown"));
        return new Site(where, Thread.currentThread());
    }

    /** Whether {@code c} is one of the library's own classes (see the class Javadoc). */
    static boolean isLibrary(Class<?> c) {
        if (MODULE.isNamed()) {
            return c.getModule() == MODULE;
        }
        String p = c.getPackageName();
        return (p.equals(PACKAGE) || p.startsWith(PACKAGE + "."))
                && Objects.equals(location(c), LOCATION);
    }

    private static @Nullable String location(Class<?> c) {
        CodeSource cs = c.getProtectionDomain().getCodeSource();
        URL u = cs == null ? null : cs.getLocation();
        return u == null ? null : u.toExternalForm();
    }
}
