package dev.iqlite.demo

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ColorSpace
import android.os.Build
import androidx.exifinterface.media.ExifInterface
import dev.iqlite.core.ExifOrientation
import dev.iqlite.core.RgbImage
import java.io.BufferedInputStream
import java.io.IOException
import java.io.InputStream
import java.nio.ByteBuffer

/** Why a photo could not be turned into model input; the message is what its tile shows. */
class ImageDecodeException(message: String, cause: Throwable? = null) : IOException(message, cause)

/**
 * A photo decoded the way the model's preprocessing needs it: 8-bit RGB, transparency composited over white,
 * EXIF orientation applied (so [image] is upright, as a person sees it).
 *
 * [fileWidth] x [fileHeight] is the size stored in the file; [sampleSize] > 1 means the file was decoded at
 * 1/sampleSize of that size because it was larger than the decode limit.
 */
class DecodedPhoto(
    val image: RgbImage,
    val fileWidth: Int,
    val fileHeight: Int,
    val sampleSize: Int,
    val orientation: Int,
)

/**
 * The Android mirror of `training/core/images.py` `load_rgb`: decode, composite alpha over white, apply the EXIF
 * orientation. Each step follows the Python one; where Android cannot do the same, the difference is named
 * here and in android_demo/README.md:
 *
 * - Decoder: BitmapFactory (JPEG, PNG, WebP, BMP, GIF first frame; HEIF/AVIF where the device supports them,
 *   which Python does not; no TIFF, which Python reads).
 * - Huge photos: above [DEFAULT_MAX_DECODE_PIXELS] the file is decoded with inSampleSize 2, 4, ... to bound
 *   memory, where Python resizes from full resolution; the score can then differ slightly from Python's.
 * - Colour: pixel values are read as stored (ICC profiles ignored, like Python), bypassing Android's
 *   conversion to sRGB where the bitmap is tagged with another colour space.
 * - Truncated files: BitmapFactory may return a partly decoded image where Pillow raises an error.
 */
object PhotoDecoder {
    /** About 16 megapixels: a 12 MP phone photo decodes at full size; a 50 MP one at half size. */
    const val DEFAULT_MAX_DECODE_PIXELS: Long = 16_000_000L

    private const val OPAQUE = 0xFF

    /**
     * Decodes the photo that [open] reads (it is called once per pass: bounds, pixels, EXIF, so it must
     * return a fresh stream each time). Throws [ImageDecodeException] for anything unusable.
     */
    fun decode(open: () -> InputStream, maxDecodePixels: Long = DEFAULT_MAX_DECODE_PIXELS): DecodedPhoto {
        require(maxDecodePixels > 0) { "maxDecodePixels must be positive, got $maxDecodePixels" }
        val (fileWidth, fileHeight) = readSize(open)
        val sampleSize = sampleSizeFor(fileWidth, fileHeight, maxDecodePixels)
        val bitmap = decodeBitmap(open, sampleSize, fileWidth, fileHeight)
        val width = bitmap.width
        val height = bitmap.height
        val pixels = try {
            readStraightPixels(bitmap)
        } catch (e: OutOfMemoryError) {
            throw ImageDecodeException("not enough memory for a ${width}x$height image", e)
        } finally {
            bitmap.recycle()
        }
        compositeOnWhite(pixels)
        val orientation = readOrientation(open)
        val upright = ExifOrientation.apply(RgbImage(width, height, pixels), orientation)
        return DecodedPhoto(upright, fileWidth, fileHeight, sampleSize, orientation)
    }

    /** The smallest power of two that brings the decoded pixel count to at most [maxPixels]. */
    fun sampleSizeFor(width: Int, height: Int, maxPixels: Long): Int {
        var sample = 1
        while (ceilDiv(width, sample).toLong() * ceilDiv(height, sample) > maxPixels) {
            sample *= 2
        }
        return sample
    }

    /** The EXIF orientation (1–8), or 1 when the file has none or its EXIF cannot be read. */
    fun readOrientation(open: () -> InputStream): Int =
        try {
            openChecked(open).use { stream ->
                ExifInterface(stream).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
            }
        } catch (e: IOException) {
            ExifOrientation.NORMAL
        } catch (e: RuntimeException) {
            // ExifInterface can throw on malformed EXIF blocks; Pillow's exif_transpose leaves those photos as stored.
            ExifOrientation.NORMAL
        }

