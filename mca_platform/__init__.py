"""mca_platform: sweeps of masked multimodal transformers (MCA / MMA) under modal sparsity."""

__version__ = "0.1.0"
