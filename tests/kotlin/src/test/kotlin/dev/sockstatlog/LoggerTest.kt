package dev.sockstatlog

import java.security.MessageDigest
import java.util.concurrent.CountDownLatch
import kotlin.concurrent.thread
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** The whole UniFFI surface, from Kotlin, through the generated bindings. */
class LoggerTest {
    @Test
    fun `a pushed counter comes back in the exported log`() {
        SockstatLogger(testConfig()).use { logger ->
            assertFalse(logger.isEnabled())
            logger.enable()
            assertTrue(logger.isEnabled())
            logger.add(1u, 100uL, 200uL)
            logger.setTotals(2u, 1_000uL, 10uL)
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(100L to 200L, got[1])
            assertEquals(1_000L to 10L, got[2])
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `bytes pushed on cellular are flagged and wifi bytes are not`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.setInterface("wlan0", InterfaceKind.WIFI)
            logger.enable()
            logger.add(3u, 10uL, 20uL)
            logger.setInterface("rmnet_data0", InterfaceKind.UNKNOWN) // inferred cellular
            logger.add(3u, 1uL, 2uL)
            logger.disable()
            val evs = events(logger.export())
            assertEquals(10L to 20L, totals(evs, cellular = false)[3])
            assertEquals(1L to 2L, totals(evs, cellular = true)[3])
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `pushBatch applies every sample and rejects a bad batch as a whole`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.enable()
            logger.pushBatch(listOf(CounterSample(4u, 5uL, 6uL, false), CounterSample(4u, 1uL, 1uL, false)))
            val bad = assertFailsWith<SockstatException.InvalidArgument> {
                logger.pushBatch(listOf(CounterSample(4u, 100uL, 100uL, false), CounterSample(256u, 1uL, 1uL, false)))
            }
            assertContains(bad.reason, "256")
            logger.disable()
            assertEquals(6L to 7L, totals(events(logger.export()))[4])
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `flush uploads the log to a loopback collector under the sockstat private id`() {
        LoopbackCollector().use { collector ->
            SockstatLogger(testConfig(baseUrl = collector.baseUrl)).use { logger ->
                logger.registerLabel(42u, "KotlinTest")
                logger.enable()
                logger.add(42u, 7uL, 8uL)
                logger.writeText("hello from kotlin")
                logger.disable()
                val report = logger.flush(10_000uL)
                assertTrue(report.drained, "report: $report")
                assertTrue(report.batches >= 1uL && report.entries >= 1uL, "report: $report")
                val ids = sockstatLogId(BACKEND_ID)
                assertTrue(collector.received.isNotEmpty())
                for (r in collector.received) {
                    assertEquals("/c/sockstats.log.tailscale.io/${ids.privateId}", r.path)
                }
                val stats = logger.stats()
                assertEquals(report.batches, stats.uploadBatches)
                assertTrue(stats.events >= 1uL && stats.entriesWritten >= 1uL, "stats: $stats")
                logger.shutdown(5_000uL)
            }
        }
    }

    @Test
    fun `startFlush returns at once`() {
        LoopbackCollector().use { collector ->
            SockstatLogger(testConfig(baseUrl = collector.baseUrl)).use { logger ->
                logger.writeText("x")
                logger.startFlush()
                logger.shutdown(5_000uL)
            }
        }
    }

    @Test
    fun `a Kotlin UploadTransport receives the upload requests`() {
        val requests = mutableListOf<UploadRequest>()
        val transport = object : UploadTransport {
            override fun send(request: UploadRequest): UploadResponse {
                synchronized(requests) { requests.add(request) }
                return UploadResponse(200u, listOf(HttpHeader("Content-Type", "text/plain")), byteArrayOf())
            }
        }
        SockstatLogger.withTransport(testConfig(), transport).use { logger ->
            logger.writeText("through the host transport")
            val report = logger.flush(10_000uL)
            assertTrue(report.drained, "report: $report")
            val url = synchronized(requests) { requests.first().url }
            assertEquals("https://log.tailscale.com/c/sockstats.log.tailscale.io/${sockstatLogId(BACKEND_ID).privateId}", url)
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `a failing Kotlin transport is reported, not thrown`() {
        val transport = object : UploadTransport {
            override fun send(request: UploadRequest): UploadResponse =
                throw SockstatException.Upload("no route to host (test)")
        }
        SockstatLogger.withTransport(testConfig(), transport).use { logger ->
            logger.writeText("never delivered")
            val report = logger.flush(300uL)
            assertFalse(report.drained)
            assertTrue(report.attempts >= 1uL)
            assertContains(report.lastError ?: "", "no route to host")
            assertTrue(logger.stats().uploadFailures >= 1uL)
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `errors arrive as typed Kotlin exceptions with reasons`() {
        val badId = assertFailsWith<SockstatException.InvalidLogId> {
            SockstatLogger(defaultLoggerConfig("/tmp/unused", "abc"))
        }
        assertContains(badId.reason, "invalid hex length: 3")
        assertFailsWith<SockstatException.InvalidLogId> { sockstatLogId("z".repeat(64)) }
        SockstatLogger(testConfig()).use { logger ->
            assertContains(assertFailsWith<SockstatException.InvalidArgument> { logger.add(256u, 1uL, 1uL) }.reason, "256")
            assertFailsWith<SockstatException.InvalidArgument> { logger.setTotals(1000u, 1uL, 1uL) }
            assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(300u, "x") }
            assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(20u, "") }
            logger.shutdown(5_000uL)
        }
        // A file where the log directory should be: an I/O error, not a crash.
        val file = kotlin.io.path.createTempFile("sockstatlog-notadir")
        assertFailsWith<SockstatException.Io> { SockstatLogger(testConfig(dir = file)) }
    }

    @Test
    fun `every call after shutdown fails with Closed`() {
        val logger = SockstatLogger(testConfig())
        logger.enable()
        logger.add(1u, 1uL, 1uL)
        logger.shutdown(5_000uL)
        assertFailsWith<SockstatException.Closed> { logger.add(1u, 1uL, 1uL) }
        assertFailsWith<SockstatException.Closed> { logger.enable() }
        assertFailsWith<SockstatException.Closed> { logger.flush(100uL) }
        assertFailsWith<SockstatException.Closed> { logger.shutdown(100uL) }
        logger.close()
    }

    @Test
    fun `use closes the handle and a closed handle cannot be called`() {
        val logger = SockstatLogger(testConfig())
        logger.use { it.writeText("in use") }
        assertFailsWith<IllegalStateException> { logger.add(1u, 1uL, 1uL) }
    }

    @Test
    fun `many Kotlin threads pushing at once lose nothing`() {
        val threads = 8
        val perThread = 5_000
        SockstatLogger(testConfig()).use { logger ->
            logger.enable()
            val start = CountDownLatch(1)
            val workers = (0 until threads).map { t ->
                thread(name = "pusher-$t") {
                    start.await()
                    repeat(perThread) { i ->
                        if (i % 2 == 0) {
                            logger.add(5u, 1uL, 2uL)
                        } else {
                            logger.pushBatch(listOf(CounterSample(5u, 1uL, 2uL, false), CounterSample((6 + t).toUInt(), 1uL, 0uL, false)))
                        }
                    }
                }
            }
            start.countDown()
            workers.forEach { it.join() }
            logger.disable()
            val got = totals(events(logger.export()))
            val n = (threads * perThread).toLong()
            assertEquals(n to 2 * n, got[5])
            for (t in 0 until threads) assertEquals((perThread / 2).toLong() to 0L, got[6 + t])
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `log ids follow the spec derivation`() {
        fun sha256(b: ByteArray) = MessageDigest.getInstance("SHA-256").digest(b)
        fun hex(b: ByteArray) = b.joinToString("") { "%02x".format(it) }
        val private = sha256((BACKEND_ID + "sockstat").toByteArray())
        val ids = sockstatLogId(BACKEND_ID.uppercase())
        assertEquals(hex(private), ids.privateId)
        assertEquals(hex(sha256(private)), ids.publicId)
        SockstatLogger(testConfig()).use { logger ->
            assertEquals(ids.publicId, logger.logId())
            logger.shutdown(5_000uL)
        }
    }

    @Test
    fun `the default config carries the core defaults`() {
        val c = defaultLoggerConfig("/x", BACKEND_ID)
        assertEquals(100uL, c.pollIntervalMs)
        assertEquals(10_000uL, c.writeIntervalMs)
        assertEquals(5uL shl 20, c.maxLogBytes)
        assertEquals("https://log.tailscale.com", c.baseUrl)
        assertEquals("sockstats.log.tailscale.io", c.collection)
        assertFalse(c.allowHttp)
    }
}
