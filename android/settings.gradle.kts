// Standalone build of the sockstatlog Android library (an AAR). An app can
// instead include this directory as a module of its own build (see
// README, "Embed on Android"): then this file is ignored and the app's plugin versions apply.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
    plugins {
        // AGP 8.7 needs Gradle >= 8.9 and JDK 17.
        id("com.android.library") version "8.7.3"
        id("org.jetbrains.kotlin.android") version "2.1.0"
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "sockstatlog"
