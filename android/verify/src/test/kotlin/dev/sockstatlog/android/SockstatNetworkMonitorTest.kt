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
import dev.sockstatlog.SockstatLogger
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/**
 * The monitor driven through its real `NetworkCallback` with framework objects,
 * in the order ConnectivityManager delivers them (API 26+: available, then
 * capabilities, then link properties), registered through Robolectric's
 * ShadowConnectivityManager.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class SockstatNetworkMonitorTest {
    private val seen = mutableListOf<Pair<String, InterfaceKind>>()
    private val monitor = SockstatNetworkMonitor { name, kind -> seen += name to kind }
    private val cb = monitor.callback

    private fun link(name: String) = LinkProperties().apply { interfaceName = name }

    private fun connect(net: Network, name: String, vararg transports: Int, callback: ConnectivityManager.NetworkCallback = cb) {
        callback.onAvailable(net)
        callback.onCapabilitiesChanged(net, caps(*transports))
        callback.onLinkPropertiesChanged(net, link(name))
    }

    @Test
    fun `a new network is reported once, with its name and kind together`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        assertEquals(listOf("wlan0" to InterfaceKind.WIFI), seen)
    }

    @Test
    fun `repeated callbacks with nothing new report nothing`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        seen.clear()
        cb.onCapabilitiesChanged(Network(100), caps(TRANSPORT_WIFI))
        cb.onLinkPropertiesChanged(Network(100), link("wlan0"))
        assertEquals(emptyList(), seen)
    }

    @Test
    fun `switching to cellular reports the new network only, no empty name in between`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        seen.clear()
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR)
        assertEquals(listOf("rmnet_data0" to InterfaceKind.CELLULAR), seen)
    }

    @Test
    fun `losing a network that is no longer tracked is ignored`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR)
        seen.clear()
        cb.onLost(Network(100))
        assertEquals(emptyList(), seen)
    }

    @Test
    fun `losing the tracked network reports no interface and forgets it`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        assertEquals(Network(100), monitor.network)
        seen.clear()
        cb.onLost(Network(100))
        assertEquals(listOf("" to InterfaceKind.NONE), seen)
        assertNull(monitor.network)
    }

    @Test
    fun `a VPN network is never reported, even if the system offers it`() {
        connect(Network(102), "tun0", TRANSPORT_VPN, TRANSPORT_CELLULAR)
        assertEquals(emptyList(), seen)
        assertNull(monitor.network)
    }

    @Test
    fun `start registers a non-VPN request the API level's way, stop unregisters it`() {
        val cm = RuntimeEnvironment.getApplication().getSystemService(Context.CONNECTIVITY_SERVICE) as ConnectivityManager
        val shadow = shadowOf(cm)
        monitor.start(cm)
        assertTrue(cb in shadow.networkCallbacks, "registered on API ${Build.VERSION.SDK_INT}")
        // Wi-Fi -> cellular -> lost, with the app's VPN up all along: the tunnel never shows.
        val registered = shadow.networkCallbacks.single()
        connect(Network(200), "tun0", TRANSPORT_VPN, TRANSPORT_WIFI, callback = registered)
        connect(Network(100), "wlan0", TRANSPORT_WIFI, callback = registered)
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR, callback = registered)
        registered.onLost(Network(101))
        val want = listOf("wlan0" to InterfaceKind.WIFI, "rmnet_data0" to InterfaceKind.CELLULAR, "" to InterfaceKind.NONE)
        assertEquals(want, seen)
        monitor.stop(cm)
        assertTrue(shadow.networkCallbacks.isEmpty())
        monitor.stop(cm) // harmless twice
    }

    @Test
    fun `bytes are flagged cellular in the real logger after the monitor reports cellular`() {
        SockstatLogger(testConfig()).use { logger ->
            val m = SockstatNetworkMonitor(logger)
            connect(Network(100), "wlan0", TRANSPORT_WIFI, callback = m.callback)
            logger.enable()
            logger.add(20, 10L, 20L)
            connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR, callback = m.callback)
            assertEquals(Network(101), m.network)
            logger.add(20, 1L, 2L)
            logger.disable()
            val lines = logger.export()
            assertEquals(10L to 20L, totals(lines, cellular = false)[20])
            assertEquals(1L to 2L, totals(lines, cellular = true)[20])
            logger.shutdown(5_000L)
            // A callback after shutdown is dropped, not thrown into ConnectivityManager.
            m.callback.onLost(Network(101))
        }
    }

    @Test
    fun `a callback ConnectivityManager delivers after stop is ignored`() {
        val cm = RuntimeEnvironment.getApplication().getSystemService(Context.CONNECTIVITY_SERVICE) as ConnectivityManager
        monitor.start(cm)
        assertTrue(monitor.running)
        val registered = shadowOf(cm).networkCallbacks.single()
        connect(Network(100), "wlan0", TRANSPORT_WIFI, callback = registered)
        monitor.stop(cm)
        assertFalse(monitor.running)
        assertNull(monitor.network, "a stopped monitor follows no network")
        seen.clear()
        // Already being dispatched when stop() returned: reaches the callback anyway.
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR, callback = registered)
        registered.onLost(Network(101))
        assertEquals(emptyList(), seen)
        assertNull(monitor.network)
    }

    @Test
    fun `whatever the sink throws is caught and counted, never thrown into the callback thread`() {
        val thrown = listOf(IllegalStateException("object has already been destroyed"), RuntimeException("x"), LinkageError("y"))
        var next = 0
        val m = SockstatNetworkMonitor { _, _ -> throw thrown[next++] }
        connect(Network(100), "wlan0", TRANSPORT_WIFI, callback = m.callback)
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR, callback = m.callback)
        m.callback.onLost(Network(101))
        assertEquals(3, next, "the sink was called for each change")
        assertEquals(3L, m.failures)
    }

    @Test
    fun `a callback reaching a logger already destroyed is counted, not thrown`() {
        val logger = SockstatLogger(testConfig())
        val m = SockstatNetworkMonitor(logger)
        connect(Network(100), "wlan0", TRANSPORT_WIFI, callback = m.callback)
        logger.shutdown(5_000L)
        logger.close() // destroyed: setInterface now throws IllegalStateException, not Closed
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR, callback = m.callback)
        assertEquals(1L, m.failures)
    }
}
