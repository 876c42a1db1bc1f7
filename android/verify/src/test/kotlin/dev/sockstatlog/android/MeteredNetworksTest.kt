package dev.sockstatlog.android

import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkCapabilities.NET_CAPABILITY_NOT_METERED
import android.net.NetworkCapabilities.TRANSPORT_CELLULAR
import android.net.NetworkCapabilities.TRANSPORT_WIFI
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.UploadRequest
import dev.sockstatlog.UploadResponse
import dev.sockstatlog.UploadTransport
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/**
 * `uploadOnMetered = false` on Android: the monitor passes
 * `NET_CAPABILITY_NOT_METERED` (through [MeteredNetworks]) and the interface to
 * the logger, whose flush waits on a metered network and starts by itself on
 * a free one. Driven through the monitor's real callback with framework objects.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class MeteredNetworksTest {
    /** Answers 200 and queues each body, so the test waits on the upload, not on time. */
    private class Recording : UploadTransport {
        val bodies = LinkedBlockingQueue<String>()

        override fun send(request: UploadRequest): UploadResponse {
            bodies.add(String(request.body))
            return UploadResponse(200, emptyList(), byteArrayOf())
        }
    }

    private fun caps(transport: Int, notMetered: Boolean): NetworkCapabilities =
        NetworkCapabilities.Builder().addTransportType(transport).apply {
            if (notMetered) addCapability(NET_CAPABILITY_NOT_METERED)
        }.build()

    private fun SockstatNetworkMonitor.connect(net: Network, name: String, caps: NetworkCapabilities) {
        callback.onAvailable(net)
        callback.onCapabilitiesChanged(net, caps)
        callback.onLinkPropertiesChanged(net, LinkProperties().apply { interfaceName = name })
    }

    @Test
    fun `only a network without NOT_METERED is metered`() {
        assertTrue(MeteredNetworks.isMetered(caps(TRANSPORT_CELLULAR, notMetered = false)))
        assertTrue(MeteredNetworks.isMetered(caps(TRANSPORT_WIFI, notMetered = false)), "a metered Wi-Fi")
        assertFalse(MeteredNetworks.isMetered(caps(TRANSPORT_WIFI, notMetered = true)))
    }

    @Test
    fun `a flush on a metered wifi waits and starts by itself on a free one`() {
        val transport = Recording()
        val config = testConfig().apply { uploadOnMetered = false }
        val logger = SockstatLogger.withTransport(config, transport)
        val monitor = SockstatNetworkMonitor(logger)
        monitor.connect(Network(100), "wlan0", caps(TRANSPORT_WIFI, notMetered = false)) // a phone's hotspot
        logger.writeText("waits for a free network")
        assertEquals("metered", logger.flush(10_000L).deferred)
        assertTrue(transport.bodies.isEmpty())

        monitor.connect(Network(101), "wlan1", caps(TRANSPORT_WIFI, notMetered = true))
        val body = assertNotNull(transport.bodies.poll(60, TimeUnit.SECONDS), "the waiting upload started")
        assertTrue(body.contains("waits for a free network"), body)
        assertNull(logger.flush(10_000L).deferred)
        logger.shutdown(5_000L)
    }

    @Test
    fun `forceFlush uploads on cellular all the same`() {
        val transport = Recording()
        val logger = SockstatLogger.withTransport(testConfig().apply { uploadOnMetered = false }, transport)
        SockstatNetworkMonitor(logger).connect(Network(100), "rmnet_data0", caps(TRANSPORT_CELLULAR, notMetered = false))
        logger.writeText("the user asked")
        assertEquals("metered", logger.flush(10_000L).deferred)
        val report = logger.forceFlush(10_000L)
        assertTrue(report.drained && report.entries == 1L && report.deferred == null, "$report")
        logger.shutdown(5_000L)
    }
}
