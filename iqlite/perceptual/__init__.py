"""Perceptual distance and saliency: the TensorFlow-free parts."""
