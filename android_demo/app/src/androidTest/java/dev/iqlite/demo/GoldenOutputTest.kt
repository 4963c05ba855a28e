package dev.iqlite.demo

import android.content.Context
import android.content.res.AssetManager
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import java.io.ByteArrayInputStream
import java.security.MessageDigest
import org.json.JSONArray
import org.json.JSONObject
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith

/**
 * The app's preprocessing and model, on the device, against the outputs Python recorded for the same images.
 *
 * The golden data is shared with the Python and JVM tests: app/build.gradle.kts adds the repository's
 * tests/golden/ (iqlite.json and images/<name>.png, written by `python -m export golden`) to this test APK's
 * assets. For every image the decoded pixels and the model input must hash to Python's bytes, the raw uint8
 * outputs (the score and the flaw statistics) must equal Python's exactly, the score must match to 1e-4, and
 * the flaw reasons must be the codes Python names, in Python's order.
 */
@RunWith(AndroidJUnit4::class)
class GoldenOutputTest {
    private val instrumentation = InstrumentationRegistry.getInstrumentation()

    /** The app under test: its assets hold the shipped model. */
    private val appContext: Context = instrumentation.targetContext

    /** This test APK: its assets hold tests/golden. */
    private val goldenAssets: AssetManager = instrumentation.context.assets

    private lateinit var golden: JSONObject
    private lateinit var helper: QualityScorerHelper

    @Before
    fun setUp() {
        golden = JSONObject(goldenAssets.open(GOLDEN_JSON).bufferedReader().use { it.readText() })
        helper = QualityScorerHelper.create(appContext, QualityScorerHelper.Options(numThreads = 1))
    }

    @After
    fun tearDown() {
        helper.close()
    }

    @Test
    fun goldenRecordIsForTheShippedModel() {
        val modelBytes = appContext.assets.open(QualityScorerHelper.MODEL_ASSET).use { it.readBytes() }
        assertEquals(
            "app/src/main/assets/${QualityScorerHelper.MODEL_ASSET} is not the model tests/golden/iqlite.json was " +
                "recorded with; re-record it with `python -m export golden`",
            golden.getString("model_sha256"),
            sha256(modelBytes),
        )
        assertEquals(golden.getInt("image_size"), helper.inputSize)
        assertEquals(golden.getDouble("output_scale"), helper.outputQuantization.scale.toDouble(), 0.0)
        assertEquals(golden.getLong("output_zero_point"), helper.outputQuantization.zeroPoint)
        assertEquals(QualityScorerHelper.Delegate.CPU, helper.activeDelegate)
        assertTrue("the shipped model has no flaw_reasons metadata", helper.flawReasons != null)
    }

    @Test
    fun everyGoldenImageGivesPythonsBytesAndRawOutput() {
        val images = golden.getJSONObject("images")
        val mismatches = mutableListOf<String>()
        var checked = 0
        for (name in images.keys()) {
            val expected = images.getJSONObject(name)
            val path = "$IMAGES_DIR/${expected.getString("file")}"
            val prepared = helper.preprocess { goldenAssets.open(path) }
            val image = prepared.photo.image

            if (image.width != expected.getInt("width") || image.height != expected.getInt("height")) {
                mismatches += "$name: decoded ${image.width}x${image.height}, " +
                    "expected ${expected.getInt("width")}x${expected.getInt("height")}"
            }
            if (sha256(image.toRgbBytes()) != expected.getString("pixels_sha256")) {
                mismatches += "$name: decoded pixels differ from Python's"
            }
            if (sha256(prepared.input) != expected.getString("input_sha256")) {
                mismatches += "$name: model input (resize) differs from Python's"
            }
            val output = helper.run(prepared.input)
            val raw = output.raw
            if (raw != expected.getInt("raw_output")) {
                mismatches += "$name: raw output $raw, expected ${expected.getInt("raw_output")}"
            }
            val expectedFlawRaw = intList(expected.getJSONArray("flaw_raw"))
            if (output.flawRaw != expectedFlawRaw) {
                mismatches += "$name: raw flaw statistics ${output.flawRaw}, expected $expectedFlawRaw"
            }
            val score = helper.outputQuantization.score(raw)
            if (Math.abs(score - expected.getDouble("score")) > SCORE_TOLERANCE) {
                mismatches += "$name: score $score, expected ${expected.getDouble("score")}"
            }
            checked++
        }
        assertTrue("no golden images in $GOLDEN_JSON", checked > 0)
        assertTrue(mismatches.joinToString("\n"), mismatches.isEmpty())
    }

    @Test
    fun scoreGivesTheSameResultAsTheSteps() {
        val images = golden.getJSONObject("images")
        for (name in images.keys()) {
            val expected = images.getJSONObject(name)
            val result = helper.score { goldenAssets.open("$IMAGES_DIR/${expected.getString("file")}") }
            assertEquals(name, expected.getInt("raw_output"), result.rawOutput)
            assertEquals(name, expected.getDouble("score"), result.score, SCORE_TOLERANCE)
            assertEquals(name, stringList(expected.getJSONArray("reasons")), result.reasons.map { it.code })
            assertEquals(name, 1, result.sampleSize)
            assertTrue(name, result.inferenceMs > 0.0)
        }
    }

    @Test
    fun unreadableImagesRaiseImageDecodeException() {
        assertThrows(ImageDecodeException::class.java) { helper.score { ByteArrayInputStream(ByteArray(0)) } }
        assertThrows(ImageDecodeException::class.java) {
            helper.score { ByteArrayInputStream("not an image at all".toByteArray()) }
        }
        val png = goldenAssets.open("$IMAGES_DIR/${firstImageFile()}").use { it.readBytes() }
        val notPng = png.copyOf().also { it[1] = 'X'.code.toByte() }
        assertThrows(ImageDecodeException::class.java) { helper.score { ByteArrayInputStream(notPng) } }
    }

    private fun firstImageFile(): String {
        val images = golden.getJSONObject("images")
        return images.getJSONObject(images.keys().next()).getString("file")
    }

    private fun intList(array: JSONArray): List<Int> = List(array.length()) { array.getInt(it) }

    private fun stringList(array: JSONArray): List<String> = List(array.length()) { array.getString(it) }

    private fun sha256(bytes: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it.toInt() and 0xFF) }

    private companion object {
        const val GOLDEN_JSON = "iqlite.json"
        const val IMAGES_DIR = "images"
        const val SCORE_TOLERANCE = 1e-4
    }
}
