// The sockstatlog Android library: the UniFFI-generated Kotlin API, the JNI
// fast path (FastCounters), the network monitor and VpnService helpers, and
// libsockstatlog.so for each ABI. Run ./build.sh first: it builds the native
// libraries into src/main/jniLibs and generates the Kotlin into generated/kotlin
// (neither is committed). `gradle publishToMavenLocal` then publishes
// dev.sockstatlog:sockstatlog-android:<version> (AAR, sources jar, POM with
// the JNA and androidx.annotation dependencies) for an app to depend on with
// one line.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
    `maven-publish`
}

group = "dev.sockstatlog"
version = "0.1.0"

/** Written by build.sh from the unstripped arm64 library (UniFFI library mode). */
val generatedKotlin: File = file("generated/kotlin")

/** One of the libraries build.sh puts in place; its absence means build.sh has not run. */
val nativeMarker: File = file("src/main/jniLibs/arm64-v8a/libsockstatlog.so")

android {
    namespace = "dev.sockstatlog"
    compileSdk = 35

    defaultConfig {
        // 26 = Android 8.0: the API level build.sh links the native library
        // against (cargo ndk -P 26), so the .so cannot load below it anyway. The
        // Kotlin needs API 26 as well (requestNetwork with a Handler, the
        // monitor's way below API 31); going lower means relinking at a lower
        // level and testing devices nobody here has. android/verify's PermissionsTest reads this
        // value: each platform call's permission is checked from here to compileSdk.
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }

    buildTypes {
        release {
            // A library is minified by the app that uses it (consumer-rules.pro).
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    publishing {
        // The one variant apps consume, with its sources (the generated bindings included).
        singleVariant("release") {
            withSourcesJar()
        }
    }

    sourceSets["main"].apply {
        kotlin.srcDir(generatedKotlin)
        // FastCounters.kt (the JNI fast path) has a source root of its own so
        // the host-JVM test project (tests/kotlin) compiles the same file
        // without the Android-only glue next to it.
        kotlin.srcDir("src/jni/kotlin")
        // jniLibs: the default src/main/jniLibs, filled by build.sh (already stripped).
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

dependencies {
    // The @aar carries libjnidispatch.so per ABI; >= 5.17 for 16 KB pages (JNA #1642).
    implementation("net.java.dev.jna:jna:5.18.1@aar")
    // @RequiresApi in the generated cleaner (android_cleaner = true).
    implementation("androidx.annotation:annotation:1.9.1")
}

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "dev.sockstatlog"
            artifactId = "sockstatlog-android"
            version = project.version.toString()
            // The release component exists once the Android plugin has configured the variants.
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("sockstatlog-android")
                description.set(
                    "Per-subsystem socket byte accounting for Android VPNs, wire-compatible with Tailscale's sockstatlog",
                )
                licenses {
                    license {
                        name.set("BSD-3-Clause")
                        url.set("https://opensource.org/licenses/BSD-3-Clause")
                    }
                }
            }
        }
    }
}

val checkNativeBuild by tasks.registering {
    description = "Fails early, with the fix, when android/build.sh has not been run."
    val kotlinDir = generatedKotlin
    val marker = nativeMarker
    doLast {
        if (!kotlinDir.isDirectory || !marker.isFile) {
            throw GradleException(
                "sockstatlog: missing ${if (!kotlinDir.isDirectory) kotlinDir else marker}; " +
                    "run android/build.sh (needs the NDK r28+ and cargo-ndk) before Gradle",
            )
        }
    }
}

tasks.named("preBuild") { dependsOn(checkNativeBuild) }
