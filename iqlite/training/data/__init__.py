"""Rating tables, rated image sets and splits, the embedded sample data set and its distortions."""
