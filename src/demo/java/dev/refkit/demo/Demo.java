package dev.refkit.demo;

/**
 * The Refkit demo: runs each feature's demo in turn and exits by itself.
 *
 * <p>Run it with {@code mvn -q -Pdemo}.
 */
public final class Demo {
    private Demo() {}

    /**
     * Runs the demo.
     *
     * @param args ignored
     * @throws Exception if a demo fails
     */
    public static void main(String[] args) throws Exception {
        System.out.println("Refkit demo on Java " + Runtime.version()
                + " (" + System.getProperty("java.home") + ")");
        System.out.println();
        System.out.println("== MultiOpen and Shared: one resource, many threads");
        MultiOpenDemo.run();
        System.out.println();
        System.out.println("== RunState: a daemon loop that stops promptly (Ctrl-C stops it; it also stops itself after ~2 s)");
        RunStateDemo.run();
        System.out.println();
        System.out.println("== Pool: costly objects made once, lent through try-with-resources");
        PoolDemo.run();
        System.out.println();
        System.out.println("== TaskGroup: tasks that never outlive their owner, no failure lost");
        TaskGroupDemo.run();
        System.out.println();
        System.out.println("== BackgroundService: shared background work, restarted when it fails, stopped by the last close");
        ServiceDemo.run();
        System.out.println();
        System.out.println("Refkit demo done.");
    }
}
