package dev.sockstatlog.android

import android.net.NetworkCapabilities.TRANSPORT_BLUETOOTH
import android.net.NetworkCapabilities.TRANSPORT_CELLULAR
import android.net.NetworkCapabilities.TRANSPORT_ETHERNET
import android.net.NetworkCapabilities.TRANSPORT_VPN
import android.net.NetworkCapabilities.TRANSPORT_WIFI
import dev.sockstatlog.InterfaceKind
import kotlin.test.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** The transport → kind table, on real `NetworkCapabilities` objects. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class InterfaceKindsTest {
    private val cases = listOf(
        Triple("no-default-network", null, InterfaceKind.NONE),
        Triple("cellular", intArrayOf(TRANSPORT_CELLULAR), InterfaceKind.CELLULAR),
        Triple("wifi", intArrayOf(TRANSPORT_WIFI), InterfaceKind.WIFI),
        Triple("ethernet", intArrayOf(TRANSPORT_ETHERNET), InterfaceKind.WIRED),
        Triple("vpn-over-cellular", intArrayOf(TRANSPORT_VPN, TRANSPORT_CELLULAR), InterfaceKind.CELLULAR),
        Triple("vpn-over-wifi", intArrayOf(TRANSPORT_VPN, TRANSPORT_WIFI), InterfaceKind.WIFI),
        Triple("vpn-no-underlay", intArrayOf(TRANSPORT_VPN), InterfaceKind.OTHER),
        Triple("bluetooth-tether", intArrayOf(TRANSPORT_BLUETOOTH), InterfaceKind.OTHER),
        Triple("no-transport", intArrayOf(), InterfaceKind.OTHER),
        // Android may briefly report both while handing over: cellular is what costs.
        Triple("wifi-and-cellular", intArrayOf(TRANSPORT_WIFI, TRANSPORT_CELLULAR), InterfaceKind.CELLULAR),
    )

    @Test
    fun `each transport set maps to its kind`() {
        for ((name, transports, want) in cases) {
            assertEquals(want, InterfaceKinds.of(transports?.let { caps(*it) }), name)
        }
    }

    @Test
    fun `the predicate form agrees with the capabilities form`() {
        for ((name, transports, want) in cases.filter { it.second != null }) {
            assertEquals(want, InterfaceKinds.of { it in transports!! }, name)
        }
    }
}
