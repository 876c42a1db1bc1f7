package dev.sockstatlog

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

/** A backend public log ID for tests (any 64 hex characters). */
const val BACKEND_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/** A config writing under a fresh temp dir, sampling fast so tests are quick. */
fun testConfig(dir: Path = Files.createTempDirectory("sockstatlog-kt"), baseUrl: String? = null): LoggerConfig =
    defaultLoggerConfig(dir.toString(), BACKEND_ID).apply {
        pollIntervalMs = 10L
        writeIntervalMs = 100L
        backoffBaseMs = 50L
        backoffCapMs = 200L
        attemptTimeoutMs = 5_000L
        if (baseUrl != null) {
            this.baseUrl = baseUrl
            allowHttp = true
        }
    }

/** One sampler event read back from a log line. */
data class Event(val cellular: Boolean, val counts: Map<Int, Pair<Long, Long>>)

private val SAMPLES = Regex("\"s\":\\{([^}]*)\\}")
private val ENTRY = Regex("\"(\\d+)\":\\[(\\d+),(\\d+)\\]")

/** The events among exported log lines (headers and text lines are skipped). */
fun events(lines: List<String>): List<Event> = lines.mapNotNull { line ->
    SAMPLES.find(line)?.let { m ->
        Event(
            cellular = line.contains("\"c\":1"),
            counts = ENTRY.findAll(m.groupValues[1]).associate {
                it.groupValues[1].toInt() to (it.groupValues[2].toLong() to it.groupValues[3].toLong())
            },
        )
    }
}

/** Sum of `[tx, rx]` per label over events, optionally only cellular or non-cellular ones. */
fun totals(events: List<Event>, cellular: Boolean? = null): Map<Int, Pair<Long, Long>> {
    val out = HashMap<Int, Pair<Long, Long>>()
    for (e in events) {
        if (cellular != null && e.cellular != cellular) continue
        for ((label, c) in e.counts) {
            val (tx, rx) = out[label] ?: (0L to 0L)
            out[label] = (tx + c.first) to (rx + c.second)
        }
    }
    return out
}

/** The collection every sockstat upload goes to (the config default). */
const val COLLECTION = "sockstats.log.tailscale.io"

/**
 * The project's reference collector (`sockstatlog collect`, built with
 * `cargo build -p sockstatlog-tools --bin sockstatlog`) run as a child process on
 * 127.0.0.1 with a free port and a fresh temp `--dir`. The binary is found in
 * the directory named by the `sockstatlog.bindir` system property
 * (scripts/test-kotlin.sh passes the cargo target's debug directory).
 */
class RealCollector : AutoCloseable {
    private val bin = binary() // first, so a missing binary leaves no temp dir behind
    /** The collector's `--dir`: `<collection>/<private id>.jsonl` files land here. */
    val dir: Path = Files.createTempDirectory("sockstatlog-collector")
    private val process: Process
    private val stderr = StringBuffer()
    private val stderrReader: Thread
    private val stdout = LinkedBlockingQueue<String>()
    /** The collector's log lines (stderr: one per request, with its outcome). */
    val log: MutableList<String> = Collections.synchronizedList(mutableListOf())
    /** `http://127.0.0.1:PORT`, as the collector printed it. */
    val baseUrl: String

    init {
        process = try {
            ProcessBuilder(bin.path, "collect", "--listen", "127.0.0.1:0", "--dir", dir.toString()).start()
        } catch (e: java.io.IOException) {
            dir.toFile().deleteRecursively()
            throw AssertionError("starting $bin: $e", e)
        }
        stderrReader = thread(isDaemon = true, name = "collector-stderr") {
            process.errorStream.bufferedReader().forEachLine {
                stderr.append(it).append('\n')
                log.add(it)
            }
        }
        thread(isDaemon = true, name = "collector-stdout") {
            // Always drained, so a chatty collector never blocks on a full pipe.
            process.inputStream.bufferedReader().forEachLine { stdout.put(it); }
            stdout.put(EOF)
        }
        baseUrl = try {
            awaitListening()
        } catch (e: Throwable) {
            close()
            throw e
        }
        thread(isDaemon = true, name = "collector-stdout-rest") {
            // Nothing else is printed on stdout; drained all the same.
            while (stdout.take() !== EOF) Unit
        }
    }

