package dev.iqlite.demo

import android.content.ContentResolver
import android.content.Context
import android.net.Uri
import android.os.Build
import android.os.SystemClock
import android.util.Log
import dev.iqlite.core.ExifOrientation
import dev.iqlite.core.FlawReasons
import dev.iqlite.core.ModelMetadata
import dev.iqlite.core.Quantization
import dev.iqlite.core.Resizer
import dev.iqlite.core.ScoreScale
import java.io.Closeable
import java.io.FileInputStream
import java.io.InputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate

/**
 * Owns the LiteRT interpreter of the iqlite model and turns a photo into a 0–5 score with exactly the
 * preprocessing of the Python side (`training/core/images.py` `load_for_model`, used by `python -m export score`):
 *
 * 1. decode to 8-bit RGB, transparency over white, EXIF orientation applied ([PhotoDecoder]);
 * 2. resize the whole photo to S x S with Pillow's antialiased BILINEAR, bit for bit (`dev.iqlite.core.Resizer`);
 * 3. feed the uint8 RGB bytes as they are (row-major HWC, no normalization);
 * 4. dequantize the uint8 output with the model's own scale and zero point (`dev.iqlite.core.Quantization`);
 * 5. when the model has the flaw output (`flaw_statistics`, named by its metadata), turn its uint8 values into
 *    flaw reasons with the thresholds and texts of the model's metadata (`dev.iqlite.core.FlawReasons`, the
 *    rule of the Python scorer's `export score --reasons`).
 *
 * S, the output quantizations and the flaw thresholds come from the model file itself
 * (`dev.iqlite.core.ModelMetadata`), so a retrained or recalibrated model drops in without code changes.
 *
 * Not thread-safe: create, use and [close] one instance on one thread (the app uses a single-thread dispatcher).
 */
