package dev.iqlite.demo

import android.graphics.Bitmap
import android.net.Uri

/**
 * One photo in the grid. It starts with only its [uri]; the [thumbnail] arrives when decoded, then either a
 * [result] or an [error] (why it could not be scored) when the scorer gets to it.
 */
data class PhotoItem(
    val id: Long,
    val uri: Uri,
    val thumbnail: Bitmap? = null,
    val result: QualityScorerHelper.ScoreResult? = null,
    val error: String? = null,
) {
    val isScoring: Boolean
        get() = result == null && error == null
}

/** The scorer's state, shown above the grid. */
sealed interface ScorerStatus {
    data object Loading : ScorerStatus

    data class Ready(
        val modelName: String,
        val modelVersion: String,
        val inputSize: Int,
        val delegate: QualityScorerHelper.Delegate,
        val numThreads: Int,
        /** Set when the requested delegate could not be used and the CPU runs instead. */
        val requestedDelegate: QualityScorerHelper.Delegate,
        val fallbackReason: String?,
    ) : ScorerStatus

    data class Failed(val message: String) : ScorerStatus
}
