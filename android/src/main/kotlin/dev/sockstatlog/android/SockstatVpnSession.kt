package dev.sockstatlog.android

import android.content.Context
import android.net.ConnectivityManager
import dev.sockstatlog.FastCounters
import dev.sockstatlog.FlushReport
import dev.sockstatlog.LoggerConfig
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.UploadTransport
import dev.sockstatlog.defaultLoggerConfig
import java.io.File
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.Future
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * A socket-stats logger tied to a [android.net.VpnService]'s lifetime: create it in
 * `onCreate` (or when the tunnel is established), [start] it, push counters
 * from the tunnel loop with [add], [flush] when the app asks, and [close] it in
 * `onDestroy`.
 *
 * It also follows the default network ([SockstatNetworkMonitor]) and uploads
 * through a host [UploadTransport], by default [HttpUrlConnectionTransport],
 * so the upload can be kept out of the tunnel (see there).
 *
 * Thread-safe: [add] may be called from any thread, [flush] never blocks the
 * caller, [close] waits at most [SHUTDOWN_TIMEOUT_MS].
 */
class SockstatVpnSession(
    /** The logger, for anything this class does not wrap (labels, `setTotals`, stats). */
    val logger: SockstatLogger,
    private val connectivity: ConnectivityManager?,
) : AutoCloseable {
    /** The JNI fast-path handle of [logger] ([FastCounters]). */
    private val handle: Long = logger.fastCountersHandle()
    private val monitor = SockstatNetworkMonitor(logger)
    private val closed = AtomicBoolean(false)
    private val flusher: ExecutorService = Executors.newSingleThreadExecutor { r ->
        Thread(r, "sockstatlog-flush").apply { isDaemon = true }
    }

    /** Starts sampling and following the default network. */
    fun start() {
        logger.enable()
        connectivity?.let(monitor::start)
    }

    /**
     * Adds bytes to [label] (0..255) through the JNI fast path: tens of
     * nanoseconds, no allocation, safe from the tunnel's packet loop. Returns
     * false after [close] (the bytes are dropped, nothing throws).
     */
    fun add(label: Int, tx: Long, rx: Long): Boolean = FastCounters.add(handle, label, tx, rx)

    /**
     * Writes what is pending and uploads, on a background thread, waiting at
     * most [timeoutMs]; [done] gets the report or the error on that thread.
     * Flushes run one at a time; the returned future can be waited on or ignored.
     * After [close], [done] gets [SockstatException.Closed] at once.
     */
    @JvmOverloads
    fun flush(timeoutMs: Long = FLUSH_TIMEOUT_MS, done: (Result<FlushReport>) -> Unit = {}): Future<*> =
        try {
            flusher.submit { done(runCatching { logger.flush(timeoutMs) }) }
        } catch (e: RejectedExecutionException) {
            done(Result.failure(SockstatException.Closed()))
            CompletableFuture.completedFuture(null)
        }

    /**
     * Stops following the network, then shuts the logger down (everything
     * pending is written to disk) waiting at most [SHUTDOWN_TIMEOUT_MS], and
     * releases it. A flush still in flight is abandoned: its lines stay on
     * disk for the next session. Only the first call does anything.
     */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        connectivity?.let(monitor::stop)
        flusher.shutdownNow()
        try {
            logger.shutdown(SHUTDOWN_TIMEOUT_MS)
        } finally {
            logger.close()
        }
    }

    /** Factories and timeouts. */
    companion object {
        /** Default flush wait, ms: long enough for a few 256 KiB requests on a slow link. */
        const val FLUSH_TIMEOUT_MS = 30_000L

        /**
         * Shutdown wait, ms. `onDestroy` runs on the main thread, and a service
         * that blocks it for seconds risks an ANR; 2 s covers a final fsync.
         */
        const val SHUTDOWN_TIMEOUT_MS = 2_000L

        /** Log files live here, under `noBackupFilesDir`: not backed up, not for other apps. */
        const val LOG_DIR_NAME = "sockstatlog"

        /**
         * A session for [service] (any [Context] works): logs under
         * `noBackupFilesDir/sockstatlog`, uploads through [transport], follows
         * the default network. [configure] may change the defaults (e.g.
         * `maxLogBytes`); [backendPublicId] is the node's 64-hex backend
         * public log ID.
         */
        @JvmStatic
        @JvmOverloads
        fun create(
            service: Context,
            backendPublicId: String,
            transport: UploadTransport = HttpUrlConnectionTransport(),
            configure: LoggerConfig.() -> Unit = {},
        ): SockstatVpnSession {
            val dir = File(service.noBackupFilesDir, LOG_DIR_NAME)
            val config = defaultLoggerConfig(dir.path, backendPublicId).apply(configure)
            return SockstatVpnSession(
                SockstatLogger.withTransport(config, transport),
                service.getSystemService(ConnectivityManager::class.java),
            )
        }
    }
}
