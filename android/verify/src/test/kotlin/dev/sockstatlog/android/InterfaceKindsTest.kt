package dev.sockstatlog.android

import android.net.NetworkCapabilities.TRANSPORT_BLUETOOTH
import android.net.NetworkCapabilities.TRANSPORT_CELLULAR
import android.net.NetworkCapabilities.TRANSPORT_ETHERNET
import android.net.NetworkCapabilities.TRANSPORT_VPN
import android.net.NetworkCapabilities.TRANSPORT_WIFI
import dev.sockstatlog.InterfaceKind
import kotlin.test.assertEquals
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory

/** The transport → kind table, on real `NetworkCapabilities` objects. */
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

    @TestFactory
    fun `each transport set maps to its kind`() = cases.map { (name, transports, want) ->
        DynamicTest.dynamicTest(name) {
            assertEquals(want, InterfaceKinds.of(transports?.let { caps(*it) }))
        }
    }

    @TestFactory
    fun `the predicate form agrees with the capabilities form`() = cases.filter { it.second != null }.map { (name, transports, want) ->
        DynamicTest.dynamicTest(name) {
            assertEquals(want, InterfaceKinds.of { it in transports!! })
        }
    }
}
