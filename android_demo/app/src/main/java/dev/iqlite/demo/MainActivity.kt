package dev.iqlite.demo

import android.content.ActivityNotFoundException
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.core.content.FileProvider
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import androidx.core.view.isVisible
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import androidx.recyclerview.widget.GridLayoutManager
import dev.iqlite.demo.databinding.ActivityMainBinding
import java.io.File
import java.io.IOException
import kotlinx.coroutines.launch

/**
 * Pick photos (system photo picker) or take one (the camera app, through a FileProvider uri); each appears in
 * the grid at once and gets its stars when the scorer reaches it. Tapping a scored photo opens its details.
 */
class MainActivity : ComponentActivity() {
    private lateinit var binding: ActivityMainBinding
    private val viewModel: MainViewModel by viewModels()
    private val adapter = PhotoAdapter { item -> openDetail(item) }

    /** The file the camera app is writing to; kept across recreation while the camera is open. */
    private var pendingCameraFile: File? = null

    private val pickPhotos = registerForActivityResult(ActivityResultContracts.PickMultipleVisualMedia()) { uris ->
        if (uris.isNotEmpty()) {
            viewModel.addPhotos(uris)
        }
    }

    private val takePhoto = registerForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        val file = pendingCameraFile
        pendingCameraFile = null
        if (file != null) {
            if (saved && file.length() > 0) {
                viewModel.addPhotos(listOf(cameraUri(file)))
            } else {
                file.delete()
            }
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        binding = ActivityMainBinding.inflate(layoutInflater)
        setContentView(binding.root)
        padForSystemBars(binding.root)
        pendingCameraFile = savedInstanceState?.getString(KEY_CAMERA_FILE)?.let { File(it) }

        binding.photoGrid.layoutManager = GridLayoutManager(this, resources.getInteger(R.integer.grid_columns))
        binding.photoGrid.adapter = adapter

        binding.pickButton.setOnClickListener {
            pickPhotos.launch(
                PickVisualMediaRequest.Builder()
                    .setMediaType(ActivityResultContracts.PickVisualMedia.ImageOnly)
                    .build(),
            )
        }
        binding.cameraButton.setOnClickListener { launchCamera() }
        setUpSettings()

        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                launch {
                    viewModel.photos.collect { photos ->
                        adapter.submitList(photos)
                        binding.emptyText.isVisible = photos.isEmpty()
                    }
                }
                launch { viewModel.status.collect { showStatus(it) } }
            }
        }
    }

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        pendingCameraFile?.let { outState.putString(KEY_CAMERA_FILE, it.absolutePath) }
    }

    private fun launchCamera() {
        val file = try {
            val dir = File(cacheDir, CAMERA_DIR).apply { mkdirs() }
            File.createTempFile("photo_", ".jpg", dir)
        } catch (e: IOException) {
            Toast.makeText(this, getString(R.string.camera_file_failed, e.message), Toast.LENGTH_LONG).show()
            return
        }
        pendingCameraFile = file
        try {
            takePhoto.launch(cameraUri(file))
        } catch (e: ActivityNotFoundException) {
            pendingCameraFile = null
            file.delete()
            Toast.makeText(this, R.string.camera_unavailable, Toast.LENGTH_LONG).show()
        }
    }

    /** The content:// uri FileProvider hands out for a file under cache/camera/ (see res/xml/file_paths.xml). */
    private fun cameraUri(file: File): Uri = FileProvider.getUriForFile(this, "$packageName.fileprovider", file)

    private fun setUpSettings() {
        val delegates = QualityScorerHelper.Delegate.entries
        binding.delegateSpinner.adapter = ArrayAdapter.createFromResource(
            this,
            R.array.delegate_choices,
            android.R.layout.simple_spinner_item,
        ).apply { setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item) }
        binding.delegateSpinner.setSelection(delegates.indexOf(viewModel.settings.delegate), false)

        val threadLabels = THREAD_CHOICES.map { resources.getQuantityString(R.plurals.thread_count, it, it) }
        binding.threadsSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_item, threadLabels)
            .apply { setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item) }
        val threadIndex = THREAD_CHOICES.indexOf(viewModel.settings.numThreads).coerceAtLeast(0)
        binding.threadsSpinner.setSelection(threadIndex, false)

        val listener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) {
                val delegate = delegates[binding.delegateSpinner.selectedItemPosition]
                val threads = THREAD_CHOICES[binding.threadsSpinner.selectedItemPosition]
                viewModel.configure(delegate, threads)
            }

            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        binding.delegateSpinner.onItemSelectedListener = listener
        binding.threadsSpinner.onItemSelectedListener = listener
    }

    private fun showStatus(status: ScorerStatus) {
        binding.statusText.text = when (status) {
            ScorerStatus.Loading -> getString(R.string.model_loading)
            is ScorerStatus.Failed -> getString(R.string.model_failed, status.message)
            is ScorerStatus.Ready -> {
                val running = delegateLabel(status.delegate) + ", " +
                    resources.getQuantityString(R.plurals.thread_count, status.numThreads, status.numThreads)
                val info =
                    getString(R.string.model_info, status.modelName, status.modelVersion, status.inputSize, running)
                val fallback = status.fallbackReason
                if (fallback == null) {
                    info
                } else {
                    val requested = delegateLabel(status.requestedDelegate)
                    info + "\n" + getString(R.string.delegate_fallback, requested, fallback)
                }
            }
        }
        val problem = status is ScorerStatus.Failed || (status is ScorerStatus.Ready && status.fallbackReason != null)
        binding.statusText.setTextColor(getColor(if (problem) R.color.error else R.color.text_secondary))
    }

    private fun delegateLabel(delegate: QualityScorerHelper.Delegate): String =
        resources.getStringArray(R.array.delegate_choices)[delegate.ordinal]

    private fun openDetail(item: PhotoItem) {
        val result = item.result ?: return
        startActivity(DetailActivity.intent(this, item.uri, result, delegateLabel(result.delegate)))
    }

    private companion object {
        const val KEY_CAMERA_FILE = "camera_file"
        const val CAMERA_DIR = "camera"
        val THREAD_CHOICES = listOf(1, 2, 4)
    }
}

/** Pads [root] so nothing sits under the status bar, navigation bar or a display cutout (edge-to-edge). */
internal fun padForSystemBars(root: View) {
    ViewCompat.setOnApplyWindowInsetsListener(root) { view, insets ->
        val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
        view.setPadding(bars.left, bars.top, bars.right, bars.bottom)
        WindowInsetsCompat.CONSUMED
    }
}
