// The Java kernel: one persistent JVM of a session running cells with JShell (the API
// behind `jshell`), so the variables, methods and classes a cell declares stay for the next.
//
// The tool server (kernels.py) writes this file into the session and runs it with the
// session's `java` (source-file mode); it speaks the protocol of kernel_python.py, except
// that a cell arrives as one line of hex (its UTF-8 bytes). Snippets run in this JVM
// (JShell's local engine), so what they print reaches fd 1 and 2 before the events on fd 3.
// The last snippet's value, if it is an expression, is the main result. SIGINT (the tool
// server's time limit) stops the running snippet; the state stays.
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.UnresolvedReferenceException;

public class KernelJava {
    private static PrintStream events;
    private static volatile boolean running;

    private static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }

    private static void send(String json) {
        System.out.flush();
        System.err.flush();
        events.print(json + "\n");
        events.flush();
    }

    private static void sendError(String name, String value, String trace) {
        send("{\"error\": {\"name\": " + quote(name) + ", \"value\": " + quote(value)
                + ", \"traceback\": " + quote(trace) + "}}");
    }

    private static boolean isExpression(Snippet snippet) {
        switch (snippet.subKind()) {
            case TEMP_VAR_EXPRESSION_SUBKIND:
            case VAR_VALUE_SUBKIND:
            case ASSIGNMENT_SUBKIND:
            case OTHER_EXPRESSION_SUBKIND:
                return true;
            default:
                return false;
        }
    }

    private static void reportException(Exception exception) {
        String name = exception instanceof EvalException
                ? ((EvalException) exception).getExceptionClassName()
                : exception.getClass().getName();
        StringBuilder trace = new StringBuilder(name);
        if (exception.getMessage() != null) {
            trace.append(": ").append(exception.getMessage());
        }
        for (StackTraceElement frame : exception.getStackTrace()) {
            // Frames of the user's snippets only (JShell names their classes REPL.$JShell$n).
            if (frame.getClassName().startsWith("REPL.")) {
                trace.append("\n\tat ").append(frame.getMethodName()).append("(")
                        .append(frame.getFileName() == null ? "<cell>" : frame.getFileName())
                        .append(":").append(frame.getLineNumber()).append(")");
            }
        }
        String value = exception instanceof UnresolvedReferenceException
                ? "unresolved reference: " + ((UnresolvedReferenceException) exception)
                        .getSnippet().source()
                : String.valueOf(exception.getMessage() == null ? "" : exception.getMessage());
        sendError(name, value, trace.toString());
    }

    private static void run(JShell shell, String code) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = code;
        String lastValue = null;
        while (!remaining.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) {
                break;
            }
            String source = remaining;
            remaining = "";
            if (info.completeness().isComplete()) {
                source = info.source();
                remaining = info.remaining();
            }
            lastValue = null;
            List<SnippetEvent> results = shell.eval(source);
            for (SnippetEvent event : results) {
                if (event.causeSnippet() != null) {
                    continue;
                }
                if (event.exception() != null) {
                    reportException(event.exception());
                    return;
                }
                if (event.status() == Snippet.Status.REJECTED) {
                    String problems = shell.diagnostics(event.snippet())
                            .map(d -> d.getMessage(Locale.ROOT))
                            .collect(Collectors.joining("\n"));
                    sendError("CompilationError", problems,
                            source.strip() + "\n" + problems);
                    return;
                }
                if (event.value() != null && isExpression(event.snippet())) {
                    lastValue = event.value();
                }
            }
        }
        if (lastValue != null) {
            send("{\"result\": {\"text/plain\": " + quote(lastValue) + "}, \"main\": true}");
        }
    }

    public static void main(String[] args) throws Exception {
        events = new PrintStream(new FileOutputStream("/proc/self/fd/3"), true, "UTF-8");
        JShell shell = JShell.builder()
                .executionEngine("local")
                .in(new ByteArrayInputStream(new byte[0]))
                .out(System.out)
                .err(System.err)
                .build();
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), signal -> {
            if (running) {
                shell.stop();
            }
        });
        shell.eval("1");  // the first evaluation loads the compiler: pay for it at start
        BufferedReader commands = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8));
        send("{\"ready\": " + ProcessHandle.current().pid() + "}");
        int count = 0;
        String line;
        while ((line = commands.readLine()) != null) {
            count += 1;
            String code = new String(HexFormat.of().parseHex(line.strip()), StandardCharsets.UTF_8);
            running = true;
            try {
                run(shell, code);
            } catch (RuntimeException exception) {
                reportException(exception);
            } finally {
                running = false;
            }
            send("{\"done\": " + count + "}");
        }
        shell.close();
        System.exit(0);
    }
}
