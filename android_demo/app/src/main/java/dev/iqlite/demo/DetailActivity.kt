package dev.iqlite.demo

import android.content.Context
import android.content.Intent
import android.graphics.Bitmap
import android.net.Uri
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.enableEdgeToEdge
import androidx.core.view.isVisible
import androidx.lifecycle.lifecycleScope
import dev.iqlite.core.ScoreScale
import dev.iqlite.demo.databinding.ActivityDetailBinding
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * One scored photo: the photo, its stars and score, under them what the model finds wrong with it (the reason
 * texts of the model's metadata, most severe first: [QualityScorerHelper.ScoreResult.reasons]), how long the
 * model took and its raw outputs. For a model without the flaw output the reasons section stays hidden.
 */
class DetailActivity : ComponentActivity() {
    private lateinit var binding: ActivityDetailBinding

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        binding = ActivityDetailBinding.inflate(layoutInflater)
        setContentView(binding.root)
        padForSystemBars(binding.root)

        val extras = intent.extras
        @Suppress("DEPRECATION") // getParcelable(String) is the call that works on every supported API level.
        val uri = extras?.getParcelable<Uri>(EXTRA_URI)
        if (extras == null || uri == null) {
            finish()
            return
        }
        showScore(extras)
        showReasons(extras)
        loadPhoto(uri)
    }

    private fun showScore(extras: Bundle) {
        val score = extras.getDouble(EXTRA_SCORE)
        val stars = ScoreScale.stars(score)
        binding.rating.rating = stars.toFloat()
        binding.scoreText.text = getString(R.string.score_value, ScoreScale.format(score))
        binding.verdictText.setText(if (extras.getBoolean(EXTRA_GOOD)) R.string.verdict_good else R.string.verdict_weak)
        val delegate = extras.getString(EXTRA_DELEGATE).orEmpty()
        val inferenceMs = extras.getDouble(EXTRA_INFERENCE_MS)
        binding.inferenceText.text = getString(R.string.detail_inference, inferenceMs, delegate)
        binding.preprocessText.text = getString(R.string.detail_preprocess, extras.getDouble(EXTRA_PREPROCESS_MS))
        binding.rawText.text = getString(
            R.string.detail_raw,
            extras.getInt(EXTRA_RAW),
            extras.getFloat(EXTRA_OUTPUT_SCALE).toString(),
            extras.getLong(EXTRA_OUTPUT_ZERO_POINT),
        )
        binding.sizeText.text = getString(
            R.string.detail_size,
            extras.getInt(EXTRA_PHOTO_WIDTH),
            extras.getInt(EXTRA_PHOTO_HEIGHT),
            extras.getInt(EXTRA_INPUT_SIZE),
        )
    }

    private fun showReasons(extras: Bundle) {
        val texts = extras.getStringArrayList(EXTRA_REASON_TEXTS).orEmpty()
        val flawRaw = extras.getIntegerArrayList(EXTRA_FLAW_RAW).orEmpty()
        val checked = flawRaw.isNotEmpty() // the model has the flaw output: an empty list means no flaw found
        binding.reasonsTitle.isVisible = checked
        binding.reasonsText.isVisible = checked
        binding.reasonsText.text = if (texts.isEmpty()) {
            getString(R.string.detail_no_reasons)
        } else {
            texts.joinToString("\n") { getString(R.string.reason_item, it) }
        }
        binding.flawRawText.isVisible = checked
        binding.flawRawText.text = getString(R.string.detail_flaw_raw, flawRaw.joinToString(", "))
    }

    private fun loadPhoto(uri: Uri) {
        val maxSide = resources.displayMetrics.widthPixels.coerceAtLeast(1)
        lifecycleScope.launch {
            val photo: Result<Bitmap> = withContext(Dispatchers.IO) {
                try {
                    Result.success(Thumbnails.load(contentResolver, uri, maxSide))
                } catch (e: Exception) {
                    Result.failure(e)
                } catch (e: OutOfMemoryError) {
                    Result.failure(e)
                }
            }
            photo.onSuccess { binding.photo.setImageBitmap(it) }
            photo.onFailure {
                binding.imageErrorText.isVisible = true
                val reason = it.message ?: it.javaClass.simpleName
                binding.imageErrorText.text = getString(R.string.detail_image_failed, reason)
            }
        }
    }

    companion object {
        private const val EXTRA_URI = "dev.iqlite.demo.URI"
        private const val EXTRA_SCORE = "dev.iqlite.demo.SCORE"
        private const val EXTRA_GOOD = "dev.iqlite.demo.GOOD"
        private const val EXTRA_RAW = "dev.iqlite.demo.RAW"
        private const val EXTRA_OUTPUT_SCALE = "dev.iqlite.demo.OUTPUT_SCALE"
        private const val EXTRA_OUTPUT_ZERO_POINT = "dev.iqlite.demo.OUTPUT_ZERO_POINT"
        private const val EXTRA_INFERENCE_MS = "dev.iqlite.demo.INFERENCE_MS"
        private const val EXTRA_PREPROCESS_MS = "dev.iqlite.demo.PREPROCESS_MS"
        private const val EXTRA_DELEGATE = "dev.iqlite.demo.DELEGATE"
        private const val EXTRA_PHOTO_WIDTH = "dev.iqlite.demo.PHOTO_WIDTH"
        private const val EXTRA_PHOTO_HEIGHT = "dev.iqlite.demo.PHOTO_HEIGHT"
        private const val EXTRA_INPUT_SIZE = "dev.iqlite.demo.INPUT_SIZE"

        /** The texts of the reasons that fired, most severe first. */
        private const val EXTRA_REASON_TEXTS = "dev.iqlite.demo.REASON_TEXTS"

        /** The raw flaw statistics; empty for a model without the flaw output. */
        private const val EXTRA_FLAW_RAW = "dev.iqlite.demo.FLAW_RAW"

        fun intent(
            context: Context,
            uri: Uri,
            result: QualityScorerHelper.ScoreResult,
            delegateLabel: String,
        ): Intent = Intent(context, DetailActivity::class.java)
            .putExtra(EXTRA_URI, uri)
            .putExtra(EXTRA_SCORE, result.score)
            .putExtra(EXTRA_GOOD, result.isGood)
            .putExtra(EXTRA_RAW, result.rawOutput)
            .putExtra(EXTRA_OUTPUT_SCALE, result.outputScale)
            .putExtra(EXTRA_OUTPUT_ZERO_POINT, result.outputZeroPoint)
            .putExtra(EXTRA_INFERENCE_MS, result.inferenceMs)
            .putExtra(EXTRA_PREPROCESS_MS, result.preprocessMs)
            .putExtra(EXTRA_DELEGATE, delegateLabel)
            .putExtra(EXTRA_PHOTO_WIDTH, result.photoWidth)
            .putExtra(EXTRA_PHOTO_HEIGHT, result.photoHeight)
            .putExtra(EXTRA_INPUT_SIZE, result.inputSize)
            .putStringArrayListExtra(EXTRA_REASON_TEXTS, ArrayList(result.reasons.map { it.text }))
            .putIntegerArrayListExtra(EXTRA_FLAW_RAW, ArrayList(result.flawRaw))
    }
}
