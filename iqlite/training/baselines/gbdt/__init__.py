"""The explainable baseline: features of a whole table, LightGBM trees, the baseline run."""
