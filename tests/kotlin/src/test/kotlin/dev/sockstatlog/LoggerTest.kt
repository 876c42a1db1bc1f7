package dev.sockstatlog

import java.nio.file.Files
import java.security.MessageDigest
import java.util.concurrent.CountDownLatch
import kotlin.concurrent.thread
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlin.test.fail
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
    fun `flush through the real collector stores exactly the exported entries once`() {
        RealCollector().use { collector ->
            SockstatLogger(testConfig(baseUrl = collector.baseUrl)).use { logger ->
                logger.registerLabel(42u, "KotlinTest")
                logger.enable()
                logger.add(42u, 7uL, 8uL)
                logger.writeText("hello from kotlin")
                logger.add(42u, 1uL, 2uL)
                logger.disable()
                val report = logger.flush(10_000uL)
                assertTrue(report.drained, "report: $report; collector stderr: ${collector.stderr()}")
                assertTrue(report.batches >= 1uL && report.entries >= 1uL, "report: $report")

                val exported = logger.export()
                val stored = assertStoredOnce(collector, exported)
                assertTrue(stored.size >= 3, "header, text and event(s) expected: $stored")
                assertEquals(1, stored.map { entryKey(parseJsonObject(it))!!.first }.toSet().size, "one proc_id")
                assertEquals(8L to 10L, totals(events(stored))[42])
                assertTrue(stored.any { parseJsonObject(it)["text"] == "hello from kotlin" }, "stored: $stored")
                // Only DIR/<collection>/<private id>.jsonl, nothing else.
                assertEquals(listOf(COLLECTION), collector.dir.toFile().list()!!.toList())
                assertEquals(listOf("$privateId.jsonl"), collector.dir.resolve(COLLECTION).toFile().list()!!.toList())
                val stats = logger.stats()
                assertEquals(stored.size.toULong(), stats.uploadEntries, "stats: $stats")
                assertEquals(0uL, stats.uploadFailures, "stats: $stats")

                // Nothing left: a second flush sends nothing and stores nothing.
                val again = logger.flush(10_000uL)
                assertTrue(again.drained, "report: $again")
                assertEquals(0uL, again.entries, "report: $again")
                assertEquals(0uL, again.batches, "report: $again")
                assertEquals(stored, collector.storedLines(privateId))
                logger.shutdown(5_000uL)
            }
            assertEquals(0, collector.storedRequests(0).sumOf { it.duplicates }, "the client re-sent entries: ${collector.log}")
        }
    }

    @Test
    fun `a new logger on the same log dir delivers only the entries not yet delivered`() {
        val logDir = Files.createTempDirectory("sockstatlog-kt-restart")
        RealCollector().use { collector ->
            val firstExport = SockstatLogger(testConfig(dir = logDir, baseUrl = collector.baseUrl)).use { logger ->
                logger.enable()
                logger.add(1u, 10uL, 20uL)
                logger.writeText("before restart")
                logger.disable()
                assertTrue(logger.flush(10_000uL).drained)
                val exported = logger.export()
                assertStoredOnce(collector, exported)
                logger.shutdown(5_000uL)
                exported
            }
            val afterFirst = collector.storedLines(privateId)
            assertTrue(afterFirst.containsAll(firstExport), "stored: $afterFirst")

            SockstatLogger(testConfig(dir = logDir, baseUrl = collector.baseUrl)).use { logger ->
                logger.enable()
                logger.add(1u, 3uL, 4uL)
                logger.writeText("after restart")
                logger.disable()
                val report = logger.flush(10_000uL)
                assertTrue(report.drained, "report: $report; collector stderr: ${collector.stderr()}")
                val secondExport = logger.export()
                val stored = collector.storedLines(privateId)
                // What was stored before is untouched, the rest is new.
                assertEquals(afterFirst, stored.take(afterFirst.size))
                val added = stored.drop(afterFirst.size)
                assertTrue(added.isNotEmpty())
                assertEquals(added.size.toULong(), logger.stats().uploadEntries, "this logger uploaded only the new entries")
                // Every line either logger showed is stored exactly once.
                val everything = (firstExport + secondExport).distinct()
                assertEquals(everything.toSet(), stored.toSet())
                assertEquals(stored.size, stored.toSet().size, "a line stored twice: $stored")
                val keys = stored.map { entryKey(parseJsonObject(it)) ?: fail("entry without proc_id/proc_seq: $it") }
                assertEquals(keys.size, keys.toSet().size, "(proc_id, proc_seq) repeated: $keys")
                assertFalse(added.any { "before restart" in it }, "old text re-sent")
                assertTrue(added.any { parseJsonObject(it)["text"] == "after restart" }, "added: $added")
                assertEquals(13L to 24L, totals(events(stored))[1])
                assertTrue(logger.flush(10_000uL).let { it.drained && it.entries == 0uL })
                logger.shutdown(5_000uL)
            }
            assertEquals(0, collector.storedRequests(0).sumOf { it.duplicates }, "the client re-sent entries: ${collector.log}")
        }
    }

    @Test
    fun `startFlush returns at once`() {
        RealCollector().use { collector ->
            SockstatLogger(testConfig(baseUrl = collector.baseUrl)).use { logger ->
                logger.writeText("x")
                logger.startFlush()
                logger.shutdown(5_000uL)
            }
        }
    }

    @Test
    fun `a Kotlin HttpURLConnection transport delivers to the real collector exactly once`() {
        RealCollector().use { collector ->
            val transport = HttpUrlConnectionTransport()
            SockstatLogger.withTransport(testConfig(baseUrl = collector.baseUrl), transport).use { logger ->
                logger.enable()
                logger.add(9u, 5uL, 6uL)
                // Enough repetitive text that the body is worth compressing.
                repeat(20) { logger.writeText("through HttpURLConnection, line $it, padding padding padding") }
                logger.disable()
                val report = logger.flush(10_000uL)
                assertTrue(report.drained, "report: $report; collector stderr: ${collector.stderr()}")
                assertTrue(transport.requests.isNotEmpty())
                for (r in transport.requests) {
                    assertEquals("${collector.baseUrl}/c/$COLLECTION/$privateId", r.url)
                }
                val zstd = transport.requests.filter { r -> r.headers.any { it.name.equals("Content-Encoding", true) && it.value == "zstd" } }
                assertTrue(zstd.isNotEmpty(), "no compressed request: ${transport.requests.map { it.headers }}")
                for (r in zstd) assertTrue(r.headers.any { it.name.equals("Orig-Content-Length", true) }, "headers: ${r.headers}")
                assertEquals(transport.requests.size, transport.statuses.size)
                assertTrue(transport.statuses.all { it == 200 }, "statuses: ${transport.statuses}")

                val stored = assertStoredOnce(collector, logger.export())
                assertEquals(5L to 6L, totals(events(stored))[9])
                assertEquals(20, stored.count { "through HttpURLConnection" in it })

                val sent = transport.requests.size
                val again = logger.flush(10_000uL)
                assertTrue(again.drained && again.entries == 0uL, "report: $again")
                assertEquals(sent, transport.requests.size, "a second flush sent a request")
                assertEquals(stored, collector.storedLines(privateId))
                logger.shutdown(5_000uL)
            }
            assertEquals(0, collector.storedRequests(0).sumOf { it.duplicates }, "the client re-sent entries: ${collector.log}")
        }
    }

    @Test
    fun `a lost acknowledgement is retried and the collector keeps each entry once`() {
        RealCollector().use { collector ->
            val real = HttpUrlConnectionTransport()
            var dropped = 0
            // Delivers the first request, then fails as if the 200 never came back.
            val lossy = object : UploadTransport {
                override fun send(request: UploadRequest): UploadResponse {
                    val resp = real.send(request)
                    if (synchronized(this) { dropped++ == 0 }) throw SockstatException.Upload("connection reset (test)")
                    return resp
                }
            }
            SockstatLogger.withTransport(testConfig(baseUrl = collector.baseUrl), lossy).use { logger ->
                logger.enable()
                logger.add(11u, 1uL, 1uL)
                logger.writeText("acknowledgement lost")
                logger.disable()
                val report = logger.flush(10_000uL)
                assertTrue(report.drained, "report: $report")
                assertTrue(report.attempts >= 2uL, "report: $report")
                val stored = assertStoredOnce(collector, logger.export())
                // The retry reached the collector, which dropped every entry as already stored.
                val reqs = collector.storedRequests(stored.size)
                assertTrue(reqs.size >= 2, "log: ${collector.log}")
                assertEquals(reqs.first().stored, reqs.drop(1).sumOf { it.duplicates }, "log: ${collector.log}")
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
    fun `one logger per directory, and a held directory still exports`() {
        val dir = Files.createTempDirectory("sockstatlog-kt-lock")
        SockstatLogger(testConfig(dir)).use { logger ->
            logger.enable()
            logger.add(5u, 10uL, 20uL)
            logger.writeText("from kotlin")
            logger.disable()
            val second = assertFailsWith<SockstatException.DirectoryInUse> { SockstatLogger(testConfig(dir)) }
            assertEquals(dir.toString(), second.dir)
            // The iOS app / a second process reads without a logger.
            assertEquals(logger.export(), exportLogDir(dir.toString()))
            logger.shutdown(5_000uL)
            // Shut down (not yet closed): the directory is free again.
            SockstatLogger(testConfig(dir)).use { it.shutdown(5_000uL) }
        }
        assertFailsWith<SockstatException.Io> { exportLogDir(dir.resolve("missing").toString()) }
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

    private val privateId = sockstatLogId(BACKEND_ID).privateId

    /**
     * The collector holds exactly [exported] for the test ID, in order, each
     * line once and each (proc_id, proc_seq) once; returns the stored lines.
     */
    private fun assertStoredOnce(collector: RealCollector, exported: List<String>): List<String> {
        assertTrue(exported.isNotEmpty())
        val stored = collector.storedLines(privateId)
        assertEquals(exported, stored, "stored under ${collector.streamFile(privateId)}")
        val keys = stored.map { entryKey(parseJsonObject(it)) ?: fail("entry without proc_id/proc_seq: $it") }
        assertEquals(keys.size, keys.toSet().size, "(proc_id, proc_seq) repeated: $keys")
        val seqs = keys.map { it.second }
        assertEquals(seqs.size, seqs.toSet().size, "proc_seq repeated: $seqs")
        return stored
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
