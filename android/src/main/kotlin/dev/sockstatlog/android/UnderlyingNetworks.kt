package dev.sockstatlog.android

import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import dev.sockstatlog.SockstatException
import java.net.HttpURLConnection
import java.net.URL

/**
 * Chooses the network a log upload leaves on, so that the VPN never carries
 * its own log uploads and the app has nothing to configure. In order:
 *
 * 1. the physical network the session's [SockstatNetworkMonitor] follows
 *    (best matching internet network that is not a VPN): the connection is
 *    opened with [Network.openConnection], bound to that network whatever
 *    the process's default is;
 * 2. before the monitor's first report: the system's active network, if it
 *    is not a VPN;
 * 3. while the monitor runs and neither exists (a handover, no network yet):
 *    no connection. The attempt fails with [SockstatException.Upload] and
 *    the logger retries it later, with backoff. The process default would be
 *    the VPN's own tunnel: the upload would loop through it, be counted again
 *    under the tunnel's labels, and stall;
 * 4. only with no running monitor (plain-JVM use, no `ConnectivityManager`,
 *    or a monitor never started): the process default (`URL.openConnection`),
 *    which goes around the tunnel only if the app excluded itself from it
 *    (`Builder.addDisallowedApplication(packageName)`).
 *
 * `VpnService.protect(socket)` is the remaining way for a host transport that
 * creates its own sockets (e.g. OkHttp with a protecting `SocketFactory`).
 *
 * @param connectivity the system service, `null` in plain-JVM use (only 4 applies).
 * @param monitor the session's monitor, or `null`.
 */
class UnderlyingNetworks @JvmOverloads constructor(
    private val connectivity: ConnectivityManager?,
    @Volatile var monitor: SockstatNetworkMonitor? = null,
) {
    /** The physical network an upload would be bound to now (1, then 2), or `null` if none. */
    fun current(): Network? = monitor?.network ?: connectivity?.let(::activeIfPhysical)

    /**
     * Opens [url] on [current]; with none, on the process default only when no
     * monitor runs (see the class comment).
     *
     * @throws SockstatException.Upload a monitor runs and there is no physical network.
     */
    fun openConnection(url: URL): HttpURLConnection {
        val network = current()
        val conn = when {
            network != null -> network.openConnection(url)
            monitor?.running == true -> throw SockstatException.Upload(NO_PHYSICAL_NETWORK)
            else -> url.openConnection()
        }
        return conn as HttpURLConnection
    }

    private fun activeIfPhysical(cm: ConnectivityManager): Network? {
        val n = cm.activeNetwork ?: return null
        val caps = cm.getNetworkCapabilities(n) ?: return null
        return n.takeIf { !caps.hasTransport(NetworkCapabilities.TRANSPORT_VPN) }
    }

    /** Messages. */
    companion object {
        /** The reason of the failed attempt while a monitor runs without a physical network. */
        const val NO_PHYSICAL_NETWORK =
            "no physical network to upload on (the monitor has none, the active network is a VPN or absent); retried later"
    }
}
