package dev.sockstatlog.android

import android.app.Service
import android.content.Intent
import dev.sockstatlog.example.ExampleVpnService
import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The example service's lifecycle under Robolectric: created, asked to flush, destroyed. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class ExampleVpnServiceTest {
    @Test
    fun `the example service creates its session, flushes on request and closes it on destroy`() {
        val controller = Robolectric.buildService(ExampleVpnService::class.java).create()
        val service = controller.get()
        val stats = assertNotNull(service.stats, "session created in onCreate")
        assertTrue(stats.logger.isEnabled())
        assertTrue(stats.add(ExampleVpnService.TUNNEL_LABEL, 1500, 0))
        controller.withIntent(Intent(ExampleVpnService.ACTION_FLUSH)).startCommand(0, 1)
        controller.destroy()
        assertFalse(stats.add(ExampleVpnService.TUNNEL_LABEL, 1, 1), "closed in onDestroy")
        assertEquals(0L, stats.failures)
    }

    @Test
    fun `an unusable log directory leaves the service running without sockstat logging`() {
        val app = RuntimeEnvironment.getApplication()
        val dir = File(app.noBackupFilesDir, SockstatVpnSession.LOG_DIR_NAME)
        dir.deleteRecursively()
        dir.writeText("a file where the log directory goes") // create() fails with an I/O error
        try {
            val controller = Robolectric.buildService(ExampleVpnService::class.java).create()
            assertNull(controller.get().stats)
            controller.withIntent(Intent(ExampleVpnService.ACTION_FLUSH)).startCommand(0, 1)
            controller.destroy()
        } finally {
            dir.delete()
        }
    }

    @Test
    fun `a flush with no tunnel is not sticky and stops the service once the upload is done`() {
        val controller = Robolectric.buildService(ExampleVpnService::class.java).create()
        val service = controller.get()
        val flags = service.onStartCommand(Intent(ExampleVpnService.ACTION_FLUSH), 0, 7)
        assertEquals(Service.START_NOT_STICKY, flags, "a flush is not worth a restart")
        val flush = assertNotNull(service.lastFlush)
        // No collector here: end the upload now (the future then fails with Closed)
        // rather than let it try the default server for FLUSH_TIMEOUT_MS.
        assertNotNull(service.stats).close()
        // lastFlush completes after the stop it chains.
        flush.handle { _, _ -> }.get(60, TimeUnit.SECONDS)
        assertTrue(shadowOf(service).isStoppedBySelf, "no tunnel: nothing keeps the service alive")
        assertEquals(7, shadowOf(service).stopSelfId)
        controller.destroy()
    }

    @Test
    fun `requestFlush starts the service with the flush action`() {
        val app = RuntimeEnvironment.getApplication()
        assertTrue(ExampleVpnService.requestFlush(app))
        val started = assertNotNull(shadowOf(app).nextStartedService)
        assertEquals(ExampleVpnService.ACTION_FLUSH, started.action)
        assertEquals(ExampleVpnService::class.java.name, started.component?.className)
    }
}
