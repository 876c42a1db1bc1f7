package dev.sockstatlog.android

import android.net.NetworkCapabilities
import dev.sockstatlog.InterfaceKind

/**
 * Maps the default network's transports onto the logger's [InterfaceKind].
 * Pure: no Android service is touched, so it runs in JVM unit tests.
 */
object InterfaceKinds {
    /**
     * The kind of a default network with these capabilities; [InterfaceKind.NONE]
     * when there is no default network (`null`).
     */
    @JvmStatic
    fun of(caps: NetworkCapabilities?): InterfaceKind =
        if (caps == null) InterfaceKind.NONE else of(caps::hasTransport)

    /**
     * The kind for a transport predicate (`NetworkCapabilities.TRANSPORT_*` →
     * present?).
     *
     * A VPN's capabilities carry the transports of the network under it
     * (Android merges them into the VPN's capabilities, e.g. VPN + CELLULAR), so the
     * physical transport wins over `TRANSPORT_VPN`: bytes through a tunnel over
     * cellular still cost cellular data. A VPN with no known underlay, and any
     * other transport (Bluetooth, USB, Wi-Fi Aware, Thread, ...), is
     * [InterfaceKind.OTHER].
     */
    @JvmStatic
    fun of(hasTransport: (Int) -> Boolean): InterfaceKind = when {
        hasTransport(NetworkCapabilities.TRANSPORT_CELLULAR) -> InterfaceKind.CELLULAR
        hasTransport(NetworkCapabilities.TRANSPORT_WIFI) -> InterfaceKind.WIFI
        hasTransport(NetworkCapabilities.TRANSPORT_ETHERNET) -> InterfaceKind.WIRED
        else -> InterfaceKind.OTHER
    }
}
