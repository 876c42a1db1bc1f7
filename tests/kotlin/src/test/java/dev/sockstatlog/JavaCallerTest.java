package dev.sockstatlog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The generated API and the JNI fast path called from Java, as a Java VPN app
 * (WireGuard's is one) calls them: compiled by javac, so a Kotlin name mangled
 * by an unsigned parameter (`add-JJsz98k`) or a `kotlin.Result` callback fails
 * the build here, not in an app. Every call is by its plain name.
 */
class JavaCallerTest {
    /** A host transport written in Java: records each request, answers 200. */
    static final class RecordingTransport implements UploadTransport {
        final List<String> bodies = Collections.synchronizedList(new ArrayList<>());

        @Override
        public UploadResponse send(UploadRequest request) {
            bodies.add(new String(request.getBody(), StandardCharsets.ISO_8859_1));
            List<HttpHeader> headers = List.of(new HttpHeader("Content-Type", "text/plain"));
            return new UploadResponse(200, headers, new byte[0]);
        }
    }

    /** A listener written in Java: hands each event to the test. */
    static final class QueueListener implements LoggerListener {
        final java.util.concurrent.BlockingQueue<LoggerEvent> events = new java.util.concurrent.LinkedBlockingQueue<>();

        @Override
        public void onEvent(LoggerEvent event) {
            events.add(event);
        }
    }

    @Test
    void aLoneSurrogateFromJavaIsATypedErrorInNamesAndUFFFDInText() throws Exception {
        String cut = "VPN \uD83D\uDE00".substring(0, 5); // an emoji cut in half
        String dir = Files.createTempDirectory("sockstatlog-java").toString();
        LoggerConfig config = SockstatlogKt.defaultLoggerConfig(dir, TestSupportKt.BACKEND_ID);
        try (SockstatLogger logger = new SockstatLogger(config)) {
            SockstatException.InvalidArgument label =
                    assertThrows(SockstatException.InvalidArgument.class, () -> logger.registerLabel(20, cut));
            assertTrue(label.getReason().contains("label name has a lone UTF-16 surrogate 0xD83D at index 4"));
            SockstatException.InvalidArgument iface = assertThrows(
                    SockstatException.InvalidArgument.class, () -> logger.setInterface(cut, InterfaceKind.WIFI));
            assertTrue(iface.getReason().contains("interface name has a lone UTF-16 surrogate"));
            logger.writeText(cut + " end");
            logger.enable();
            logger.disable();
            assertTrue(logger.export().stream().anyMatch(l -> l.contains("VPN \uFFFD end")));
            logger.shutdown(5_000L);
        }
    }

    @Test
    void aJavaListenerHearsAnUploadFailure() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        String dir = Files.createTempDirectory("sockstatlog-java").toString();
        LoggerConfig config = SockstatlogKt.defaultLoggerConfig(dir, TestSupportKt.BACKEND_ID);
        config.setBaseUrl("http://127.0.0.1:" + closedPort);
        config.setAllowHttp(true);
        config.setBackoffBaseMs(50L);
        config.setBackoffCapMs(200L);
        QueueListener listener = new QueueListener();
        try (SockstatLogger logger = new SockstatLogger(config)) {
            logger.setListener(listener);
            logger.writeText("never delivered");
            logger.startFlush();
            LoggerEvent event = listener.events.poll(120, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(event instanceof LoggerEvent.UploadFailed, String.valueOf(event));
            assertTrue(((LoggerEvent.UploadFailed) event).getReason().contains("failed"));
            logger.setListener(null);
            logger.shutdown(5_000L);
        }
    }

    @Test
    void theWholePublicSurfaceIsCallableFromJava() throws Exception {
        String dir = Files.createTempDirectory("sockstatlog-java").toString();
        LoggerConfig config = SockstatlogKt.defaultLoggerConfig(dir, TestSupportKt.BACKEND_ID);
        config.setPollIntervalMs(10L);
        config.setWriteIntervalMs(100L);
        config.setMaxLogBytes(1L << 20);
        config.setBaseUrl("http://127.0.0.1:9"); // never dialled: the Java transport answers
        config.setAllowHttp(true);
        SockstatIds ids = SockstatlogKt.sockstatLogId(TestSupportKt.BACKEND_ID);
        assertEquals(64, ids.getPublicId().length());

        RecordingTransport transport = new RecordingTransport();
        try (SockstatLogger logger = SockstatLogger.Companion.withTransport(config, transport)) {
            assertEquals(ids.getPublicId(), logger.logId());
            logger.registerLabel(20, "JavaTunnel");
            logger.setInterface("wlan0", InterfaceKind.WIFI);
            logger.enable();
            assertTrue(logger.isEnabled());
            logger.add(20, 1200L, 800L);
            logger.setTotals(21, 5_000L, 6_000L);
            logger.pushBatch(List.of(new CounterSample(22, 1L, 2L, false), new CounterSample(21, 4_000L, 1L, true)));
            long handle = logger.fastCountersHandle();
            assertTrue(FastCounters.add(handle, 20, 100L, 200L));
            assertTrue(FastCounters.setTotals(handle, 23, 7L, 8L));
            assertTrue(FastCounters.addMany(handle, new int[] {20, 22}, new long[] {1L, 1L}, new long[] {0L, 0L}));
            logger.writeText("hello from Java");

            SockstatException.InvalidArgument bad =
                    assertThrows(SockstatException.InvalidArgument.class, () -> logger.add(-1, 1L, 1L));
            assertTrue(bad.getReason().contains("-1"), bad.getReason());
            assertThrows(SockstatException.InvalidArgument.class, () -> logger.flush(-1L));

            logger.disable();
            assertFalse(logger.isEnabled());
            List<String> lines = logger.export();
            assertTrue(lines.stream().anyMatch(l -> l.contains("hello from Java")), lines.toString());
            kotlin.Pair<Long, Long> label20 = TestSupportKt.totals(TestSupportKt.events(lines), null).get(20);
            assertEquals(new kotlin.Pair<>(1301L, 1000L), label20, lines.toString());

            FlushReport report = logger.flush(10_000L);
            logger.startFlush(); // nothing left: returns at once
            assertTrue(report.getDrained(), report.toString());
            assertEquals(lines.size(), report.getEntries(), report.toString());
            assertTrue(report.getBatches() >= 1L && report.getSentBytes() > 0L, report.toString());
            assertEquals(null, report.getLastError());
            assertEquals(report.getBatches(), transport.bodies.size(), "every 200 came from the Java transport");

            LoggerStats stats = logger.stats();
            long uploaded = stats.getUploadEntries();
            assertEquals(lines.size(), uploaded, stats.toString());
            assertEquals(0L, stats.getUploadFailures());
            assertTrue(stats.getBytesWritten() > 0L && stats.getEvents() > 0L, stats.toString());

            logger.shutdown(5_000L);
            assertThrows(SockstatException.Closed.class, () -> logger.add(20, 1L, 1L));
            assertFalse(FastCounters.add(handle, 20, 1L, 1L), "a push after shutdown is ignored");
        }
    }

    @Test
    void theBuiltInClientConstructorAndTheErrorsAreJavaShaped() throws Exception {
        String dir = Files.createTempDirectory("sockstatlog-java").toString();
        SockstatException.InvalidLogId badId = assertThrows(
                SockstatException.InvalidLogId.class,
                () -> new SockstatLogger(SockstatlogKt.defaultLoggerConfig(dir, "abc")));
        assertTrue(badId.getReason().contains("invalid hex length: 3"), badId.getReason());
        LoggerConfig config = SockstatlogKt.defaultLoggerConfig(dir, TestSupportKt.BACKEND_ID);
        config.setWriteIntervalMs(-5L);
        SockstatException.InvalidArgument negative =
                assertThrows(SockstatException.InvalidArgument.class, () -> new SockstatLogger(config));
        assertTrue(negative.getReason().contains("write_interval_ms"), negative.getReason());
    }
}