class QualityScorerHelper private constructor(
    private val interpreter: Interpreter,
    /** The GPU or NNAPI delegate object, closed after the interpreter; null on the CPU. */
    private val delegateHandle: AutoCloseable?,
    /** What the model file says about itself: tensors, name, version, the iqlite preprocessing JSON. */
    val metadata: ModelMetadata,
    val options: Options,
    /** The delegate actually in use: [Options.delegate], or [Delegate.CPU] after a fallback. */
    val activeDelegate: Delegate,
    /** Why the requested delegate is not in use (null when it is). */
    val fallbackReason: String?,
) : Closeable {

    /** Where the model runs. CPU uses LiteRT's XNNPACK kernels. */
    enum class Delegate { CPU, GPU, NNAPI }

    data class Options(
        val delegate: Delegate = Delegate.CPU,
        val numThreads: Int = DEFAULT_THREADS,
        /** Photos with more pixels are decoded at 1/2, 1/4, ... size (see [PhotoDecoder]). */
        val maxDecodePixels: Long = PhotoDecoder.DEFAULT_MAX_DECODE_PIXELS,
    ) {
        init {
            require(numThreads in 1..MAX_THREADS) { "numThreads must be 1..$MAX_THREADS, got $numThreads" }
            require(maxDecodePixels > 0) { "maxDecodePixels must be positive, got $maxDecodePixels" }
        }
    }

    /** A photo made ready for the model: the decoded upright photo and the S x S x 3 input bytes. */
    class PreparedInput(val photo: DecodedPhoto, val input: ByteArray)

    /**
     * One interpreter run: the raw uint8 score, the raw uint8 flaw statistics (empty for a model without the
     * flaw output) and the time the run took.
     */
    data class RawOutput(val raw: Int, val flawRaw: List<Int>, val inferenceNanos: Long)

    /** The score of one photo and how it was obtained. */
    data class ScoreResult(
        /** 0–5, higher is better (the dequantized model output). */
        val score: Double,
        /** [score] rounded to half stars, as the Python scorer's `stars` column. */
        val stars: Double,
        /** Whether the score reaches the model's good/bad threshold (2.5 unless its metadata says otherwise). */
        val isGood: Boolean,
        /** The model's uint8 output (0–255), and the quantization that turned it into [score]. */
        val rawOutput: Int,
        val outputScale: Float,
        val outputZeroPoint: Long,
        /**
         * What the model finds wrong with the photo, most severe first, each with its text from the model's
         * metadata; empty when nothing fires or the model has no flaw output.
         */
        val reasons: List<FlawReasons.Reason>,
        /** The raw uint8 flaw statistics the reasons come from (empty for a model without the flaw output). */
        val flawRaw: List<Int>,
        val inferenceMs: Double,
        /** Decode, orientation and resize. */
        val preprocessMs: Double,
        /** The photo's size as displayed (EXIF orientation applied), and the decode subsampling (1 = full size). */
        val photoWidth: Int,
        val photoHeight: Int,
        val sampleSize: Int,
        val inputSize: Int,
        val delegate: Delegate,
    )

    /** S: the model takes S x S RGB photos. */
    val inputSize: Int = metadata.imageSize()

    /** Raw uint8 output to score: `scale * (raw - zeroPoint)`. */
    val outputQuantization: Quantization = metadata.outputQuantization()

    /** The flaw output and the thresholds and texts of the model's metadata; null for a model without them. */
    val flawReasons: FlawReasons? = FlawReasons.fromMetadata(metadata)

    private val inputBuffer: ByteBuffer =
        ByteBuffer.allocateDirect(inputSize * inputSize * CHANNELS).order(ByteOrder.nativeOrder())
    private var closed = false

    init {
        checkLiveTensors()
    }

    /** One buffer per model output, in LiteRT's output order, each the size of its tensor. */
    private val outputBuffers: List<ByteBuffer> = List(interpreter.outputTensorCount) { index ->
        ByteBuffer.allocateDirect(interpreter.getOutputTensor(index).numBytes()).order(ByteOrder.nativeOrder())
    }

    /** Output index to its buffer, as [Interpreter.runForMultipleInputsOutputs] takes them. */
    private val outputMap: Map<Int, Any> = outputBuffers.withIndex().associate { (index, buffer) -> index to buffer }

    /** Scores the photo at [uri]: decode, orient, resize, run, dequantize. Throws [ImageDecodeException]. */
    fun score(resolver: ContentResolver, uri: Uri): ScoreResult =
        score { resolver.openInputStream(uri) ?: throw ImageDecodeException("cannot open $uri") }

    /** Scores the photo that [open] reads; [open] must return a fresh stream on every call. */
    fun score(open: () -> InputStream): ScoreResult {
        val start = SystemClock.elapsedRealtimeNanos()
        val prepared = preprocess(open)
        val preprocessNanos = SystemClock.elapsedRealtimeNanos() - start
        val output = run(prepared.input)
        val score = outputQuantization.score(output.raw)
        val reasons = flawReasons?.evaluate(output.flawRaw.toIntArray()).orEmpty()
        val photo = prepared.photo
        val turned = ExifOrientation.swapsDimensions(photo.orientation)
        return ScoreResult(
            score = score,
            stars = ScoreScale.stars(score),
            isGood = score >= metadata.goodThreshold(),
            rawOutput = output.raw,
            outputScale = outputQuantization.scale,
            outputZeroPoint = outputQuantization.zeroPoint,
            reasons = reasons,
            flawRaw = output.flawRaw,
            inferenceMs = output.inferenceNanos / NANOS_PER_MS,
            preprocessMs = preprocessNanos / NANOS_PER_MS,
            photoWidth = if (turned) photo.fileHeight else photo.fileWidth,
            photoHeight = if (turned) photo.fileWidth else photo.fileHeight,
            sampleSize = photo.sampleSize,
            inputSize = inputSize,
            delegate = activeDelegate,
        )
    }

    /** Steps 1–3 without running the model (the instrumented tests compare these bytes with Python's). */
    fun preprocess(open: () -> InputStream): PreparedInput {
        val photo = PhotoDecoder.decode(open, options.maxDecodePixels)
        val input = Resizer.resize(photo.image, inputSize).toRgbBytes()
        return PreparedInput(photo, input)
    }

    /**
     * Runs the model on S x S x 3 uint8 RGB bytes and returns the raw outputs (the score's, and the flaw
     * statistics' when the model has them) with the inference time.
     */
    fun run(input: ByteArray): RawOutput {
        check(!closed) { "QualityScorerHelper is closed" }
        require(input.size == inputBuffer.capacity()) {
            "expected ${inputBuffer.capacity()} input bytes ($inputSize x $inputSize x $CHANNELS), got ${input.size}"
        }
        inputBuffer.clear()
        inputBuffer.put(input)
        inputBuffer.rewind()
        outputBuffers.forEach { it.clear() }
        val start = SystemClock.elapsedRealtimeNanos()
        interpreter.runForMultipleInputsOutputs(arrayOf<Any>(inputBuffer), outputMap)
        val nanos = SystemClock.elapsedRealtimeNanos() - start
        val raw = outputBuffers[0].get(0).toInt() and 0xFF
        val flaws = flawReasons
        val flawRaw = if (flaws == null) {
            emptyList()
        } else {
            val buffer = outputBuffers[flaws.outputIndex()]
            List(flaws.size()) { buffer.get(it).toInt() and 0xFF }
        }
        return RawOutput(raw, flawRaw, nanos)
    }

    override fun close() {
        if (closed) {
            return
        }
        closed = true
        interpreter.close()
        delegateHandle?.close()
    }

    /** LiteRT's view of the tensors must agree with what the metadata parser read from the file. */
    private fun checkLiveTensors() {
        val input = interpreter.getInputTensor(0)
        val output = interpreter.getOutputTensor(0)
        val expectedShape = intArrayOf(1, inputSize, inputSize, CHANNELS)
        check(input.dataType() == DataType.UINT8 && input.shape().contentEquals(expectedShape)) {
            "LiteRT reports input ${input.shape().contentToString()} ${input.dataType()}, " +
                "expected [1, $inputSize, $inputSize, $CHANNELS] UINT8"
        }
        check(output.dataType() == DataType.UINT8 && output.numElements() == 1) {
            "LiteRT reports output ${output.shape().contentToString()} ${output.dataType()}, expected one UINT8 value"
        }
        val quantization = output.quantizationParams()
        val sameQuantization = quantization.scale == outputQuantization.scale &&
            quantization.zeroPoint.toLong() == outputQuantization.zeroPoint
        check(sameQuantization) {
            "LiteRT reports output scale ${quantization.scale} zero point ${quantization.zeroPoint}, " +
                "the file parser read $outputQuantization"
        }
        check(interpreter.outputTensorCount == metadata.outputs().size) {
            "LiteRT reports ${interpreter.outputTensorCount} outputs, the file parser read ${metadata.outputs().size}"
        }
        val flaws = flawReasons ?: return
        val flawTensor = interpreter.getOutputTensor(flaws.outputIndex())
        check(flawTensor.dataType() == DataType.UINT8 && flawTensor.numElements() == flaws.size()) {
            "LiteRT reports flaw output ${flawTensor.shape().contentToString()} ${flawTensor.dataType()}, " +
                "expected ${flaws.size()} UINT8 values"
        }
        val flawQuantization = flawTensor.quantizationParams()
        check(
            flawQuantization.scale == flaws.quantization().scale &&
                flawQuantization.zeroPoint.toLong() == flaws.quantization().zeroPoint,
        ) {
            "LiteRT reports flaw output scale ${flawQuantization.scale} zero point ${flawQuantization.zeroPoint}, " +
                "the file parser read ${flaws.quantization()}"
        }
    }

    companion object {
        /** The model under app/src/main/assets (stored uncompressed so it can be memory-mapped). */
        const val MODEL_ASSET = "iqlite.tflite"
        const val DEFAULT_THREADS = 2
        const val MAX_THREADS = 8
        private const val CHANNELS = 3
        private const val NANOS_PER_MS = 1_000_000.0
        private const val TAG = "QualityScorerHelper"

        /**
         * Loads the model and creates the interpreter. When the requested GPU or NNAPI delegate cannot be
         * used on this device, falls back to the CPU and says why in [fallbackReason]. Throws when the model
         * itself cannot be loaded or is not an iqlite scorer (the message says what is wrong).
         */
        fun create(
            context: Context,
            options: Options = Options(),
            modelAsset: String = MODEL_ASSET,
        ): QualityScorerHelper {
            val model = loadModelFile(context, modelAsset)
            val metadata = ModelMetadata.parse(bytesOf(model))
            metadata.checkAppContract()
            if (options.delegate == Delegate.CPU) {
                return build(model, metadata, options, Delegate.CPU, null)
            }
            return try {
                build(model, metadata, options, options.delegate, null)
            } catch (e: Exception) {
                fallBackToCpu(model, metadata, options, e)
            } catch (e: LinkageError) {
                // A missing native delegate library surfaces as UnsatisfiedLinkError / NoClassDefFoundError.
                fallBackToCpu(model, metadata, options, e)
            }
        }

        private fun fallBackToCpu(
            model: ByteBuffer,
            metadata: ModelMetadata,
            options: Options,
            error: Throwable,
        ): QualityScorerHelper {
            Log.w(TAG, "${options.delegate} delegate unavailable, using the CPU", error)
            val reason = error.message?.takeIf { it.isNotBlank() } ?: error.javaClass.simpleName
            return build(model, metadata, options, Delegate.CPU, reason)
        }

        private fun build(
            model: ByteBuffer,
            metadata: ModelMetadata,
            options: Options,
            delegate: Delegate,
            fallbackReason: String?,
        ): QualityScorerHelper {
            val interpreterOptions = Interpreter.Options().setNumThreads(options.numThreads)
            var handle: AutoCloseable? = null
            var interpreter: Interpreter? = null
            try {
                when (delegate) {
                    Delegate.CPU -> interpreterOptions.setUseXNNPACK(true)
                    Delegate.GPU -> {
                        val supported = CompatibilityList().use { it.isDelegateSupportedOnThisDevice }
                        check(supported) { "the GPU delegate does not support this device's GPU" }
                        val gpu = GpuDelegate()
                        handle = gpu
                        interpreterOptions.addDelegate(gpu)
                    }
                    Delegate.NNAPI -> {
                        check(Build.VERSION.SDK_INT >= Build.VERSION_CODES.O_MR1) { "NNAPI needs Android 8.1 or later" }
                        val nnapi = NnApiDelegate()
                        handle = nnapi
                        interpreterOptions.addDelegate(nnapi)
                    }
                }
                interpreter = Interpreter(model, interpreterOptions)
                return QualityScorerHelper(interpreter, handle, metadata, options, delegate, fallbackReason)
            } catch (e: Throwable) {
                interpreter?.close()
                handle?.close()
                throw e
            }
        }

        /** The model memory-mapped straight from the APK (possible because it is stored uncompressed). */
        private fun loadModelFile(context: Context, asset: String): MappedByteBuffer =
            context.assets.openFd(asset).use { descriptor ->
                FileInputStream(descriptor.fileDescriptor).use { stream ->
                    stream.channel.map(FileChannel.MapMode.READ_ONLY, descriptor.startOffset, descriptor.declaredLength)
                }
            }

        private fun bytesOf(buffer: ByteBuffer): ByteArray {
            val copy = buffer.duplicate()
            copy.rewind()
            return ByteArray(copy.remaining()).also { copy.get(it) }
        }
    }
}
