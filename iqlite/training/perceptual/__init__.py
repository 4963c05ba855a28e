"""The perceptual distance model: backbone features of two photos, their learned weighting, its training data."""