    /** Opens a stream, turning "cannot open" failures into [ImageDecodeException] with a readable reason. */
    fun openChecked(open: () -> InputStream): InputStream =
        try {
            BufferedInputStream(open())
        } catch (e: ImageDecodeException) {
            throw e
        } catch (e: SecurityException) {
            throw ImageDecodeException("no permission to read the file", e)
        } catch (e: IOException) {
            throw ImageDecodeException("cannot read the file (${e.message ?: e.javaClass.simpleName})", e)
        }

    private fun readSize(open: () -> InputStream): Pair<Int, Int> {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        openChecked(open).use { stream ->
            stream.mark(1)
            if (stream.read() < 0) {
                throw ImageDecodeException("empty file")
            }
            stream.reset()
            BitmapFactory.decodeStream(stream, null, bounds)
        }
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
            throw ImageDecodeException("not a recognised image format")
        }
        return bounds.outWidth to bounds.outHeight
    }

    private fun decodeBitmap(open: () -> InputStream, sampleSize: Int, fileWidth: Int, fileHeight: Int): Bitmap {
        val options = BitmapFactory.Options().apply {
            inPreferredConfig = Bitmap.Config.ARGB_8888
            // Straight (not premultiplied) alpha, so colour values survive exactly for the white composite.
            inPremultiplied = false
            inSampleSize = sampleSize
        }
        val bitmap = try {
            openChecked(open).use { stream -> BitmapFactory.decodeStream(stream, null, options) }
        } catch (e: OutOfMemoryError) {
            throw ImageDecodeException("not enough memory to decode a ${fileWidth}x$fileHeight image", e)
        }
        return bitmap ?: throw ImageDecodeException("corrupt or truncated image data")
    }

    /**
     * The bitmap's pixels as 0xAARRGGBB with straight alpha and the values as decoded. Bitmap.getPixels
     * converts to sRGB when the bitmap is tagged with another colour space; Python ignores ICC profiles,
     * so such bitmaps are read raw instead.
     */
    private fun readStraightPixels(bitmap: Bitmap): IntArray {
        val width = bitmap.width
        val height = bitmap.height
        val pixels = IntArray(width * height)
        if (needsRawRead(bitmap)) {
            val buffer = ByteBuffer.allocate(bitmap.rowBytes * height)
            bitmap.copyPixelsToBuffer(buffer)
            val bytes = buffer.array()
            for (y in 0 until height) {
                var offset = y * bitmap.rowBytes
                for (x in 0 until width) {
                    // ARGB_8888 is stored as R, G, B, A bytes in memory.
                    val r = bytes[offset].toInt() and 0xFF
                    val g = bytes[offset + 1].toInt() and 0xFF
                    val b = bytes[offset + 2].toInt() and 0xFF
                    val a = bytes[offset + 3].toInt() and 0xFF
                    pixels[y * width + x] = (a shl 24) or (r shl 16) or (g shl 8) or b
                    offset += 4
                }
            }
        } else {
            bitmap.getPixels(pixels, 0, width, 0, 0, width, height)
        }
        return pixels
    }

    private fun needsRawRead(bitmap: Bitmap): Boolean {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O || bitmap.config != Bitmap.Config.ARGB_8888) {
            return false
        }
        val colorSpace = bitmap.colorSpace ?: return false
        return colorSpace != ColorSpace.get(ColorSpace.Named.SRGB)
    }

    /**
     * Alpha-blends every pixel onto white in place, with Python's integer maths
     * (`(c * a + 255 * (255 - a) + 127) // 255`), and marks it opaque. Opaque pixels are unchanged.
     */
    fun compositeOnWhite(pixels: IntArray) {
        for (i in pixels.indices) {
            val p = pixels[i]
            val a = p ushr 24
            if (a == OPAQUE) {
                continue
            }
            val r = blend((p shr 16) and 0xFF, a)
            val g = blend((p shr 8) and 0xFF, a)
            val b = blend(p and 0xFF, a)
            pixels[i] = (OPAQUE shl 24) or (r shl 16) or (g shl 8) or b
        }
    }

    private fun blend(colour: Int, alpha: Int): Int = (colour * alpha + 255 * (255 - alpha) + 127) / 255

    private fun ceilDiv(value: Int, divisor: Int): Int = (value + divisor - 1) / divisor
}
