// iqlite Android demo: the app (:app) and the plain-Java scoring maths it shares with the JVM tests (:iqlite-core).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    // PREFER_SETTINGS: every module resolves from these repositories; a module that adds its own (e.g. to build
    // iqlite-core on its own) does not break the build, whereas FAIL_ON_PROJECT_REPOS would.
    repositoriesMode.set(RepositoriesMode.PREFER_SETTINGS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "iqlite-android"

include(":app")
include(":iqlite-core")
project(":iqlite-core").projectDir = file("iqlite-core")
