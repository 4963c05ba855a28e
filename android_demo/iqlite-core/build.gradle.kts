// iqlite-core: the plain-Java part of the Android demo (preprocessing, dequantization, stars, flaw reasons,
// model metadata). No android.* imports (org.json only), so it builds and is tested on any JDK 17:
//   bash scripts/jvm_test.sh          (from the repository root; plain javac + JUnit console launcher)
//   ./gradlew :iqlite-core:test       (from android_demo/; repositories come from settings.gradle.kts)
plugins {
    `java-library`
}

java {
    // Main code sticks to APIs present on Android 6+ (no java.nio.file, no records) so the app can use it.
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

// org.json is part of Android (android.jar), so the app gets it from the platform. This module only compiles
// against it: bundling a second org.json into the APK would duplicate platform classes (lint's
// DuplicatePlatformClasses error). Its JVM tests need a real one on the classpath. scripts/jvm_test.sh uses
// Debian's libandroid-json-java (Android's own code) instead; both have the JSONObject API used here.
val orgJsonVersion = "20231013"

dependencies {
    compileOnly("org.json:json:$orgJsonVersion")
    testImplementation("org.json:json:$orgJsonVersion")
    testImplementation("org.junit.jupiter:junit-jupiter:5.9.2")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher:1.9.2")
}

tasks.test {
    useJUnitPlatform()
    // The tests read the golden files and the shipped model from the repository.
    systemProperty("iqlite.repo", rootProject.projectDir.parentFile.absolutePath)
}
