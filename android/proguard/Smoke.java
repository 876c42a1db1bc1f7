import dev.sockstatlog.FastCounters;
import dev.sockstatlog.FlushReport;
import dev.sockstatlog.HttpHeader;
import dev.sockstatlog.LoggerConfig;
import dev.sockstatlog.SockstatException;
import dev.sockstatlog.SockstatLogger;
import dev.sockstatlog.SockstatlogKt;
import dev.sockstatlog.UploadResponse;
import java.nio.file.Files;
import java.util.List;

/**
 * Runs the library from the jar ProGuard shrank with consumer-rules.pro:
 * JNA's reflection (Structure.FieldOrder annotations, callback vtables), the
 * UniFFI converters, a host transport called back from Rust, the JNI fast
 * path and a typed error. Exits non-zero with the reason on any failure.
 */
public final class Smoke {
    public static void main(String[] args) throws Exception {
        String id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        LoggerConfig config = SockstatlogKt.defaultLoggerConfig(Files.createTempDirectory("pg-smoke").toString(), id);
        config.setPollIntervalMs(10L);
        config.setWriteIntervalMs(100L);
        int[] sent = {0};
        try (SockstatLogger logger = SockstatLogger.Companion.withTransport(config, request -> {
            sent[0]++;
            return new UploadResponse(200, List.of(new HttpHeader("Content-Type", "text/plain")), new byte[0]);
        })) {
            logger.registerLabel(20, "Smoke");
            logger.enable();
            logger.add(20, 100L, 200L);
            check(FastCounters.add(logger.fastCountersHandle(), 20, 1L, 2L), "FastCounters.add");
            try {
                logger.add(300, 1L, 1L);
                throw new AssertionError("label 300 accepted");
            } catch (SockstatException.InvalidArgument expected) {
                check(expected.getReason().contains("300"), "error reason: " + expected.getReason());
            }
            logger.disable();
            List<String> lines = logger.export();
            check(lines.stream().anyMatch(l -> l.contains("\"20\":[")), "events exported: " + lines);
            FlushReport report = logger.flush(10_000L);
            check(report.getDrained() && sent[0] == report.getBatches() && sent[0] > 0, "flush: " + report);
            check(logger.stats().getUploadEntries() == lines.size(), "stats: " + logger.stats());
            logger.shutdown(5_000L);
        }
        System.out.println("proguard smoke: ok (" + sent[0] + " upload(s) through the shrunk bindings)");
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }
}
