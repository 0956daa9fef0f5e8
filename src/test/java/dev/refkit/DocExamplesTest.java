package dev.refkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.lang.model.SourceVersion;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;

/**
 * Every {@code ```java} block of {@code README.md} and {@code docs/*.md} compiles as written,
 * against the library's classes, with {@code -Xlint:all -Werror}; a block that fails is
 * reported with its file and line.
 *
 * <p><b>Convention.</b> A block with a line starting {@code import} or {@code package} is a
 * compilation unit and compiles as it stands; a public top-level type in it names the file.
 * Any other block is a method body: it compiles inside
 * {@code final class Example { @SuppressWarnings("try") void example() throws Exception {...} }}
 * with the imports in {@link #FRAGMENT_IMPORTS}; it may declare local classes and records
 * for the names it needs. The {@code try} lint is off only there: a fragment cannot carry the
 * annotation that a real method holding a {@code Handle} in try-with-resources needs (the
 * README explains the warning), so compilation units carry {@code @SuppressWarnings("try")}
 * themselves. Blocks compile with {@code --release 17}, or with a later release if the line
 * before the block (blank lines aside) is {@code <!-- release 22 -->}; such a block is skipped
 * when the JDK running the tests cannot compile that release. A block that is deliberately
 * not compilable is marked with {@code <!-- no-compile -->} (or
 * {@code <!-- no-compile: reason -->}) on the line before it, or fenced as
 * {@code ```java-fragment} instead of {@code ```java}.
 */
@Timeout(300)
final class DocExamplesTest {

    /** The imports a method-body block compiles with. */
    static final List<String> FRAGMENT_IMPORTS = List.of(
            "dev.refkit.*",
            "java.io.*",
            "java.nio.file.*",
            "java.time.*",
            "java.util.*",
            "java.util.concurrent.*",
            "java.util.concurrent.atomic.*",
            "java.util.function.*");

