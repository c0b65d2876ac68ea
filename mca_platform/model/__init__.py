"""The MCA / MMA model: masks, encoders, the masked transformer (dense and packed paths), pooling."""

from mca_platform.model.transformer import ModelOutput, MultimodalTransformer

__all__ = ["ModelOutput", "MultimodalTransformer"]
