package dev.sockstatlog.android

import android.content.Context
import android.net.ConnectivityManager
import android.util.Log
import dev.sockstatlog.FastCounters
import dev.sockstatlog.FlushReport
import dev.sockstatlog.LoggerConfig
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.UploadTransport
import dev.sockstatlog.defaultLoggerConfig
import java.io.File
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.function.Consumer

/**
 * A socket-stats logger tied to a [android.net.VpnService]'s lifetime: create it in
 * `onCreate` (or when the tunnel is established), [start] it, push counters
 * from the tunnel loop with [add], [flush] when the app asks, and [close] it in
 * `onDestroy`.
 *
 * It follows the best physical network ([SockstatNetworkMonitor]) and, by
 * default, uploads through [HttpUrlConnectionTransport] bound to that network
 * ([UnderlyingNetworks]): the uploads never go through the VPN's own tunnel,
 * with nothing for the app to configure.
 *
 * Sockstat logging never takes the VPN down: [start], [add] and [close] never
 * throw; a failure is logged (tag `sockstatlog`) and counted in [failures],
 * and the tunnel keeps running. A [flush] future always completes.
 *
 * Thread-safe: [add] may be called from any thread, [flush] never blocks the
 * caller, [close] waits at most [SHUTDOWN_TIMEOUT_MS].
 *
 * @param networks where uploads leave; its monitor is set to this session's.
 */
