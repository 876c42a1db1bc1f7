package dev.sockstatlog.android

import java.io.DataInputStream
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.junit.Test
import org.w3c.dom.Element

/**
 * Every platform call the library makes, at every API level it supports
 * (minSdk to compileSdk, read from android/build.gradle.kts), has the
 * permission it needs declared in the library's manifest, which Android's
 * manifest merger copies into the app's. Robolectric never checks
 * permissions, and a missing one fails only on a device, quietly: without
 * `CHANGE_NETWORK_STATE`, `requestNetwork` throws `SecurityException` on
 * Android 8-11, which the session swallows, and the monitor never starts.
 *
 * The calls are found in the compiled classes (every method reference in
 * their constant pools), not listed by hand, so a new call on a
 * permission-bearing class fails here until [NEEDS] says what it needs.
 * Plain JVM: no Robolectric, no device.
 */
class PermissionsTest {
    /** What a call needs: [permission] on API levels [levels] (null: nothing). */
    data class Need(val permission: String?, val levels: IntRange = 1..Int.MAX_VALUE)

    /** A permission the manifest declares, granted up to [maxSdk] (`android:maxSdkVersion`). */
    data class Declared(val name: String, val maxSdk: Int = Int.MAX_VALUE)

    @Test
    fun `the manifest declares what every platform call of the library needs, from minSdk to compileSdk`() {
        val calls = platformCalls(libraryClasses())
        // The scan itself works: the calls we know the monitor and uploads make are found.
        for (known in listOf("android/net/ConnectivityManager.requestNetwork", "android/net/Network.openConnection")) {
            assertTrue(known in calls.keys, "$known not found in the compiled classes: ${calls.keys}")
        }
        val problems = problems(calls, declared(File(androidDir, "src/main/AndroidManifest.xml").readText()), sdkLevels())
        assertEquals(emptyList(), problems, problems.joinToString("\n"))
    }

    @Test
    fun `the check fails without CHANGE_NETWORK_STATE, with a maxSdkVersion below compileSdk, and on an unknown call`() {
        val calls = mapOf(
            "android/net/ConnectivityManager.requestNetwork" to setOf("Monitor"),
            "android/net/ConnectivityManager.getActiveNetwork" to setOf("Networks"),
        )
        val full = listOf(Declared(ACCESS_NETWORK_STATE), Declared(CHANGE_NETWORK_STATE))
        // name -> (calls, declared, the problems expected)
        val cases = mapOf(
            "all-declared" to Triple(calls, full, emptyList()),
            "no-change-network-state" to Triple(
                calls, listOf(Declared(ACCESS_NETWORK_STATE)),
                listOf("android/net/ConnectivityManager.requestNetwork (from [Monitor]) needs $CHANGE_NETWORK_STATE on API 26..30"),
            ),
            "max-sdk-below-compile" to Triple(
                calls, listOf(Declared(ACCESS_NETWORK_STATE, maxSdk = 28), Declared(CHANGE_NETWORK_STATE)),
                listOf("android/net/ConnectivityManager.getActiveNetwork (from [Networks]) needs $ACCESS_NETWORK_STATE on API 29..30"),
            ),
            "unknown-call" to Triple(
                mapOf("android/net/ConnectivityManager.reportBadNetwork" to setOf("X")), full,
                listOf("android/net/ConnectivityManager.reportBadNetwork (from [X]) is not in PermissionsTest.NEEDS: add what it needs"),
            ),
        )
        for ((name, case) in cases) {
            val (c, declared, want) = case
            assertEquals(want, problems(c, declared, 26..30), name)
        }
    }

    @Test
    fun `the constant-pool reader finds the calls of a class it knows`() {
        // HttpUrlConnectionTransport opens connections through a hook; its default hook is URL.openConnection.
        val calls = platformCalls(libraryClasses().filter { it.path.contains("HttpUrlConnectionTransport") })
        assertTrue("java/net/URL.openConnection" in calls.keys, "found: ${calls.keys}")
    }

