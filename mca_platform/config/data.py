"""The `data` section: which source, its modal sparsity levels and its split (see design/data.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mca_platform.config.base import Strict

SparsityLevel = Annotated[float, Field(ge=0.0, lt=1.0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


class SplitConfig(Strict):
    """Seeded train / validation / test assignment, by sample, by group, or from the source's own folds."""

    mode: Literal["random", "by_group", "standard_folds"] = "random"
    validation: Fraction = 0.1
    test: Fraction = 0.15
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitConfig:
        if self.validation + self.test >= 1.0:
            raise ValueError(
                f"validation + test must be below 1 (got {self.validation} + {self.test})"
            )
        return self


class DataBase(Strict):
    """Fields every source shares: a name, the sparsity levels, the split, standardisation."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    sparsity: list[SparsityLevel] = Field(default_factory=lambda: [0.0], min_length=1)
    sparsity_seed: int = 0
    split: SplitConfig = SplitConfig()
    standardize: bool = Field(
        False, description="z-score every table feature with statistics of the training split"
    )

    @field_validator("sparsity")
    @classmethod
    def _distinct_levels(cls, levels: list[float]) -> list[float]:
        if len(set(levels)) != len(levels):
            raise ValueError(f"sparsity levels must be distinct (got {levels})")
        return levels


class SyntheticTCGAData(DataBase):
    """A TCGA-like source: 4 omics tables with a planted class and shared latent (data.md section 4)."""

    kind: Literal["synthetic_tcga"]
    n_samples: int = Field(3000, ge=20)
    n_classes: int = Field(8, ge=2, le=64)
    width_scale: float = Field(1.0, gt=0.0, le=4.0)
    latent_dim: int = Field(16, ge=1)
    shared_fraction: dict[str, Fraction] = Field(default_factory=dict)
    noise: float = Field(0.5, ge=0.0)
    nan_fraction: Fraction = 0.02
    seed: int = 0


class SyntheticMOSEIData(DataBase):
    """A CMU-MOSEI-like source: 4 sequence modalities driven by one per-sample duration (data.md section 4)."""

    kind: Literal["synthetic_mosei"]
    n_samples: int = Field(2000, ge=20)
    width_scale: float = Field(1.0, gt=0.0, le=4.0)
    length_scale: float = Field(0.05, gt=0.0, le=4.0)
    mean_duration_s: float = Field(7.0, gt=0.0)
    latent_dim: int = Field(16, ge=1)
    shared_fraction: dict[str, Fraction] = Field(default_factory=dict)
    noise: float = Field(0.5, ge=0.0)
    silence_fraction: Fraction = 0.05
    nonfinite_fraction: Fraction = 1e-4
    max_rows: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    seed: int = 0


DataConfig = Annotated[
    SyntheticTCGAData | SyntheticMOSEIData,
    Field(discriminator="kind"),
]


def level_key(level: float) -> str:
    """The sparsity level as a short stable string ("0", "0.2"): the key of per-level files and cards."""
    return format(level, "g")