class SockstatVpnSession @JvmOverloads constructor(
    /** The logger, for anything this class does not wrap (labels, `setTotals`, stats). */
    val logger: SockstatLogger,
    private val connectivity: ConnectivityManager?,
    networks: UnderlyingNetworks? = null,
) : AutoCloseable {
    /** The JNI fast-path handle of [logger] ([FastCounters]). */
    private val handle: Long = logger.fastCountersHandle()

    /** Follows the physical network and reports it to [logger]. */
    val monitor = SockstatNetworkMonitor(logger)
    /** The OS's byte totals for this app, reported at each flush and at close ([OsTrafficTotals]). */
    val osTotals = OsTrafficTotals(logger)
    private val closed = AtomicBoolean(false)
    private val failureCount = AtomicLong(0)
    /** Flush futures not yet completed: [close] fails each with Closed. */
    private val pending: MutableSet<CompletableFuture<FlushReport>> = ConcurrentHashMap.newKeySet()
    private val rejectedAddLogged = AtomicBoolean(false)
    private val flusher: ExecutorService = Executors.newSingleThreadExecutor { r ->
        Thread(r, "sockstatlog-flush").apply { isDaemon = true }
    }

    init {
        networks?.monitor = monitor
    }

    /**
     * Failures so far, the tunnel kept running each time: a failed [start] or
     * [close] (each logged), a rejected [add] (the first logged), and what
     * the network monitor's sink threw ([SockstatNetworkMonitor.failures]).
     */
    val failures: Long get() = failureCount.get() + monitor.failures

    /**
     * Starts sampling and following the physical network. Returns false if
     * that failed (logged and counted, see [failures]).
     */
    fun start(): Boolean = guard("start") {
        logger.enable()
        connectivity?.let(monitor::start)
    }

    /**
     * Adds bytes to [label] (0..255) through the JNI fast path: tens of
     * nanoseconds, no allocation, safe from the tunnel's packet loop. Never
     * throws: returns false after [close] (the bytes are dropped), and for a
     * label outside 0..255 or a negative count (dropped and counted in
     * [failures]; the first one is logged).
     */
    fun add(label: Int, tx: Long, rx: Long): Boolean {
        if (label !in LABELS || tx < 0 || rx < 0) return rejectAdd("label $label, tx $tx, rx $rx", null)
        return try {
            FastCounters.add(handle, label, tx, rx)
        } catch (e: RuntimeException) { // IllegalArgumentException from the native side's own checks
            rejectAdd("label $label, tx $tx, rx $rx", e)
        }
    }

    private fun rejectAdd(what: String, e: Exception?): Boolean {
        failureCount.incrementAndGet()
        if (rejectedAddLogged.compareAndSet(false, true)) {
            Log.w(TAG, "sockstatlog: add($what) rejected and dropped; later ones are only counted", e)
        }
        return false
    }

    /**
     * Writes what is pending and uploads, on a background thread, waiting at
     * most [timeoutMs]. The future completes with the report, or
     * exceptionally with the [SockstatException] (Closed after [close]);
     * callbacks attached with `whenComplete` run on that thread. Flushes run
     * one at a time; the future can be waited on or ignored.
     */
    @JvmOverloads
    fun flush(timeoutMs: Long = FLUSH_TIMEOUT_MS): CompletableFuture<FlushReport> {
        val done = CompletableFuture<FlushReport>()
        // Registered before it is queued, so close() either sees it or the queue refuses it.
        pending += done
        done.whenComplete { _, _ -> pending -= done }
        try {
            flusher.execute {
                try {
                    osTotals.report()
                    done.complete(logger.flush(timeoutMs))
                } catch (e: Exception) {
                    done.completeExceptionally(e)
                }
            }
        } catch (e: RejectedExecutionException) {
            done.completeExceptionally(SockstatException.Closed())
        }
        return done
    }

    /**
     * Stops following the network, then shuts the logger down (everything
     * pending is written to disk) waiting at most [SHUTDOWN_TIMEOUT_MS], and
     * releases it. Every flush not finished by then (queued, or in flight and
     * abandoned: its lines stay on disk for the next session) completes
     * exceptionally with [SockstatException.Closed]. Only the first call does
     * anything; it never throws (a failed shutdown is logged and counted, see
     * [failures]).
     */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        guard("stop the network monitor") { connectivity?.let(monitor::stop) }
        flusher.shutdownNow() // queued flushes never run; the futures are failed below
        guard("os totals") { osTotals.report() }
        guard("shutdown") { logger.shutdown(SHUTDOWN_TIMEOUT_MS) }
        for (f in pending.toList()) f.completeExceptionally(SockstatException.Closed())
        logger.close()
    }

    /** Runs [body]; an exception is logged and counted instead of reaching the VPN's lifecycle. */
    private inline fun guard(what: String, body: () -> Unit): Boolean = try {
        body()
        true
    } catch (e: Exception) {
        failureCount.incrementAndGet()
        Log.w(TAG, "sockstatlog: $what failed; the tunnel is unaffected", e)
        false
    }

    /** Factories and timeouts. */
    companion object {
        /** Log tag of the failures the session swallows. */
        const val TAG = "sockstatlog"

        /** Default flush wait, ms: long enough for a few 256 KiB requests on a slow link. */
        const val FLUSH_TIMEOUT_MS = 30_000L

        /**
         * Shutdown wait, ms. `onDestroy` runs on the main thread, and a service
         * that blocks it for seconds risks an ANR; 2 s covers a final fsync.
         */
        const val SHUTDOWN_TIMEOUT_MS = 2_000L

        /** The labels [add] accepts: the logger's (`0..255`, one byte on the wire). */
        private val LABELS = 0..255

        /** Log files live here, under `noBackupFilesDir`: not backed up, not for other apps. */
        const val LOG_DIR_NAME = "sockstatlog"

        /**
         * A session for [service] (any [Context] works): logs under
         * `noBackupFilesDir/sockstatlog`, follows the physical network, and
         * uploads through [transport]; `null` (the default) means
         * [HttpUrlConnectionTransport] bound to the physical network (see
         * [UnderlyingNetworks] for the order of fallbacks). [configure] may
         * change the defaults (e.g. `maxLogBytes`); from Java pass a
         * `Consumer<LoggerConfig>` (or `null`). [backendPublicId] is the
         * node's 64-hex backend public log ID.
         *
         * @throws SockstatException a bad ID or config, or an unusable log
         *   directory; a VPN catches it and runs without sockstat logging.
         */
        @JvmStatic
        @JvmOverloads
        fun create(
            service: Context,
            backendPublicId: String,
            transport: UploadTransport? = null,
            configure: Consumer<LoggerConfig>? = null,
        ): SockstatVpnSession {
            val dir = File(service.noBackupFilesDir, LOG_DIR_NAME)
            val config = defaultLoggerConfig(dir.path, backendPublicId)
            configure?.accept(config)
            val connectivity = service.getSystemService(ConnectivityManager::class.java)
            val networks = UnderlyingNetworks(connectivity)
            val upload = transport ?: HttpUrlConnectionTransport(
                attemptTimeoutMs = config.attemptTimeoutMs,
                open = networks::openConnection,
            )
            return SockstatVpnSession(SockstatLogger.withTransport(config, upload), connectivity, networks)
        }
    }
}
