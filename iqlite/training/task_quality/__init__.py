"""Quality for machines: how badly will a task network (OCR first) read this photo? See docs/task_quality.md."""
