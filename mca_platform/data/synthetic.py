"""Synthetic sources with a planted signal: the embedded default and the test fixtures (data.md section 4).

Per sample: a class (TCGA-like) or a sentiment (MOSEI-like), shared continuous factors z and, per
modality, private noise. Modality m sees h_m = sqrt(a_m) z + sqrt(1 - a_m) private_m (a_m = its shared
fraction), mixed through a fixed random two-layer map of its own, plus observation noise, then shaped
into a realistic marginal. Same config (seed included) = same bytes: every chunk has its own generator
seeded from (seed, chunk number), and the maps come from (seed, a fixed stream).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mca_platform.config.data import SyntheticMOSEIData, SyntheticTCGAData
from mca_platform.data.source import Source, SourceChunk
from mca_platform.data.spec import LabelSpec, ModalitySpec
from mca_platform.errors import UserError

CHUNK = 256  # samples per chunk; fixed, because the bytes depend on it
HIDDEN = 32
MAP_STREAM, SAMPLE_STREAM = 1, 2

TCGA_WIDTHS = {"gene": 800, "protein": 198, "methylation": 800, "mirna": 662}
TCGA_SHARED = {"gene": 0.7, "protein": 0.5, "methylation": 0.6, "mirna": 0.3}
MOSEI_WIDTHS = {"covarep": 74, "facet": 35, "openface": 713, "glove": 300}
MOSEI_RATES = {"covarep": 100.0, "facet": 30.0, "openface": 30.0, "glove": 2.5}  # rows per second
MOSEI_SHARED = {"covarep": 0.4, "facet": 0.5, "openface": 0.6, "glove": 0.7}


def _generator(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _shared_fractions(config, defaults: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(config.shared_fraction) - set(defaults))
    if unknown:
        raise UserError(
            f"data.shared_fraction: unknown modality {unknown[0]!r} (expected one of: {', '.join(defaults)})"
        )
    return {**defaults, **config.shared_fraction}


class _Map:
    """A fixed random nonlinear map from the latent space to one modality's features."""

    def __init__(self, rng: np.random.Generator, latent_dim: int, width: int):
        self.w1 = rng.normal(size=(latent_dim, HIDDEN)) / np.sqrt(latent_dim)
        self.b1 = rng.normal(scale=0.5, size=HIDDEN)
        self.w2 = rng.normal(size=(HIDDEN, width)) / np.sqrt(HIDDEN)
        self.offset = rng.normal(size=width)
        self.scale = rng.uniform(0.5, 1.5, size=width)

    def __call__(self, h: np.ndarray) -> np.ndarray:
        return np.tanh(h @ self.w1 + self.b1) @ self.w2


def _scaled(widths: dict[str, int], scale: float) -> dict[str, int]:
    return {name: max(2, round(width * scale)) for name, width in widths.items()}


def synthetic_tcga(config: SyntheticTCGAData) -> Source:
    """Four omics tables (gene, protein, methylation, miRNA) and a tumour-type-like class."""
    widths = _scaled(TCGA_WIDTHS, config.width_scale)
    shared = _shared_fractions(config, TCGA_SHARED)
    map_rng = _generator(config.seed, MAP_STREAM)
    centroids = map_rng.normal(size=(config.n_classes, config.latent_dim))
    maps = {name: _Map(map_rng, config.latent_dim, width) for name, width in widths.items()}
    specs = tuple(
        ModalitySpec(name, "table", width, tuple(f"{name}_{j}" for j in range(width)))
        for name, width in widths.items()
    )
    classes = tuple(f"type_{k:02d}" for k in range(config.n_classes))

    def chunks() -> Iterator[SourceChunk]:
        for k, start in enumerate(range(0, config.n_samples, CHUNK)):
            n = min(CHUNK, config.n_samples - start)
            rng = _generator(config.seed, SAMPLE_STREAM, k)
            labels = rng.integers(config.n_classes, size=n)
            z = 0.8 * centroids[labels] + 0.6 * rng.normal(size=(n, config.latent_dim))
            tables = {}
            for name in widths:
                a = shared[name]
                h = np.sqrt(a) * z + np.sqrt(1 - a) * rng.normal(size=z.shape)
                x = maps[name](h) + config.noise * rng.normal(size=(n, widths[name]))
                tables[name] = _tcga_marginal(name, x, maps[name], rng, config.nan_fraction)
            ids = [f"TCGA-SY-{i:06d}-01A" for i in range(start, start + n)]
            groups = [f"TCGA-SY-{i // 2:06d}" for i in range(start, start + n)]
            yield SourceChunk(ids, labels.astype(np.int64), tables, groups=groups)

    return Source(specs, LabelSpec("tumour_type", "classification", classes), chunks())


