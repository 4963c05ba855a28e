package dev.iqlite.demo

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import java.io.InputStream

/**
 * Small upright bitmaps for showing a photo (grid tiles, the detail screen). Display only: the model's
 * input is made by [PhotoDecoder] and [QualityScorerHelper], never from these.
 */
object Thumbnails {
    /** The photo at [uri], decoded at about [maxSide] pixels on its longer side, EXIF orientation applied. */
    fun load(resolver: ContentResolver, uri: Uri, maxSide: Int): Bitmap =
        load({ resolver.openInputStream(uri) ?: throw ImageDecodeException("cannot open $uri") }, maxSide)

    fun load(open: () -> InputStream, maxSide: Int): Bitmap {
        require(maxSide > 0) { "maxSide must be positive, got $maxSide" }
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        PhotoDecoder.openChecked(open).use { BitmapFactory.decodeStream(it, null, bounds) }
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
            throw ImageDecodeException("not a recognised image format")
        }
        var sample = 1
        while (maxOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= maxSide) {
            sample *= 2
        }
        val options = BitmapFactory.Options().apply { inSampleSize = sample }
        val bitmap = PhotoDecoder.openChecked(open).use { BitmapFactory.decodeStream(it, null, options) }
            ?: throw ImageDecodeException("corrupt or truncated image data")
        return upright(bitmap, PhotoDecoder.readOrientation(open))
    }

    /** The bitmap turned as EXIF orientation 1–8 says (the same cases as dev.iqlite.core.ExifOrientation). */
    private fun upright(bitmap: Bitmap, orientation: Int): Bitmap {
        val matrix = Matrix()
        when (orientation) {
            2 -> matrix.postScale(-1f, 1f)
            3 -> matrix.postRotate(180f)
            4 -> matrix.postScale(1f, -1f)
            5 -> {
                matrix.postRotate(90f)
                matrix.postScale(-1f, 1f)
            }
            6 -> matrix.postRotate(90f)
            7 -> {
                matrix.postRotate(-90f)
                matrix.postScale(-1f, 1f)
            }
            8 -> matrix.postRotate(-90f)
            else -> return bitmap
        }
        val turned = Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, true)
        if (turned !== bitmap) {
            bitmap.recycle()
        }
        return turned
    }
}
