"""One-shot (weight-sharing) neural architecture search with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
