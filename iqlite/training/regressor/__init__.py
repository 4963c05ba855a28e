"""The MobileNetV2 quality regressor: recipe, model, ridge head, training, evaluation, pipeline."""
