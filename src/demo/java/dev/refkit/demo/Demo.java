package dev.refkit.demo;

/** The Refkit demo: runs each feature's demo in turn and exits. */
public final class Demo {
    private Demo() {}

    /**
     * Runs the demo.
     *
     * @param args ignored
     * @throws Exception if a demo fails
     */
    public static void main(String[] args) throws Exception {
        System.out.println("Refkit demo");
    }
}