    private fun awaitListening(): String {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_TIMEOUT_S)
        while (true) {
            val left = deadline - System.nanoTime()
            val line = if (left > 0) stdout.poll(left, TimeUnit.NANOSECONDS) else null
            if (line == null || line === EOF) {
                val state = if (process.isAlive) {
                    "still running after ${STARTUP_TIMEOUT_S}s without printing it"
                } else {
                    stderrReader.join(1_000) // all of it, for the message
                    "exited with status ${process.exitValue()}"
                }
                throw AssertionError("sockstatlog collect did not print 'listening on http://…': $state; stderr:\n$stderr")
            }
            LISTENING.find(line)?.let { return it.groupValues[1] }
        }
    }

    /** The file holding the entries stored for [privateId]. */
    fun streamFile(privateId: String, collection: String = COLLECTION): Path =
        dir.resolve(collection).resolve("$privateId.jsonl")

    /** The raw lines stored for [privateId], oldest first (none if nothing was stored). */
    fun storedLines(privateId: String, collection: String = COLLECTION): List<String> {
        val f = streamFile(privateId, collection).toFile()
        return if (f.exists()) f.readLines().filter { it.isNotEmpty() } else emptyList()
    }

    /** The entries stored for [privateId], parsed. */
    fun storedEntries(privateId: String, collection: String = COLLECTION): List<Map<String, Any?>> =
        storedLines(privateId, collection).map { parseJsonObject(it) }

    /** What one stored request reported: entries stored and duplicates dropped. */
    data class Stored(val stored: Int, val duplicates: Int)

    /**
     * The collector's per-request `stored N entries, M duplicates dropped`
     * log lines, once they account for at least [entries] stored entries (the
     * collector logs before it answers, but the pipe is read asynchronously).
     */
    fun storedRequests(entries: Int, minRequests: Int = 1, timeoutMs: Long = 5_000): List<Stored> {
        val deadline = System.currentTimeMillis() + timeoutMs
        while (true) {
            val got = synchronized(log) { log.toList() }.mapNotNull { line ->
                STORED.find(line)?.let { Stored(it.groupValues[1].toInt(), it.groupValues[2].toInt()) }
            }
            // The collector logs each request as it answers it: wait for the
            // lines, not just for the entries (a retry stores none).
            val complete = got.sumOf { it.stored } >= entries && got.size >= minRequests
            if (complete || System.currentTimeMillis() > deadline) return got
            Thread.sleep(10)
        }
    }

    /** Stderr so far, for failure messages. */
    fun stderr(): String = stderr.toString()

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(5, TimeUnit.SECONDS)
        }
        dir.toFile().deleteRecursively()
    }

    companion object {
        private const val STARTUP_TIMEOUT_S = 10L
        private val LISTENING = Regex("^listening on (http://\\S+)$")
        private val STORED = Regex(" stored (\\d+) entries, (\\d+) duplicates dropped")
        private val EOF = String(charArrayOf('\u0000'))

        fun binary(): File {
            val bindir = System.getProperty("sockstatlog.bindir")
                ?: throw AssertionError("system property sockstatlog.bindir is not set (run scripts/test-kotlin.sh)")
            val bin = File(bindir, "sockstatlog")
            if (!bin.canExecute()) {
                throw AssertionError(
                    "collector binary $bin is missing; build it with `cargo build -p sockstatlog-tools --bin sockstatlog` " +
                        "(scripts/test-kotlin.sh does) or point -Dsockstatlog.bindir at its directory",
                )
            }
            return bin
        }
    }
}

/** `(logtail.proc_id, logtail.proc_seq)` of a parsed entry, or null if it has none. */
fun entryKey(entry: Map<String, Any?>): Pair<Long, Long>? {
    val lt = entry["logtail"] as? Map<*, *> ?: return null
    val id = lt["proc_id"] as? Long ?: return null
    val seq = lt["proc_seq"] as? Long ?: return null
    return id to seq
}

/** Parses one JSON object (the collector's lines); numbers without a fraction become Long. */
@Suppress("UNCHECKED_CAST")
fun parseJsonObject(text: String): Map<String, Any?> =
    JsonReader(text).run { val v = value(); end(); v as? Map<String, Any?> ?: error("not a JSON object: $text") }

/** Just enough JSON for test assertions: strict, no extensions. */
private class JsonReader(private val s: String) {
    private var i = 0

    fun end() {
        ws()
        if (i != s.length) fail("trailing characters")
    }

