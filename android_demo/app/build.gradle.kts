// The iqlite demo app: pick photos or take one, score each on-device with the int8 model, show stars.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

// LiteRT (formerly TensorFlow Lite). The 1.4.x line is the one whose Interpreter API runs the GPU and NNAPI
// delegates; in LiteRT 2.x the Interpreter API is CPU-only (the GPU/NPU path there is the CompiledModel API).
val litertVersion = "1.4.2"

android {
    namespace = "dev.iqlite.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.iqlite.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    buildFeatures {
        viewBinding = true
    }

    // Keep the model stored, not deflated, in the APK, so it can be memory-mapped straight from the APK.
    androidResources {
        noCompress += "tflite"
    }

    // The golden images and their expected outputs are shared with the Python and JVM tests:
    // tests/golden/iqlite.json and tests/golden/images/*.png become androidTest assets.
    sourceSets {
        getByName("androidTest").assets.srcDirs("../../tests/golden")
    }
}

dependencies {
    implementation(project(":iqlite-core"))

    implementation("com.google.ai.edge.litert:litert:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litertVersion")

    implementation("androidx.core:core-ktx:1.13.1")
    implementation("androidx.activity:activity-ktx:1.9.3")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.7")
    implementation("androidx.lifecycle:lifecycle-viewmodel-ktx:2.8.7")
    implementation("androidx.recyclerview:recyclerview:1.3.2")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    androidTestImplementation("junit:junit:4.13.2")
    androidTestImplementation("androidx.test:core:1.6.1")
    androidTestImplementation("androidx.test:runner:1.6.2")
    androidTestImplementation("androidx.test.ext:junit:1.2.1")
}
