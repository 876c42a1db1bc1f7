package dev.sockstatlog.android

import android.net.NetworkCapabilities
import com.sun.net.httpserver.HttpServer
import dev.sockstatlog.LoggerConfig
import dev.sockstatlog.defaultLoggerConfig
import java.net.InetSocketAddress
import java.nio.file.Files
import java.util.Collections

/** Any 64 hex characters will do as a node's backend public log ID. */
const val BACKEND_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/** A config under a fresh temp dir, sampling fast so tests are quick. */
fun testConfig(baseUrl: String? = null): LoggerConfig =
    defaultLoggerConfig(Files.createTempDirectory("sockstatlog-android").toString(), BACKEND_ID).apply {
        pollIntervalMs = 10L
        writeIntervalMs = 100L
        backoffBaseMs = 50L
        backoffCapMs = 200L
        if (baseUrl != null) {
            this.baseUrl = baseUrl
            allowHttp = true
        }
    }

/** Real framework capabilities with these transports (android-all's code, no device). */
fun caps(vararg transports: Int): NetworkCapabilities =
    NetworkCapabilities.Builder().apply { transports.forEach { addTransportType(it) } }.build()

/** A request the [Collector] received. */
class Received(val method: String, val path: String, val headers: Map<String, String>, val body: ByteArray)

/** A loopback HTTP server answering [status] with [headers] and [body], recording requests. */
class Collector(
    var status: Int = 200,
    var headers: Map<String, String> = emptyMap(),
    var body: ByteArray = ByteArray(0),
) : AutoCloseable {
    val received: MutableList<Received> = Collections.synchronizedList(mutableListOf())
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        createContext("/") { ex ->
            val got = ex.requestHeaders.entries.associate { it.key.lowercase() to it.value.joinToString(",") }
            received.add(Received(ex.requestMethod, ex.requestURI.path, got, ex.requestBody.readAllBytes()))
            headers.forEach { (k, v) -> ex.responseHeaders.add(k, v) }
            ex.sendResponseHeaders(status, if (body.isEmpty()) -1 else body.size.toLong())
            if (body.isNotEmpty()) ex.responseBody.use { it.write(body) }
            ex.close()
        }
        start()
    }

    /** `http://127.0.0.1:PORT`. */
    val baseUrl: String get() = "http://127.0.0.1:${server.address.port}"
    override fun close() = server.stop(0)
}

private val SAMPLES = Regex("\"s\":\\{([^}]*)\\}")
private val ENTRY = Regex("\"(\\d+)\":\\[(\\d+),(\\d+)\\]")

/** Sum of `[tx, rx]` per label over the event lines of an export, optionally only (non-)cellular ones. */
fun totals(lines: List<String>, cellular: Boolean? = null): Map<Int, Pair<Long, Long>> {
    val out = HashMap<Int, Pair<Long, Long>>()
    for (line in lines) {
        val s = SAMPLES.find(line) ?: continue
        if (cellular != null && line.contains("\"c\":1") != cellular) continue
        for (m in ENTRY.findAll(s.groupValues[1])) {
            val label = m.groupValues[1].toInt()
            val (tx, rx) = out[label] ?: (0L to 0L)
            out[label] = (tx + m.groupValues[2].toLong()) to (rx + m.groupValues[3].toLong())
        }
    }
    return out
}
