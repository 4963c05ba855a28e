package dev.iqlite.demo

import android.app.Application
import android.net.Uri
import android.util.Log
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import java.util.concurrent.Executors
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/**
 * Holds the photos and the scorer across configuration changes. All interpreter work (create, score, close)
 * runs on one dedicated thread, in the order it was asked for; thumbnails are decoded on two other threads
 * so tiles show their photo before the scorer reaches them.
 */
class MainViewModel(application: Application) : AndroidViewModel(application) {
    private val scorerExecutor = Executors.newSingleThreadExecutor { Thread(it, "iqlite-scorer") }
    private val scorerDispatcher = scorerExecutor.asCoroutineDispatcher()
    private val thumbnailExecutor = Executors.newFixedThreadPool(THUMBNAIL_THREADS) { Thread(it, "iqlite-thumbnails") }
    private val thumbnailDispatcher = thumbnailExecutor.asCoroutineDispatcher()

    /** Only touched on the scorer thread. */
    private var helper: QualityScorerHelper? = null
    private var nextId = 0L

    private val _photos = MutableStateFlow<List<PhotoItem>>(emptyList())
    val photos: StateFlow<List<PhotoItem>> = _photos.asStateFlow()

    private val _status = MutableStateFlow<ScorerStatus>(ScorerStatus.Loading)
    val status: StateFlow<ScorerStatus> = _status.asStateFlow()

    /** The delegate and thread count asked for (the status says what actually runs). */
    var settings = QualityScorerHelper.Options()
        private set

    init {
        loadScorer(settings)
    }

    /** Recreates the interpreter with another delegate or thread count; photos added later use it. */
    fun configure(delegate: QualityScorerHelper.Delegate, numThreads: Int) {
        val requested = settings.copy(delegate = delegate, numThreads = numThreads)
        if (requested == settings) {
            return
        }
        settings = requested
        loadScorer(requested)
    }

    /** Adds photos to the grid and queues them for scoring. */
    fun addPhotos(uris: List<Uri>) {
        val items = uris.map { PhotoItem(id = nextId++, uri = it) }
        _photos.update { it + items }
        for (item in items) {
            viewModelScope.launch(thumbnailDispatcher) { loadThumbnail(item) }
            viewModelScope.launch(scorerDispatcher) { score(item) }
        }
    }

    private fun loadScorer(options: QualityScorerHelper.Options) {
        _status.value = ScorerStatus.Loading
        viewModelScope.launch(scorerDispatcher) {
            helper?.close()
            helper = null
            _status.value = try {
                val created = QualityScorerHelper.create(getApplication<Application>(), options)
                helper = created
                ScorerStatus.Ready(
                    modelName = created.metadata.name() ?: QualityScorerHelper.MODEL_ASSET,
                    modelVersion = created.metadata.version() ?: "",
                    inputSize = created.inputSize,
                    delegate = created.activeDelegate,
                    numThreads = options.numThreads,
                    requestedDelegate = options.delegate,
                    fallbackReason = created.fallbackReason,
                )
            } catch (e: Exception) {
                Log.e(TAG, "cannot load the model", e)
                ScorerStatus.Failed(e.message ?: e.javaClass.simpleName)
            }
        }
    }

    private fun loadThumbnail(item: PhotoItem) {
        val app = getApplication<Application>()
        val size = app.resources.getDimensionPixelSize(R.dimen.tile_image_height)
        val bitmap = try {
            Thumbnails.load(app.contentResolver, item.uri, size)
        } catch (e: Exception) {
            // The scorer reports why the photo is unusable; a tile without a thumbnail keeps its placeholder.
            Log.w(TAG, "no thumbnail for ${item.uri}", e)
            return
        } catch (e: OutOfMemoryError) {
            Log.w(TAG, "no memory for the thumbnail of ${item.uri}", e)
            return
        }
        updateItem(item.id) { it.copy(thumbnail = bitmap) }
    }

    private fun score(item: PhotoItem) {
        val scorer = helper
        if (scorer == null) {
            val reason = (status.value as? ScorerStatus.Failed)?.message ?: "the model is not loaded"
            updateItem(item.id) { it.copy(error = reason) }
            return
        }
        val contentResolver = getApplication<Application>().contentResolver
        try {
            val result = scorer.score(contentResolver, item.uri)
            updateItem(item.id) { it.copy(result = result, error = null) }
        } catch (e: ImageDecodeException) {
            updateItem(item.id) { it.copy(error = e.message ?: "unreadable image") }
        } catch (e: Exception) {
            Log.e(TAG, "scoring ${item.uri} failed", e)
            updateItem(item.id) { it.copy(error = e.message ?: e.javaClass.simpleName) }
        } catch (e: OutOfMemoryError) {
            updateItem(item.id) { it.copy(error = "not enough memory for this photo") }
        }
    }

    private fun updateItem(id: Long, change: (PhotoItem) -> PhotoItem) {
        _photos.update { list -> list.map { if (it.id == id) change(it) else it } }
    }

    override fun onCleared() {
        // Runs after any scoring already queued on the scorer thread, so the interpreter is never closed mid-run.
        scorerExecutor.execute {
            helper?.close()
            helper = null
        }
        scorerExecutor.shutdown()
        thumbnailExecutor.shutdown()
    }

    private companion object {
        const val TAG = "MainViewModel"
        const val THUMBNAIL_THREADS = 2
    }
}