def _tcga_marginal(name: str, x: np.ndarray, fmap: _Map, rng: np.random.Generator, nan_fraction: float):
    """Realistic marginals: heavy-tailed expression and miRNA, methylation in (0, 1), NaN in protein."""
    match name:
        case "gene" | "mirna":
            values = np.exp(fmap.scale * x + 2.0 + fmap.offset)
        case "methylation":
            values = np.clip(1.0 / (1.0 + np.exp(-(2.0 * fmap.scale * x + fmap.offset))), 1e-4, 1 - 1e-4)
        case "protein":
            values = fmap.scale * x + fmap.offset
            values[rng.random(values.shape) < nan_fraction] = np.nan
        case other:
            raise ValueError(f"unknown TCGA-like modality {other!r}")
    return values.astype(np.float32)


def synthetic_mosei(config: SyntheticMOSEIData) -> Source:
    """Four sequence modalities (COVAREP, FACET, OpenFace, GloVe) and a sentiment in [-3, 3]."""
    widths = _scaled(MOSEI_WIDTHS, config.width_scale)
    shared = _shared_fractions(config, MOSEI_SHARED)
    unknown = sorted(set(config.max_rows) - set(widths))
    if unknown:
        raise UserError(f"data.max_rows: unknown modality {unknown[0]!r} (expected one of: {', '.join(widths)})")
    map_rng = _generator(config.seed, MAP_STREAM)
    sentiment_direction = map_rng.normal(size=config.latent_dim) / np.sqrt(config.latent_dim)
    maps = {name: _Map(map_rng, config.latent_dim, width) for name, width in widths.items()}
    specs = tuple(ModalitySpec(name, "sequence", width) for name, width in widths.items())

    def chunks() -> Iterator[SourceChunk]:
        for k, start in enumerate(range(0, config.n_samples, CHUNK)):
            n = min(CHUNK, config.n_samples - start)
            rng = _generator(config.seed, SAMPLE_STREAM, k)
            z = rng.normal(size=(n, config.latent_dim))
            labels = np.clip(3 * np.tanh(1.5 * z @ sentiment_direction + 0.2 * rng.normal(size=n)), -3, 3)
            duration = np.clip(rng.lognormal(np.log(config.mean_duration_s), 0.5, size=n), 1.0, 60.0)
            sequences: dict[str, list] = {}
            for name in widths:
                a = shared[name]
                base = np.sqrt(a) * z + np.sqrt(1 - a) * rng.normal(size=z.shape)
                rows = np.maximum(1, np.round(duration * MOSEI_RATES[name] * config.length_scale)).astype(int)
                if name in config.max_rows:
                    rows = np.minimum(rows, config.max_rows[name])
                sequences[name] = [
                    _mosei_rows(name, base[i], rows[i], maps[name], rng, config) for i in range(n)
                ]
            videos = [f"vid{(start + i) // 8:07d}" for i in range(n)]
            ids = [f"{video}[{(start + i) % 8}]" for i, video in enumerate(videos)]
            yield SourceChunk(ids, labels.astype(np.float32), sequences, groups=videos)

    return Source(specs, LabelSpec("sentiment", "regression"), chunks())


def _mosei_rows(name: str, base: np.ndarray, n_rows: int, fmap: _Map, rng, config) -> np.ndarray:
    """One sample's rows: the sample's latent drifting over time, silence rows, rare non-finite values."""
    steps = rng.normal(size=(n_rows, base.shape[0]))
    drift = 0.3 * np.cumsum(steps, axis=0) / np.sqrt(np.arange(1, n_rows + 1))[:, None]
    x = fmap(base + drift) + config.noise * rng.normal(size=(n_rows, fmap.w2.shape[1]))
    x = (fmap.scale * x + fmap.offset).astype(np.float32)
    if name in ("glove", "covarep"):
        x[rng.random(n_rows) < config.silence_fraction] = 0.0
    if name == "covarep" and config.nonfinite_fraction > 0:
        broken = rng.random(x.shape) < config.nonfinite_fraction
        x[broken] = np.where(rng.random(int(broken.sum())) < 0.5, -np.inf, np.nan)
    return x
