package dev.sockstatlog.android

import android.content.Context
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities.TRANSPORT_CELLULAR
import android.net.NetworkCapabilities.TRANSPORT_VPN
import android.net.NetworkCapabilities.TRANSPORT_WIFI
import android.os.Build
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.UploadRequest
import dev.sockstatlog.UploadResponse
import dev.sockstatlog.UploadTransport
import dev.sockstatlog.sockstatLogId
import java.io.File
import java.net.URL
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlin.test.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/**
 * The session as a VpnService uses it, inside Robolectric's Android: the
 * Android-flavour bindings, a real Context, ConnectivityManager's shadow,
 * the JNI fast path loaded in the sandbox's class loader.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class SockstatVpnSessionTest {
    private val context: Context get() = RuntimeEnvironment.getApplication()
    private val connectivity: ConnectivityManager get() = context.getSystemService(ConnectivityManager::class.java)!!

    private fun session(baseUrl: String? = null) =
        SockstatVpnSession(SockstatLogger.withTransport(testConfig(baseUrl), HttpUrlConnectionTransport()), null)

    /** Delivers a network to the callback the session registered, as ConnectivityManager would. */
    private fun deliver(net: Network, name: String, vararg transports: Int) {
        val cb = shadowOf(connectivity).networkCallbacks.single()
        cb.onAvailable(net)
        cb.onCapabilitiesChanged(net, caps(*transports))
        cb.onLinkPropertiesChanged(net, LinkProperties().apply { interfaceName = name })
    }

    @Test
    fun `the shipped android flavour of the bindings runs, with the cleaner of this API level`() {
        SockstatLogger(testConfig()).use { it.shutdown(5_000L) } // loads and calls the library
        // android = true: the generated code picks SystemCleaner on API 34+, JNA's cleaner below.
        val lib = Class.forName("dev.sockstatlog.UniffiLib")
        val lazy = lib.getDeclaredField("CLEANER\$delegate").apply { isAccessible = true }
            .get(lib.getDeclaredField("INSTANCE").get(null)) as Lazy<*>
        val want = if (Build.VERSION.SDK_INT >= 34) "AndroidSystemCleaner" else "UniffiJnaCleaner"
        assertEquals(want, lazy.value!!.javaClass.simpleName, "API ${Build.VERSION.SDK_INT}")
    }

    @Test
    fun `create logs under noBackupFilesDir and follows the network`() {
        val s = SockstatVpnSession.create(context, BACKEND_ID)
        assertTrue(s.start())
        assertTrue(File(context.noBackupFilesDir, SockstatVpnSession.LOG_DIR_NAME).isDirectory)
        assertTrue(s.monitor.callback in shadowOf(connectivity).networkCallbacks)
        deliver(Network(100), "wlan0", TRANSPORT_WIFI)
        assertEquals(Network(100), s.monitor.network)
        s.close()
        assertTrue(shadowOf(connectivity).networkCallbacks.isEmpty())
        assertEquals(0L, s.failures)
    }

    @Test
    fun `counters pushed through the JNI fast path inside the sandbox reach the log`() {
        val s = session()
        s.start()
        assertTrue(s.logger.isEnabled())
        assertTrue(s.add(20, 1500, 0))
        assertTrue(s.add(20, 40, 900))
        s.logger.disable()
        assertEquals(1540L to 900L, totals(s.logger.export())[20])
        s.close()
    }

    @Test
    fun `after close pushes are dropped, flush completes with Closed and close is idempotent`() {
        val s = session()
        s.start()
        s.close()
        assertFalse(s.add(20, 1, 1))
        val e = kotlin.runCatching { s.flush().get(5, TimeUnit.SECONDS) }.exceptionOrNull()
        assertIs<ExecutionException>(e)
        assertIs<SockstatException.Closed>(e.cause)
        s.close()
        assertEquals(0L, s.failures)
    }

    @Test
    fun `a failing shutdown in close is logged and counted, never thrown into onDestroy`() {
        val s = session()
        s.start()
        s.logger.shutdown(5_000L) // someone shut the logger down already: close's shutdown fails with Closed
        s.close()
        assertEquals(1L, s.failures)
        assertFalse(s.start(), "start after shutdown fails quietly too")
        assertEquals(2L, s.failures)
    }

    @Test
    fun `uploads leave on the physical network the monitor follows, not the VPN or the default`() {
        Collector().use { c ->
            val s = SockstatVpnSession.create(context, BACKEND_ID) {
                it.baseUrl = c.baseUrl
                it.allowHttp = true
                it.pollIntervalMs = 10L
                it.writeIntervalMs = 100L
            }
            s.start()
            val vpn = RecordingNetwork(300)
            val wifi = RecordingNetwork(100)
            deliver(vpn, "tun0", TRANSPORT_VPN, TRANSPORT_WIFI) // offered by mistake: ignored
            deliver(wifi, "wlan0", TRANSPORT_WIFI)
            s.add(20, 100, 200)
            s.logger.disable()
            val report = s.flush(10_000).get(20, TimeUnit.SECONDS) // an InternalException (a Rust panic) fails here
            assertTrue(report.drained, "report: $report")
            assertTrue(wifi.opened.isNotEmpty(), "no connection opened on the physical network")
            assertEquals(emptyList(), vpn.opened)
            val path = "/c/sockstats.log.tailscale.io/${sockstatLogId(BACKEND_ID).privateId}"
            assertTrue(c.received.isNotEmpty(), "nothing uploaded")
            for (r in c.received) assertEquals("POST" to path, r.method to r.path)
            assertTrue(wifi.opened.all { it.endsWith(path) }, "opened: ${wifi.opened}")
            s.close()
        }
    }

    @Test
    fun `before the monitor reports, uploads use the active network only if it is not a VPN`() {
        val shadow = shadowOf(connectivity)
        val active = connectivity.activeNetwork
        val networks = UnderlyingNetworks(connectivity)
        if (active != null) {
            shadow.setNetworkCapabilities(active, caps(TRANSPORT_WIFI))
            assertEquals(active, networks.current())
            shadow.setNetworkCapabilities(active, caps(TRANSPORT_VPN, TRANSPORT_WIFI))
        }
        assertEquals(null, networks.current(), "API ${Build.VERSION.SDK_INT}: a VPN is never the upload's network")
        assertEquals(null, UnderlyingNetworks(null).current())
        assertEquals(InterfaceKind.WIFI, InterfaceKinds.of(caps(TRANSPORT_WIFI)))
    }

    /** The future's failure, which must be [SockstatException.Closed]; a future that never completes fails the test. */
    private fun assertClosed(f: CompletableFuture<*>, what: String) {
        val e = runCatching { f.get(PATIENCE_S, TimeUnit.SECONDS) }.exceptionOrNull()
        assertIs<ExecutionException>(e, "$what: $e")
        assertIs<SockstatException.Closed>(e.cause, what)
    }

    /** The active network, if Robolectric has one, made to look like the app's own VPN. */
    private fun activeIsTheTunnel() {
        connectivity.activeNetwork?.let { shadowOf(connectivity).setNetworkCapabilities(it, caps(TRANSPORT_VPN, TRANSPORT_WIFI)) }
    }

    @Test
    fun `a network callback after close neither throws nor reaches the destroyed logger`() {
        val s = SockstatVpnSession.create(context, BACKEND_ID)
        assertTrue(s.start())
        val cb = shadowOf(connectivity).networkCallbacks.single()
        deliver(Network(100), "wlan0", TRANSPORT_WIFI)
        s.close()
        // ConnectivityManager was already dispatching these when close() returned.
        cb.onAvailable(Network(101))
        cb.onCapabilitiesChanged(Network(101), caps(TRANSPORT_CELLULAR))
        cb.onLinkPropertiesChanged(Network(101), LinkProperties().apply { interfaceName = "rmnet_data0" })
        cb.onLost(Network(100))
        cb.onLost(Network(101))
        assertEquals(0L, s.failures, "ignored after stop: not even a caught failure")
    }

    @Test
    fun `close completes every pending flush, queued or in flight`() {
        val entered = CountDownLatch(1)
        val release = CountDownLatch(1)
        val stuck = object : UploadTransport {
            override fun send(request: UploadRequest): UploadResponse {
                entered.countDown()
                release.await()
                throw SockstatException.Upload("released by the test")
            }
        }
        val s = SockstatVpnSession(SockstatLogger.withTransport(testConfig("http://127.0.0.1:1"), stuck), null)
        try {
            s.start()
            s.logger.writeText("keeps the uploader busy")
            val inFlight = s.flush(LONG_FLUSH_MS)
            assertTrue(entered.await(PATIENCE_S, TimeUnit.SECONDS), "the upload never started")
            val queued = List(3) { s.flush(LONG_FLUSH_MS) } // behind the one in flight
            s.close()
            // In flight: either the shutdown ended it first (a report, not drained) or close failed it.
            val ended = runCatching { inFlight.get(PATIENCE_S, TimeUnit.SECONDS) }
            ended.onSuccess { assertFalse(it.drained, "report: $it") }
            ended.onFailure { assertIs<SockstatException.Closed>((it as? ExecutionException)?.cause, "the flush in flight: $it") }
            queued.forEachIndexed { i, f -> assertClosed(f, "queued flush $i") }
            assertClosed(s.flush(), "a flush after close")
        } finally {
            release.countDown()
        }
    }

    @Test
    fun `with the monitor running and no physical network, an upload fails and is retried once there is one`() {
        Collector().use { c ->
            activeIsTheTunnel() // the process default would be the VPN's own tunnel
            val s = SockstatVpnSession.create(context, BACKEND_ID) {
                it.baseUrl = c.baseUrl
                it.allowHttp = true
                it.backoffBaseMs = 50L
                it.backoffCapMs = 200L
            }
            assertTrue(s.start())
            s.logger.writeText("waits for a physical network")
            val flush = s.flush(LONG_FLUSH_MS)
            waitFor("a failed attempt") { s.logger.stats().uploadFailures >= 1 }
            assertEquals(0, c.received.size, "nothing may leave while there is no physical network")
            assertFalse(flush.isDone, "still retrying")
            val wifi = RecordingNetwork(100)
            deliver(wifi, "wlan0", TRANSPORT_WIFI)
            val report = flush.get(PATIENCE_S, TimeUnit.SECONDS)
            assertTrue(report.drained, "report: $report")
            assertTrue(wifi.opened.isNotEmpty(), "the retry went out on the physical network")
            assertTrue(c.received.isNotEmpty())
            s.close()
        }
    }

    @Test
    fun `underlying networks never fall back to the process default while the monitor runs`() {
        activeIsTheTunnel()
        val monitor = SockstatNetworkMonitor { _, _ -> }
        val networks = UnderlyingNetworks(connectivity, monitor)
        val url = URL("http://127.0.0.1:1/c/x/y")
        networks.openConnection(url) // not started: the process default, as in plain-JVM use
        monitor.start(connectivity)
        val e = assertFailsWith<SockstatException.Upload> { networks.openConnection(url) }
        assertEquals(UnderlyingNetworks.NO_PHYSICAL_NETWORK, e.reason)
        val wifi = RecordingNetwork(100)
        deliver(wifi, "wlan0", TRANSPORT_WIFI)
        networks.openConnection(url)
        assertEquals(listOf(url.toString()), wifi.opened)
        monitor.stop(connectivity)
    }

    @Test
    fun `add never throws, a label outside 0 to 255 or a negative count is dropped and counted`() {
        val s = session()
        s.start()
        assertTrue(s.add(255, 1, 1))
        val bad = listOf(Triple(256, 1L, 1L), Triple(-1, 1L, 1L), Triple(20, -1L, 0L), Triple(20, 0L, -1L),
            Triple(Int.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE))
        for ((label, tx, rx) in bad) assertFalse(s.add(label, tx, rx), "add($label, $tx, $rx)")
        assertEquals(bad.size.toLong(), s.failures)
        assertTrue(s.add(20, 3, 4), "later pushes still count")
        s.logger.disable()
        val totals = totals(s.logger.export())
        assertEquals(mapOf(255 to (1L to 1L), 20 to (3L to 4L)), totals.filterKeys { it == 20 || it == 255 })
        s.close()
    }

    private companion object {
        /** A flush that only close() or the test ends, ms. */
        const val LONG_FLUSH_MS = 600_000L

        /** How long a test waits before failing, s: a bound on a failure, never a synchronisation. */
        const val PATIENCE_S = 60L

        /** Waits until [done], failing the test after [PATIENCE_S]. */
        fun waitFor(what: String, done: () -> Boolean) {
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_S)
            while (!done()) {
                if (System.nanoTime() > deadline) fail("waited $PATIENCE_S s for $what")
                Thread.sleep(5)
            }
        }
    }
}
