"""Trained document models: features, training, artefacts and loading."""