    private companion object {
        const val ACCESS_NETWORK_STATE = "android.permission.ACCESS_NETWORK_STATE"
        const val CHANGE_NETWORK_STATE = "android.permission.CHANGE_NETWORK_STATE"
        const val INTERNET = "android.permission.INTERNET"
        val NONE = listOf(Need(null))

        /**
         * The platform calls the library may make and what each needs
         * (`owner.method`, `*` for every method of the owner), from the
         * framework's `@RequiresPermission` and the API reference. Levels
         * below minSdk do not matter.
         */
        val NEEDS: Map<String, List<Need>> = mapOf(
            // SockstatNetworkMonitor
            "android/net/ConnectivityManager.registerBestMatchingNetworkCallback" to listOf(Need(ACCESS_NETWORK_STATE)),
            // API 23 accepted WRITE_SETTINGS instead; from 24 on only CHANGE_NETWORK_STATE.
            "android/net/ConnectivityManager.requestNetwork" to listOf(Need(CHANGE_NETWORK_STATE)),
            "android/net/ConnectivityManager.registerNetworkCallback" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.registerDefaultNetworkCallback" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.unregisterNetworkCallback" to NONE,
            // UnderlyingNetworks, and what a metered-network check reads
            "android/net/ConnectivityManager.getActiveNetwork" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.getActiveNetworkInfo" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.getNetworkCapabilities" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.getLinkProperties" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.getAllNetworks" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.isActiveNetworkMetered" to listOf(Need(ACCESS_NETWORK_STATE)),
            "android/net/ConnectivityManager.getRestrictBackgroundStatus" to NONE,
            // Uploads: opening a socket needs INTERNET.
            "android/net/Network.openConnection" to listOf(Need(INTERNET)),
            "android/net/Network.bindSocket" to listOf(Need(INTERNET)),
            "android/net/Network.getSocketFactory" to listOf(Need(INTERNET)),
            "android/net/Network.getAllByName" to listOf(Need(INTERNET)),
            "android/net/Network.getByName" to listOf(Need(INTERNET)),
            "android/net/Network.<init>" to NONE,
            "android/net/Network.equals" to NONE,
            "android/net/Network.hashCode" to NONE,
            "android/net/Network.toString" to NONE,
            "android/net/Network.getNetworkHandle" to NONE,
            "java/net/URL.openConnection" to listOf(Need(INTERNET)),
            // The OS's own byte totals: public counters, no permission.
            "android/net/TrafficStats.*" to NONE,
            // A host protecting its sockets: the VpnService is the app's own.
            "android/net/VpnService.protect" to NONE,
        )

        /** Owners whose every call must be in [NEEDS] (exact, or a package prefix ending in `/`). */
        val GATED = listOf(
            "android/net/ConnectivityManager", "android/net/Network", "android/net/TrafficStats",
            "android/net/VpnService", "android/net/wifi/", "android/telephony/", "android/app/usage/",
            "android/location/",
        )

        /** `java/net` calls that open sockets or resolve names; the rest of `java/net` (URL parsing) needs nothing. */
        val JAVA_NET_ACCESS = setOf("openConnection", "openStream", "connect", "getByName", "getAllByName")

        val androidDir: File
            get() = File(System.getProperty("sockstatlog.android.dir") ?: error("-Dsockstatlog.android.dir is not set"))

        /** The library's compiled classes (bindings, FastCounters, glue), not the example app. */
        fun libraryClasses(): List<File> {
            val root = File(System.getProperty("sockstatlog.classes.dir") ?: error("-Dsockstatlog.classes.dir is not set"))
            val lib = File(root, "dev/sockstatlog")
            return lib.walkTopDown()
                .filter { it.isFile && it.name.endsWith(".class") && !it.path.contains("/dev/sockstatlog/example/") }
                .toList()
                .also { assertTrue(it.isNotEmpty(), "no classes under $lib") }
        }

        /** minSdk..compileSdk of android/build.gradle.kts. */
        fun sdkLevels(): IntRange {
            val gradle = File(androidDir, "build.gradle.kts").readText()
            fun value(key: String) = Regex("""(?m)^\s*$key\s*=\s*(\d+)""").find(gradle)?.groupValues?.get(1)?.toInt()
                ?: error("no $key in build.gradle.kts")
            return value("minSdk")..value("compileSdk")
        }

        /** The `<uses-permission>`s of a manifest. */
        fun declared(xml: String): List<Declared> {
            val doc = DocumentBuilderFactory.newInstance().apply { isNamespaceAware = true }
                .newDocumentBuilder().parse(xml.byteInputStream())
            val ns = "http://schemas.android.com/apk/res/android"
            val uses = doc.getElementsByTagName("uses-permission")
            return (0 until uses.length).map { i ->
                val e = uses.item(i) as Element
                val max = e.getAttributeNS(ns, "maxSdkVersion")
                Declared(e.getAttributeNS(ns, "name"), if (max.isEmpty()) Int.MAX_VALUE else max.toInt())
            }
        }

        /** What is missing: one line per (call, level range, permission), and per call [NEEDS] does not know. */
        fun problems(calls: Map<String, Set<String>>, declared: List<Declared>, levels: IntRange): List<String> {
            val problems = mutableListOf<String>()
            for ((call, from) in calls.toSortedMap()) {
                val needs = NEEDS[call] ?: NEEDS[call.substringBefore('.') + ".*"]
                if (needs == null) {
                    problems += "$call (from $from) is not in PermissionsTest.NEEDS: add what it needs"
                    continue
                }
                for (need in needs) {
                    val permission = need.permission ?: continue
                    val missing = levels.filter { level ->
                        level in need.levels && declared.none { it.name == permission && level <= it.maxSdk }
                    }
                    if (missing.isNotEmpty()) {
                        problems += "$call (from $from) needs $permission on API ${missing.first()}..${missing.last()}"
                    }
                }
            }
            return problems
        }

        /** Gated platform calls (`owner.method`) and the classes making each. */
        fun platformCalls(classes: List<File>): Map<String, Set<String>> {
            val out = HashMap<String, MutableSet<String>>()
            for (file in classes) {
                for ((owner, method) in methodRefs(file)) {
                    val gated = GATED.any { if (it.endsWith("/")) owner.startsWith(it) else owner == it } ||
                        (owner.startsWith("java/net/") && method in JAVA_NET_ACCESS)
                    if (gated) out.getOrPut("$owner.$method") { sortedSetOf() } += file.nameWithoutExtension
                }
            }
            return out
        }

        /**
         * Every (owner class, method name) a class file refers to: the
         * Methodref and InterfaceMethodref entries of its constant pool
         * (JVMS 4.4), which every call, method reference and lambda target
         * goes through.
         */
        fun methodRefs(file: File): List<Pair<String, String>> = DataInputStream(file.inputStream().buffered()).use { input ->
            check(input.readInt() == 0xCAFEBABE.toInt()) { "$file is not a class file" }
            input.readUnsignedShort() // minor
            input.readUnsignedShort() // major
            val count = input.readUnsignedShort()
            val utf8 = arrayOfNulls<String>(count)
            val classNames = IntArray(count) // Class -> its name's Utf8 index
            val nat = IntArray(count) // NameAndType -> its name's Utf8 index
            val refs = mutableListOf<Pair<Int, Int>>() // (Class index, NameAndType index)
            var i = 1
            while (i < count) {
                when (val tag = input.readUnsignedByte()) {
                    1 -> utf8[i] = input.readUTF()
                    3, 4 -> input.readInt()
                    5, 6 -> { input.readLong(); i++ } // two slots
                    7 -> classNames[i] = input.readUnsignedShort()
                    8, 16, 19, 20 -> input.readUnsignedShort()
                    9, 17, 18 -> input.readInt()
                    10, 11 -> refs += input.readUnsignedShort() to input.readUnsignedShort()
                    12 -> { nat[i] = input.readUnsignedShort(); input.readUnsignedShort() }
                    15 -> { input.readUnsignedByte(); input.readUnsignedShort() }
                    else -> error("$file: unknown constant pool tag $tag at $i")
                }
                i++
            }
            refs.map { (cls, nt) -> utf8[classNames[cls]]!! to utf8[nat[nt]]!! }
        }
    }
}
