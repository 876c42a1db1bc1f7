package dev.sockstatlog.android;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import android.content.Context;
import android.net.ConnectivityManager;
import android.net.LinkProperties;
import android.net.NetworkCapabilities;
import dev.sockstatlog.FlushReport;
import dev.sockstatlog.JvmNames;
import dev.sockstatlog.LoggerStats;
import java.io.File;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.Shadows;
import org.robolectric.annotation.Config;

/**
 * The Android glue called from Java (javac, JUnit 4, under Robolectric), as a
 * Java VPN app calls it, and the JVM-name check over everything the AAR ships.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = {Sdks.MIN_TESTED, Sdks.COMPILE})
public class JavaGlueTest {
    @Test
    public void theSessionIsUsableFromJava() throws Exception {
        Context context = RuntimeEnvironment.getApplication();
        try (Collector collector = new Collector(200, java.util.Map.of(), new byte[0])) {
            SockstatVpnSession session = SockstatVpnSession.create(context, SupportKt.BACKEND_ID, null, config -> {
                config.setBaseUrl(collector.getBaseUrl());
                config.setAllowHttp(true);
                config.setPollIntervalMs(10L);
                config.setWriteIntervalMs(100L);
            });
            assertTrue(session.start());
            // The physical network, delivered to the callback the session registered.
            ConnectivityManager cm = context.getSystemService(ConnectivityManager.class);
            ConnectivityManager.NetworkCallback cb = Shadows.shadowOf(cm).getNetworkCallbacks().iterator().next();
            RecordingNetwork wifi = new RecordingNetwork(100);
            cb.onAvailable(wifi);
            cb.onCapabilitiesChanged(wifi, SupportKt.caps(NetworkCapabilities.TRANSPORT_WIFI));
            LinkProperties link = new LinkProperties();
            link.setInterfaceName("wlan0");
            cb.onLinkPropertiesChanged(wifi, link);
            session.getLogger().registerLabel(20, "JavaTunnel");
            assertTrue(session.add(20, 1500L, 40L));
            session.getLogger().disable();
            CompletableFuture<FlushReport> flush = session.flush(10_000L);
            FlushReport report = flush.get(20, TimeUnit.SECONDS);
            assertTrue(report.toString(), report.getDrained() && report.getEntries() > 0L);
            assertFalse("uploaded on the physical network", wifi.getOpened().isEmpty());
            LoggerStats stats = session.getLogger().stats();
            assertEquals(report.getEntries(), stats.getUploadEntries());
            assertTrue(new File(context.getNoBackupFilesDir(), SockstatVpnSession.LOG_DIR_NAME).isDirectory());
            session.close();
            assertEquals(0L, session.getFailures());
            assertFalse(session.add(20, 1L, 1L));
            try {
                session.flush().get(5, TimeUnit.SECONDS);
                throw new AssertionError("flush after close succeeded");
            } catch (ExecutionException e) {
                assertTrue(e.getCause() instanceof dev.sockstatlog.SockstatException.Closed);
            }
        }
        // The other Java-facing pieces, by their plain names.
        ConnectivityManager cm = context.getSystemService(ConnectivityManager.class);
        UnderlyingNetworks networks = new UnderlyingNetworks(cm);
        SockstatNetworkMonitor monitor = new SockstatNetworkMonitor((name, kind) -> {});
        networks.setMonitor(monitor);
        monitor.start(cm);
        monitor.stop(cm);
        assertEquals(dev.sockstatlog.InterfaceKind.NONE, InterfaceKinds.of((android.net.NetworkCapabilities) null));
        new HttpUrlConnectionTransport(1_000, 1_000);
    }

    @Test
    public void noShippedPublicMethodHasAMangledJvmName() throws Exception {
        List<String> bad = JvmNames.mangled(JvmNames.dirs(SockstatVpnSession.class));
        assertTrue("mangled JVM names, uncallable from Java:\n  " + String.join("\n  ", bad), bad.isEmpty());
    }
}