    private static final int DEFAULT_RELEASE = 17;
    private static final Pattern FENCE = Pattern.compile("^(\\s*)(`{3,}|~{3,})\\s*(\\S*).*$");
    private static final Pattern NO_COMPILE = Pattern.compile("^\\s*<!--\\s*no-compile\\b.*-->\\s*$");
    private static final Pattern RELEASE = Pattern.compile("^\\s*<!--\\s*release\\s+(\\d+)\\s*-->\\s*$");
    private static final Pattern UNIT_LINE = Pattern.compile("(?m)^\\s*(import|package)\\s");
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "(?m)^public\\s+(?:(?:final|abstract|sealed|non-sealed|strictfp)\\s+)*"
                    + "(?:class|interface|enum|record|@interface)\\s+(\\w+)");

    /** One fenced Java block: where it is, how to compile it, and its code. */
    record Block(String file, int fenceLine, int release, boolean noCompile, String code) {
        /** The 1-based line in the Markdown file of the block's code line {@code codeLine}. */
        int markdownLine(int codeLine) {
            return fenceLine + codeLine;
        }

        @Override
        public String toString() {
            return file + ":" + fenceLine;
        }
    }

    @Test
    void extract_readmeAndDocs_findsEveryJavaFence() throws IOException {
        for (Path md : markdownFiles()) {
            long fences = Files.readAllLines(md, UTF_8).stream()
                    .filter(l -> l.strip().equals("```java"))
                    .count();
            long blocks = extract(md).size();
            assertEquals(fences, blocks, md + ": every ```java fence is one block");
        }
        assertTrue(extract(root().resolve("README.md")).size() >= 2, "README.md has its examples");
    }

    @TestFactory
    Stream<DynamicTest> compile_everyDocExample_compilesWithoutWarnings() throws IOException {
        List<Block> blocks = new ArrayList<>();
        for (Path md : markdownFiles()) {
            blocks.addAll(extract(md));
        }
        return blocks.stream().map(b -> DynamicTest.dynamicTest(b.toString(), () -> {
            assumeTrue(!b.noCompile(), b + " is marked no-compile");
            assumeTrue(SourceVersion.latestSupported().ordinal() >= b.release(),
                    b + " needs --release " + b.release() + ", this JDK is " + SourceVersion.latestSupported());
            String errors = compile(b);
            if (!errors.isEmpty()) {
                fail("a documentation example does not compile:\n" + errors);
            }
        }));
    }

    @Test
    void compile_brokenFragment_reportsMarkdownFileAndLine() {
        Block broken = new Block("docs/x.md", 10, DEFAULT_RELEASE, false,
                "RunState run = new RunState(\"r\");\nint n = run;\n");
        String errors = compile(broken);
        assertTrue(errors.contains("docs/x.md:12: error:"), errors);
    }

    @Test
    void compile_brokenCompilationUnit_reportsMarkdownFileAndLine() {
        Block broken = new Block("README.md", 20, DEFAULT_RELEASE, false,
                "import dev.refkit.Pool;\n\npublic final class Broken {\n    Pool<String> p = 1;\n}\n");
        String errors = compile(broken);
        assertTrue(errors.contains("README.md:24: error:"), errors);
    }

    @Test
    void compile_fragmentWithLintWarning_fails() {
        Block warns = new Block("docs/x.md", 1, DEFAULT_RELEASE, false,
                "List raw = new ArrayList<String>();\nSystem.out.println(raw);\n");
        String errors = compile(warns);
        assertTrue(errors.contains("docs/x.md:2: warning: found raw type"), errors);
    }

    /** Compiles a block; returns its diagnostics, one per line, or "" if it compiled cleanly. */
    static String compile(Block block) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "the tests must run on a JDK, not a JRE");
        boolean unit = UNIT_LINE.matcher(block.code()).find();
        String prefix = unit ? "" : fragmentPrefix();
        String suffix = unit ? "" : "    }\n}\n";
        int prefixLines = (int) prefix.chars().filter(c -> c == '\n').count();
        Matcher publicType = PUBLIC_TYPE.matcher(block.code());
        String className = unit && publicType.find() ? publicType.group(1) : "Example";
        String source = prefix + block.code() + suffix;
        JavaFileObject file = new SimpleJavaFileObject(
                URI.create("string:///" + className + JavaFileObject.Kind.SOURCE.extension),
                JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        Path out;
        try {
            out = Files.createDirectories(root().resolve("target/doc-examples")
                    .resolve(block.file().replace('/', '_') + "-" + block.fenceLine()));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        List<String> options = List.of(
                "--release", Integer.toString(block.release()),
                "-Xlint:all", "-Werror", "-proc:none",
                "-classpath", System.getProperty("java.class.path"),
                "-d", out.toString());
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        boolean ok = javac.getTask(null, null, diagnostics, options, null, List.of(file)).call();
        List<String> lines = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.NOTE) {
                continue;
            }
            long codeLine = d.getLineNumber() == Diagnostic.NOPOS ? 0 : d.getLineNumber() - prefixLines;
            int mdLine = codeLine < 1 || codeLine > block.code().lines().count()
                    ? block.fenceLine() : block.markdownLine((int) codeLine);
            String kind = d.getKind() == Diagnostic.Kind.ERROR ? "error" : "warning";
            lines.add(block.file() + ":" + mdLine + ": " + kind + ": " + d.getMessage(Locale.ROOT));
        }
        if (!ok && lines.isEmpty()) {
            lines.add(block.file() + ":" + block.fenceLine() + ": error: javac failed without a diagnostic");
        }
        return lines.stream().collect(Collectors.joining("\n"));
    }

    private static String fragmentPrefix() {
        StringBuilder sb = new StringBuilder();
        for (String i : FRAGMENT_IMPORTS) {
            sb.append("import ").append(i).append(";\n");
        }
        return sb.append("final class Example {\n")
                .append("    @SuppressWarnings(\"try\")\n")
                .append("    void example() throws Exception {\n")
                .toString();
    }

    /** The Java blocks of one Markdown file, in order. */
    static List<Block> extract(Path md) throws IOException {
        String name = root().relativize(md).toString().replace('\\', '/');
        List<String> lines = Files.readAllLines(md, UTF_8);
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher open = FENCE.matcher(lines.get(i));
            if (!open.matches()) {
                continue;
            }
            String fence = open.group(2);
            String indent = open.group(1);
            int start = i;
            StringBuilder code = new StringBuilder();
            for (i++; i < lines.size(); i++) {
                String line = lines.get(i);
                if (line.strip().startsWith(fence) && line.strip().chars().allMatch(c -> c == fence.charAt(0))) {
                    break;
                }
                code.append(line.startsWith(indent) ? line.substring(indent.length()) : line.stripLeading())
                        .append('\n');
            }
            if (!open.group(3).equals("java")) {
                continue;
            }
            String before = "";
            for (int j = start - 1; j >= 0; j--) {
                if (!lines.get(j).isBlank()) {
                    before = lines.get(j);
                    break;
                }
            }
            Matcher release = RELEASE.matcher(before);
            int rel = release.matches() ? Integer.parseInt(release.group(1)) : DEFAULT_RELEASE;
            blocks.add(new Block(name, start + 1, rel, NO_COMPILE.matcher(before).matches(), code.toString()));
        }
        return blocks;
    }

    private static List<Path> markdownFiles() throws IOException {
        List<Path> files = new ArrayList<>();
        files.add(root().resolve("README.md"));
        try (Stream<Path> docs = Files.list(root().resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        return files;
    }

    /** The project's directory: Surefire sets basedir; an IDE runs tests there too. */
    private static Path root() {
        return Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    }
}
