package dev.iqlite.demo

import android.view.LayoutInflater
import android.view.View
import android.view.ViewGroup
import androidx.core.view.isVisible
import androidx.recyclerview.widget.DiffUtil
import androidx.recyclerview.widget.ListAdapter
import androidx.recyclerview.widget.RecyclerView
import dev.iqlite.core.ScoreScale
import dev.iqlite.demo.databinding.ItemPhotoBinding

/**
 * The grid of photos: thumbnail, half-star rating and score, and under them what the model finds wrong with the
 * photo (the reason texts of the model's metadata, most severe first), or why the photo could not be scored.
 */
class PhotoAdapter(private val onOpen: (PhotoItem) -> Unit) :
    ListAdapter<PhotoItem, PhotoAdapter.PhotoViewHolder>(DIFF) {

    override fun onCreateViewHolder(parent: ViewGroup, viewType: Int): PhotoViewHolder {
        val binding = ItemPhotoBinding.inflate(LayoutInflater.from(parent.context), parent, false)
        return PhotoViewHolder(binding)
    }

    override fun onBindViewHolder(holder: PhotoViewHolder, position: Int) {
        holder.bind(getItem(position))
    }

    inner class PhotoViewHolder(private val binding: ItemPhotoBinding) : RecyclerView.ViewHolder(binding.root) {
        fun bind(item: PhotoItem) {
            val context = binding.root.context
            binding.thumbnail.setImageBitmap(item.thumbnail)
            binding.progress.isVisible = item.isScoring
            val result = item.result
            if (result != null) {
                val score = ScoreScale.format(result.score)
                binding.rating.visibility = View.VISIBLE
                binding.rating.rating = result.stars.toFloat()
                binding.scoreText.text = context.getString(R.string.score_value, score)
                val reasons = result.reasons.joinToString("\n") { context.getString(R.string.reason_item, it.text) }
                binding.reasonsText.isVisible = reasons.isNotEmpty()
                binding.reasonsText.text = reasons
                val scoreDescription = context.getString(R.string.score_value, score)
                binding.root.contentDescription = if (result.reasons.isEmpty()) {
                    scoreDescription
                } else {
                    val texts = result.reasons.joinToString(". ") { it.text }
                    context.getString(R.string.tile_description_reasons, scoreDescription, texts)
                }
            } else {
                binding.rating.visibility = View.INVISIBLE
                binding.rating.rating = 0f
                binding.scoreText.text = if (item.isScoring) context.getString(R.string.scoring) else ""
                binding.reasonsText.isVisible = false
                binding.reasonsText.text = ""
                binding.root.contentDescription = null
            }
            binding.errorText.isVisible = item.error != null
            binding.errorText.text = item.error?.let { context.getString(R.string.tile_error, it) }
            if (result != null) {
                binding.root.setOnClickListener { onOpen(item) }
            } else {
                binding.root.setOnClickListener(null)
                binding.root.isClickable = false
            }
        }
    }

    private companion object {
        val DIFF = object : DiffUtil.ItemCallback<PhotoItem>() {
            override fun areItemsTheSame(oldItem: PhotoItem, newItem: PhotoItem): Boolean = oldItem.id == newItem.id

            override fun areContentsTheSame(oldItem: PhotoItem, newItem: PhotoItem): Boolean = oldItem == newItem
        }
    }
}
