package dev.sockstatlog.android

import android.content.Intent
import dev.sockstatlog.example.ExampleVpnService
import java.io.File
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
}
