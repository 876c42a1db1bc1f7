package dev.sockstatlog.android

import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities.TRANSPORT_CELLULAR
import android.net.NetworkCapabilities.TRANSPORT_VPN
import android.net.NetworkCapabilities.TRANSPORT_WIFI
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatLogger
import kotlin.test.assertEquals
import org.junit.jupiter.api.Test

/**
 * The monitor driven through its real `NetworkCallback` with framework objects,
 * in the order ConnectivityManager delivers them (API 26+: available, then
 * capabilities, then link properties).
 */
class SockstatNetworkMonitorTest {
    private val seen = mutableListOf<Pair<String, InterfaceKind>>()
    private val monitor = SockstatNetworkMonitor { name, kind -> seen += name to kind }
    private val cb = monitor.callback

    private fun link(name: String) = LinkProperties().apply { interfaceName = name }

    private fun connect(net: Network, name: String, vararg transports: Int) {
        cb.onAvailable(net)
        cb.onCapabilitiesChanged(net, caps(*transports))
        cb.onLinkPropertiesChanged(net, link(name))
    }

    @Test
    fun `a new default network is reported with its kind, then its name`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        assertEquals(listOf("" to InterfaceKind.WIFI, "wlan0" to InterfaceKind.WIFI), seen)
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
    fun `switching to cellular reports the new network, not a mix of both`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        seen.clear()
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR)
        assertEquals(listOf("" to InterfaceKind.CELLULAR, "rmnet_data0" to InterfaceKind.CELLULAR), seen)
    }

    @Test
    fun `losing a network that is no longer the default is ignored`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        connect(Network(101), "rmnet_data0", TRANSPORT_CELLULAR)
        seen.clear()
        cb.onLost(Network(100))
        assertEquals(emptyList(), seen)
    }

    @Test
    fun `losing the default network reports no interface`() {
        connect(Network(100), "wlan0", TRANSPORT_WIFI)
        seen.clear()
        cb.onLost(Network(100))
        assertEquals(listOf("" to InterfaceKind.NONE), seen)
    }

    @Test
    fun `the app's own VPN reports the tun name with the underlay's kind`() {
        connect(Network(102), "tun0", TRANSPORT_VPN, TRANSPORT_CELLULAR)
        assertEquals("tun0" to InterfaceKind.CELLULAR, seen.last())
    }

    @Test
    fun `bytes are flagged cellular in the real logger after the monitor reports cellular`() {
        SockstatLogger(testConfig()).use { logger ->
            val cb = SockstatNetworkMonitor(logger).callback
            cb.onAvailable(Network(100))
            cb.onCapabilitiesChanged(Network(100), caps(TRANSPORT_WIFI))
            logger.enable()
            logger.add(20, 10L, 20L)
            cb.onAvailable(Network(101))
            cb.onCapabilitiesChanged(Network(101), caps(TRANSPORT_CELLULAR))
            logger.add(20, 1L, 2L)
            logger.disable()
            val lines = logger.export()
            assertEquals(10L to 20L, totals(lines, cellular = false)[20])
            assertEquals(1L to 2L, totals(lines, cellular = true)[20])
            logger.shutdown(5_000L)
            // A callback after shutdown is dropped, not thrown into ConnectivityManager.
            cb.onLost(Network(101))
        }
    }
}
