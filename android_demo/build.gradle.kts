// Plugin versions for the whole build, applied in the modules that need them.
// AGP 8.7 needs Gradle 8.9 or later and JDK 17, and supports compileSdk up to 35 (Android Studio Ladybug).
plugins {
    id("com.android.application") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.0.21" apply false
}