    fun value(): Any? {
        ws()
        if (i >= s.length) fail("unexpected end")
        return when (s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> lit("true", true)
            'f' -> lit("false", false)
            'n' -> lit("null", null)
            else -> num()
        }
    }

    private fun obj(): Map<String, Any?> {
        val out = LinkedHashMap<String, Any?>()
        i++
        ws()
        if (peek() == '}') { i++; return out }
        while (true) {
            ws()
            if (peek() != '"') fail("expected a key")
            val k = str()
            ws()
            expect(':')
            out[k] = value()
            ws()
            when (next()) {
                ',' -> continue
                '}' -> return out
                else -> fail("expected , or }")
            }
        }
    }

    private fun arr(): List<Any?> {
        val out = ArrayList<Any?>()
        i++
        ws()
        if (peek() == ']') { i++; return out }
        while (true) {
            out.add(value())
            ws()
            when (next()) {
                ',' -> continue
                ']' -> return out
                else -> fail("expected , or ]")
            }
        }
    }

    private fun str(): String {
        expect('"')
        val b = StringBuilder()
        while (true) {
            val c = next()
            when {
                c == '"' -> return b.toString()
                c == '\\' -> when (val e = next()) {
                    '"', '\\', '/' -> b.append(e)
                    'b' -> b.append('\b')
                    'f' -> b.append('\u000c')
                    'n' -> b.append('\n')
                    'r' -> b.append('\r')
                    't' -> b.append('\t')
                    'u' -> {
                        if (i + 4 > s.length) fail("short \\u escape")
                        b.append(s.substring(i, i + 4).toInt(16).toChar())
                        i += 4
                    }
                    else -> fail("bad escape \\$e")
                }
                c < ' ' -> fail("control character in string")
                else -> b.append(c)
            }
        }
    }

    private fun num(): Any {
        val m = NUMBER.matchAt(s, i) ?: fail("bad value")
        i += m.value.length
        return m.value.toLongOrNull() ?: m.value.toDouble()
    }

    private fun lit(word: String, v: Any?): Any? {
        if (!s.startsWith(word, i)) fail("bad literal")
        i += word.length
        return v
    }

    private fun ws() {
        while (i < s.length && s[i] in " \t\r\n") i++
    }

    private fun peek(): Char? = s.getOrNull(i)
    private fun next(): Char = s.getOrNull(i++) ?: fail("unexpected end")
    private fun expect(c: Char) {
        if (next() != c) fail("expected $c")
    }
    private fun fail(msg: String): Nothing = throw IllegalArgumentException("JSON: $msg at $i in: $s")

    companion object {
        private val NUMBER = Regex("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")
    }
}

/**
 * An [UploadTransport] that sends each request itself with
 * [java.net.HttpURLConnection], headers as given (`Content-Encoding: zstd`,
 * `Orig-Content-Length`), and records what it sent and got back.
 */
class HttpUrlConnectionTransport(private val timeoutMs: Int = 5_000) : UploadTransport {
    val requests: MutableList<UploadRequest> = Collections.synchronizedList(mutableListOf())
    val statuses: MutableList<Int> = Collections.synchronizedList(mutableListOf())

    override fun send(request: UploadRequest): UploadResponse {
        requests.add(request)
        val conn = try {
            java.net.URI(request.url).toURL().openConnection() as java.net.HttpURLConnection
        } catch (e: Exception) {
            throw SockstatException.Upload("bad url ${request.url}: $e")
        }
        try {
            conn.requestMethod = "POST"
            conn.connectTimeout = timeoutMs
            conn.readTimeout = timeoutMs
            conn.doOutput = true
            conn.instanceFollowRedirects = false
            conn.setFixedLengthStreamingMode(request.body.size)
            for (h in request.headers) conn.addRequestProperty(h.name, h.value)
            conn.outputStream.use { it.write(request.body) }
            val status = conn.responseCode
            statuses.add(status)
            val body = (if (status < 400) conn.inputStream else conn.errorStream)?.use { it.readAllBytes() } ?: byteArrayOf()
            val headers = conn.headerFields.filterKeys { it != null }.flatMap { (k, vs) -> vs.map { HttpHeader(k, it) } }
            return UploadResponse(status, headers, body)
        } catch (e: java.io.IOException) {
            throw SockstatException.Upload("${request.url}: $e")
        } finally {
            conn.disconnect()
        }
    }
}
