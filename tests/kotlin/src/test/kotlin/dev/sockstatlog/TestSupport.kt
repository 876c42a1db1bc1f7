package dev.sockstatlog

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections

/** A backend public log ID for tests (any 64 hex characters). */
const val BACKEND_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/** A config writing under a fresh temp dir, sampling fast so tests are quick. */
fun testConfig(dir: Path = Files.createTempDirectory("sockstatlog-kt"), baseUrl: String? = null): LoggerConfig =
    defaultLoggerConfig(dir.toString(), BACKEND_ID).apply {
        pollIntervalMs = 10uL
        writeIntervalMs = 100uL
        backoffBaseMs = 50uL
        backoffCapMs = 200uL
        attemptTimeoutMs = 5_000uL
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

/** A request a [LoopbackCollector] received. */
class Received(val path: String, val headers: Map<String, String>, val body: ByteArray)

/**
 * A tiny logtail-style server on 127.0.0.1 that answers 200 (or [status]) and
 * records every request, for tests that upload over real HTTP.
 */
class LoopbackCollector(var status: Int = 200) : AutoCloseable {
    val received: MutableList<Received> = Collections.synchronizedList(mutableListOf())
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        createContext("/") { ex ->
            val body = ex.requestBody.readAllBytes()
            val headers = ex.requestHeaders.entries.associate { it.key.lowercase() to it.value.joinToString(",") }
            received.add(Received(ex.requestURI.path, headers, body))
            ex.sendResponseHeaders(status, -1)
            ex.close()
        }
        start()
    }
    val baseUrl: String get() = "http://127.0.0.1:${server.address.port}"
    override fun close() = server.stop(0)
}
