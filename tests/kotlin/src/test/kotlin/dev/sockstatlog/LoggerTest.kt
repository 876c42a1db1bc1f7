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
            logger.add(1, 100L, 200L)
            logger.setTotals(2, 1_000L, 10L)
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(100L to 200L, got[1])
            assertEquals(1_000L to 10L, got[2])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `bytes pushed on cellular are flagged and wifi bytes are not`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.setInterface("wlan0", InterfaceKind.WIFI)
            logger.enable()
            logger.add(3, 10L, 20L)
            logger.setInterface("rmnet_data0", InterfaceKind.UNKNOWN) // inferred cellular
            logger.add(3, 1L, 2L)
            logger.disable()
            val evs = events(logger.export())
            assertEquals(10L to 20L, totals(evs, cellular = false)[3])
            assertEquals(1L to 2L, totals(evs, cellular = true)[3])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `pushBatch applies every sample and rejects a bad batch as a whole`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.enable()
            logger.pushBatch(listOf(CounterSample(4, 5L, 6L, false), CounterSample(4, 1L, 1L, false)))
            val bad = assertFailsWith<SockstatException.InvalidArgument> {
                logger.pushBatch(listOf(CounterSample(4, 100L, 100L, false), CounterSample(256, 1L, 1L, false)))
            }
            assertContains(bad.reason, "256")
            logger.disable()
            assertEquals(6L to 7L, totals(events(logger.export()))[4])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `flush through the real collector stores exactly the exported entries once`() {
        RealCollector().use { collector ->
            SockstatLogger(testConfig(baseUrl = collector.baseUrl)).use { logger ->
                logger.registerLabel(42, "KotlinTest")
                logger.enable()
                logger.add(42, 7L, 8L)
                logger.writeText("hello from kotlin")
                logger.add(42, 1L, 2L)
                logger.disable()
                val report = logger.flush(10_000L)
                assertTrue(report.drained, "report: $report; collector stderr: ${collector.stderr()}")
                assertTrue(report.batches >= 1L && report.entries >= 1L, "report: $report")

                val exported = logger.export()
                val stored = assertStoredOnce(collector, exported)
                assertTrue(stored.size >= 3, "header, text and event(s) expected: $stored")
                assertEquals(1, stored.map { entryKey(parseJsonObject(it))!!.first }.toSet().size, "one proc_id")
                assertEquals(8L to 10L, totals(events(stored))[42])
                assertTrue(stored.any { parseJsonObject(it)["text"] == "hello from kotlin" }, "stored: $stored")
                // Only DIR/<collection>/<private id>.jsonl (and the store's lock), nothing else.
                assertEquals(listOf(COLLECTION), collector.dir.toFile().list()!!.filter { it != ".collector.lock" })
                assertEquals(listOf("$privateId.jsonl"), collector.dir.resolve(COLLECTION).toFile().list()!!.toList())
                val stats = logger.stats()
                assertEquals(stored.size.toLong(), stats.uploadEntries, "stats: $stats")
                assertEquals(0L, stats.uploadFailures, "stats: $stats")

                // Nothing left: a second flush sends nothing and stores nothing.
                val again = logger.flush(10_000L)
                assertTrue(again.drained, "report: $again")
                assertEquals(0L, again.entries, "report: $again")
                assertEquals(0L, again.batches, "report: $again")
                assertEquals(stored, collector.storedLines(privateId))
                logger.shutdown(5_000L)
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
                logger.add(1, 10L, 20L)
                logger.writeText("before restart")
                logger.disable()
                assertTrue(logger.flush(10_000L).drained)
                val exported = logger.export()
                assertStoredOnce(collector, exported)
                logger.shutdown(5_000L)
                exported
            }
            val afterFirst = collector.storedLines(privateId)
            assertTrue(afterFirst.containsAll(firstExport), "stored: $afterFirst")

            SockstatLogger(testConfig(dir = logDir, baseUrl = collector.baseUrl)).use { logger ->
                logger.enable()
                logger.add(1, 3L, 4L)
                logger.writeText("after restart")
                logger.disable()
                val report = logger.flush(10_000L)
                assertTrue(report.drained, "report: $report; collector stderr: ${collector.stderr()}")
                val secondExport = logger.export()
                val stored = collector.storedLines(privateId)
                // What was stored before is untouched, the rest is new.
                assertEquals(afterFirst, stored.take(afterFirst.size))
                val added = stored.drop(afterFirst.size)
                assertTrue(added.isNotEmpty())
                assertEquals(added.size.toLong(), logger.stats().uploadEntries, "this logger uploaded only the new entries")
                // Every line either logger showed is stored exactly once.
                val everything = (firstExport + secondExport).distinct()
                assertEquals(everything.toSet(), stored.toSet())
                assertEquals(stored.size, stored.toSet().size, "a line stored twice: $stored")
                val keys = stored.map { entryKey(parseJsonObject(it)) ?: fail("entry without proc_id/proc_seq: $it") }
                assertEquals(keys.size, keys.toSet().size, "(proc_id, proc_seq) repeated: $keys")
                assertFalse(added.any { "before restart" in it }, "old text re-sent")
                assertTrue(added.any { parseJsonObject(it)["text"] == "after restart" }, "added: $added")
                assertEquals(13L to 24L, totals(events(stored))[1])
                assertTrue(logger.flush(10_000L).let { it.drained && it.entries == 0L })
                logger.shutdown(5_000L)
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
                logger.shutdown(5_000L)
            }
        }
    }

    @Test
    fun `a Kotlin HttpURLConnection transport delivers to the real collector exactly once`() {
        RealCollector().use { collector ->
            val transport = HttpUrlConnectionTransport()
            SockstatLogger.withTransport(testConfig(baseUrl = collector.baseUrl), transport).use { logger ->
                logger.enable()
                logger.add(9, 5L, 6L)
                // Enough repetitive text that the body is worth compressing.
                repeat(20) { logger.writeText("through HttpURLConnection, line $it, padding padding padding") }
                logger.disable()
                val report = logger.flush(10_000L)
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
                val again = logger.flush(10_000L)
                assertTrue(again.drained && again.entries == 0L, "report: $again")
                assertEquals(sent, transport.requests.size, "a second flush sent a request")
                assertEquals(stored, collector.storedLines(privateId))
                logger.shutdown(5_000L)
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
                logger.add(11, 1L, 1L)
                logger.writeText("acknowledgement lost")
                logger.disable()
                val report = logger.flush(10_000L)
                assertTrue(report.drained, "report: $report")
                assertTrue(report.attempts >= 2L, "report: $report")
                val stored = assertStoredOnce(collector, logger.export())
                // The retry reached the collector, which dropped every entry as already stored.
                val reqs = collector.storedRequests(stored.size, minRequests = 2)
                assertTrue(reqs.size >= 2, "log: ${collector.log}")
                assertEquals(reqs.first().stored, reqs.drop(1).sumOf { it.duplicates }, "log: ${collector.log}")
                logger.shutdown(5_000L)
            }
        }
    }

    @Test
    fun `a Kotlin UploadTransport receives the upload requests`() {
        val requests = mutableListOf<UploadRequest>()
        val transport = object : UploadTransport {
            override fun send(request: UploadRequest): UploadResponse {
                synchronized(requests) { requests.add(request) }
                return UploadResponse(200, listOf(HttpHeader("Content-Type", "text/plain")), byteArrayOf())
            }
        }
        SockstatLogger.withTransport(testConfig(), transport).use { logger ->
            logger.writeText("through the host transport")
            val report = logger.flush(10_000L)
            assertTrue(report.drained, "report: $report")
            val url = synchronized(requests) { requests.first().url }
            assertEquals("https://log.tailscale.com/c/sockstats.log.tailscale.io/${sockstatLogId(BACKEND_ID).privateId}", url)
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a lone surrogate in a label or interface name is an InvalidArgument saying so`() {
        val cut = "VPN \uD83D\uDE00".take(5) // an emoji cut in half: "VPN " + a lone high surrogate
        SockstatLogger(testConfig()).use { logger ->
            val label = assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(20, cut) }
            assertContains(label.reason, "label name has a lone UTF-16 surrogate 0xD83D at index 4")
            val iface = assertFailsWith<SockstatException.InvalidArgument> {
                logger.setInterface("\uDE00rmnet0", InterfaceKind.UNKNOWN)
            }
            assertContains(iface.reason, "interface name has a lone UTF-16 surrogate 0xDE00 at index 0")
            val dir = assertFailsWith<SockstatException.InvalidArgument> { exportLogDir("/tmp/\uD800") }
            assertContains(dir.reason, "log_dir has a lone UTF-16 surrogate")
            // A whole emoji is fine.
            logger.registerLabel(21, "VPN \uD83D\uDE00")
            logger.enable()
            logger.disable()
            assertTrue(logger.export().first().contains("VPN \uD83D\uDE00"))
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `writeText stores each lone surrogate as U+FFFD`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.writeText("cut \uD83D".plus("|\uDE00 end"))
            logger.enable()
            logger.disable()
            val text = logger.export().single { it.contains("\"text\"") }
            assertContains(text, "cut \uFFFD|\uFFFD end")
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a Kotlin listener hears a real upload failure on a library thread`() {
        val closedPort = java.net.ServerSocket(0).use { it.localPort }
        val events = java.util.concurrent.LinkedBlockingQueue<Pair<LoggerEvent, Thread>>()
        val listener = object : LoggerListener {
            override fun onEvent(event: LoggerEvent) {
                events.put(event to Thread.currentThread())
            }
        }
        SockstatLogger(testConfig(baseUrl = "http://127.0.0.1:$closedPort")).use { logger ->
            logger.setListener(listener)
            logger.writeText("never delivered")
            logger.startFlush()
            val (event, thread) = events.poll(120, java.util.concurrent.TimeUnit.SECONDS)
                ?: fail("no event from the listener")
            assertTrue(event is LoggerEvent.UploadFailed, "$event")
            assertContains(event.reason, "failed")
            assertEquals(1L, event.consecutiveFailures)
            // The library's sockstatlog-listener thread, attached to the JVM by JNA.
            assertTrue(thread !== Thread.currentThread(), "not called on the caller's thread")
            assertTrue(logger.stats().uploadFailures >= 1L)
            assertEquals(0L, logger.stats().listenerDroppedEvents)
            logger.setListener(null)
            logger.shutdown(5_000L)
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
            val report = logger.flush(300L)
            assertFalse(report.drained)
            assertTrue(report.attempts >= 1L)
            assertContains(report.lastError ?: "", "no route to host")
            assertTrue(logger.stats().uploadFailures >= 1L)
            logger.shutdown(5_000L)
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
            assertContains(assertFailsWith<SockstatException.InvalidArgument> { logger.add(256, 1L, 1L) }.reason, "256")
            assertFailsWith<SockstatException.InvalidArgument> { logger.setTotals(1000, 1L, 1L) }
            assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(300, "x") }
            assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(20, "") }
            // Signed at the FFI (Kotlin Int/Long, callable from Java): negative is rejected, never wrapped.
            assertContains(assertFailsWith<SockstatException.InvalidArgument> { logger.add(-1, 1, 1) }.reason, "-1")
            assertContains(assertFailsWith<SockstatException.InvalidArgument> { logger.add(1, -2, 1) }.reason, "tx")
            assertFailsWith<SockstatException.InvalidArgument> { logger.setTotals(1, 1, -1) }
            assertFailsWith<SockstatException.InvalidArgument> { logger.registerLabel(-5, "x") }
            assertFailsWith<SockstatException.InvalidArgument> {
                logger.pushBatch(listOf(CounterSample(1, 1, 1, false), CounterSample(1, -1, 1, false)))
            }
            assertFailsWith<SockstatException.InvalidArgument> { logger.flush(-1) }
            assertFailsWith<SockstatException.InvalidArgument> { logger.shutdown(-1) }
            assertEquals(0L, logger.stats().resets, "nothing of a rejected call was applied")
            logger.shutdown(5_000L)
        }
        // A file where the log directory should be: an I/O error, not a crash.
        assertContains(
            assertFailsWith<SockstatException.InvalidArgument> {
                SockstatLogger(testConfig().apply { maxLogBytes = -1 })
            }.reason,
            "max_log_bytes",
        )
        val file = kotlin.io.path.createTempFile("sockstatlog-notadir")
        assertFailsWith<SockstatException.Io> { SockstatLogger(testConfig(dir = file)) }
    }

    @Test
    fun `one logger per directory, and a held directory still exports`() {
        val dir = Files.createTempDirectory("sockstatlog-kt-lock")
        SockstatLogger(testConfig(dir)).use { logger ->
            logger.enable()
            logger.add(5, 10L, 20L)
            logger.writeText("from kotlin")
            logger.disable()
            val second = assertFailsWith<SockstatException.DirectoryInUse> { SockstatLogger(testConfig(dir)) }
            assertEquals(dir.toString(), second.dir)
            // The iOS app / a second process reads without a logger.
            assertEquals(logger.export(), exportLogDir(dir.toString()))
            logger.shutdown(5_000L)
            // Shut down (not yet closed): the directory is free again.
            SockstatLogger(testConfig(dir)).use { it.shutdown(5_000L) }
        }
        assertFailsWith<SockstatException.Io> { exportLogDir(dir.resolve("missing").toString()) }
    }

    @Test
    fun `every call after shutdown fails with Closed`() {
        val logger = SockstatLogger(testConfig())
        logger.enable()
        logger.add(1, 1L, 1L)
        logger.shutdown(5_000L)
        assertFailsWith<SockstatException.Closed> { logger.add(1, 1L, 1L) }
        assertFailsWith<SockstatException.Closed> { logger.enable() }
        assertFailsWith<SockstatException.Closed> { logger.flush(100L) }
        assertFailsWith<SockstatException.Closed> { logger.shutdown(100L) }
        logger.close()
    }

    @Test
    fun `use closes the handle and a closed handle cannot be called`() {
        val logger = SockstatLogger(testConfig())
        logger.use { it.writeText("in use") }
        assertFailsWith<IllegalStateException> { logger.add(1, 1L, 1L) }
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
                            logger.add(5, 1L, 2L)
                        } else {
                            logger.pushBatch(listOf(CounterSample(5, 1L, 2L, false), CounterSample((6 + t), 1L, 0L, false)))
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
            logger.shutdown(5_000L)
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
            logger.shutdown(5_000L)
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
        assertEquals(100L, c.pollIntervalMs)
        assertEquals(10_000L, c.writeIntervalMs)
        assertEquals(5L shl 20, c.maxLogBytes)
        assertEquals("https://log.tailscale.com", c.baseUrl)
        assertEquals("sockstats.log.tailscale.io", c.collection)
        assertFalse(c.allowHttp)
    }
}
