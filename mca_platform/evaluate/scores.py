"""Test-split metrics of one selected checkpoint's embeddings, as flat `<group>.<name>` columns.

Uniformity and alignment (Wang and Isola) on the test split; retrieval from test unimodal queries to the
fusion embeddings of the train and test splits (the paper's gallery) and to a fixed-size gallery; a linear
probe fitted on train fusion embeddings and scored on test; the modality-subset analysis. Samples with no
modality are excluded everywhere and counted.

Flags (`flags.<name>`, numbers, never metrics) say where a value needs care:
- `non_finite_embeddings`: samples whose used embeddings hold NaN or inf; the setting is then skipped (only
  the counts and this flag are returned) and the rest of the sweep goes on;
- `fixed_gallery_short`: 1 when the gallery had fewer items than `fixed_gallery_size`, so the "fixed" gallery
  is the whole, smaller gallery at this setting (`retrieval_fixed.gallery_size` says how many);
- `modalities_left_out`: the most modalities any modality mean left out (a modality with < 2 present test
  samples, a NaN value, or no query); 0 when every mean is over every modality;
- `collapsed_space`: 1 when the full-gallery tie rate reaches COLLAPSED_TIE_RATE (ties count in the query's
  favour, the paper's rule, so R@k is then meaningless); `retrieval.<m>.tie_rate` is recorded per modality.
"""

from __future__ import annotations

import math

import numpy as np

from mca_platform.metrics.geometry import geometry_metrics
from mca_platform.metrics.health import health
from mca_platform.metrics.probes import classification_probe, regression_probe
from mca_platform.metrics.retrieval import retrieval_metrics
from mca_platform.metrics.subsets import subset_similarity

TRAIN, TEST = 0, 2


def probe(train_x, train_y, test_x, test_y, kind: str, n_classes: int) -> dict[str, float]:
    """The label's linear probe: classification (macro AUPR, accuracy, micro AP) or regression (r, MAE)."""
    match kind:
        case "classification":
            scores = classification_probe(train_x, train_y, test_x, test_y, n_classes=n_classes)
            return {f"probe.{k}": scores[k] for k in ("macro_aupr", "accuracy", "micro_ap")}
        case "regression":
            scores = regression_probe(train_x, train_y, test_x, test_y)
            return {f"probe.{k}": scores[k] for k in ("pearson_r", "mae")}
        case other:
            raise ValueError(f"unknown label kind {other!r}")


def score_embeddings(arrays: dict[str, np.ndarray], names: list[str], label_kind: str, n_classes: int,
                     fixed_gallery_size: int) -> dict[str, float]:
    """Every metric of one checkpoint from its cached embeddings (see embed.py for the keys)."""
    split = arrays["split"]
    test, train = split == TEST, split == TRAIN
    present = {name: arrays[f"present/{name}"].astype(bool) for name in names}
    fusion_present = np.logical_or.reduce([present[name] for name in names])
    row: dict[str, float] = {"n_test": int(test.sum()), "n_no_modality": int((test & ~fusion_present).sum())}
    bad = non_finite_samples(arrays, names, present, fusion_present, train | test, test)
    row["flags.non_finite_embeddings"] = bad
    if bad:
        return row

    geometry = geometry_metrics({n: arrays[f"emb/{n}"][test] for n in names}, arrays["emb/fusion"][test],
                                {n: present[n][test] for n in names})
    for key, value in geometry.items():
        group, _, name = key.partition("/")
        if group in ("uniformity", "alignment", "uniformity_unnormalised", "alignment_unnormalised"):
            row[f"{group}.{name}"] = value

    gallery_size = int(fusion_present[train].sum() + fusion_present[test].sum())
    fixed = min(fixed_gallery_size, gallery_size)
    retrieval = retrieval_metrics(
        {n: arrays[f"emb/{n}"][test] for n in names}, {n: present[n][test] for n in names},
        arrays["emb/fusion"][test], fusion_present[test], arrays["emb/fusion"][train], fusion_present[train],
        fixed_size=fixed,
    )
    for key, value in retrieval.items():
        metric, _, name = key.partition("/")
        group = "retrieval_fixed" if metric.startswith("fixed_") else "retrieval"
        metric = metric.removeprefix("fixed_")
        short = {"median_rank_1based": "median_rank", "r@1": "r1", "r@5": "r5", "r@10": "r10",
                 "tie_rate": "tie_rate"}.get(metric)
        if short and name:
            row[f"{group}.{name}.{short}"] = value
    row["retrieval.gallery_size"] = retrieval["gallery_size"]
    row["retrieval_fixed.gallery_size"] = fixed
    row["flags.fixed_gallery_short"] = int(gallery_size < fixed_gallery_size)
    row["flags.collapsed_space"] = int(retrieval.get("collapsed/mean", 0.0) == 1.0)
    row["flags.modalities_left_out"] = int(
        max(v for k, v in {**geometry, **retrieval}.items() if k.startswith(("left_out", "fixed_left_out"))))

    spaces = {**{n: arrays[f"emb/{n}"][test] for n in names}, "fusion": arrays["emb/fusion"][test]}
    learned = health(spaces, {**{n: present[n][test] for n in names}, "fusion": fusion_present[test]})
    for key, value in learned.items():
        space, _, measure = key.partition("/")
        if measure:
            row[f"health.{space}.{measure}"] = value
    row["flags.collapsed_embedding"] = learned["collapsed"]

    labels = arrays["labels"]
    keep_train, keep_test = train & fusion_present, test & fusion_present
    row.update(probe(arrays["emb/fusion"][keep_train], labels[keep_train], arrays["emb/fusion"][keep_test],
                     labels[keep_test], label_kind, n_classes))

    subsets = {tuple(k.removeprefix("sub/").split("+")): arrays[k][test] for k in arrays if k.startswith("sub/")}
    similarity = subset_similarity(arrays["emb/fusion"][test], subsets, {n: present[n][test] for n in names})
    sizes = [v for k, v in similarity.items() if k.startswith("cosine/size") and math.isfinite(v)]
    for key, value in similarity.items():
        if key.startswith("cosine/size"):
            row[f"subset.{key.removeprefix('cosine/')}"] = value
    row["subset.mean_cosine"] = float(np.mean(sizes)) if sizes else math.nan
    return row


def non_finite_samples(arrays, names, present, fusion_present, used, test) -> int:
    """Samples whose embeddings that the metrics read hold a non-finite value: fusion rows of train and test
    samples with a modality, unimodal rows of present modalities, subset rows of test samples."""
    bad = ~np.isfinite(arrays["emb/fusion"]).all(axis=1) & used & fusion_present
    for name in names:
        bad |= ~np.isfinite(arrays[f"emb/{name}"]).all(axis=1) & used & present[name]
    for key in (k for k in arrays if k.startswith("sub/")):
        inside = np.logical_and.reduce([present[n] for n in key.removeprefix("sub/").split("+")])
        bad |= ~np.isfinite(arrays[key]).all(axis=1) & test & inside
    return int(bad.sum())


def raw_features(data, level: str, rows: np.ndarray) -> np.ndarray:
    """The raw-feature baseline's inputs: each table's values (missing = 0) and each sequence's mean row,
    zeros where the modality is absent at this sparsity, plus the presence indicators."""
    dataset = data.dataset(level, None)
    parts = []
    for row in rows:
        sample = dataset[int(row)]
        features = []
        for spec in data.specs:
            value = sample["modalities"][spec.name]
            if value is None:
                features.append(np.zeros(spec.width, dtype=np.float32))
            elif spec.kind == "sequence":
                features.append(value.mean(axis=0))
            else:
                features.append(np.nan_to_num(value, nan=0.0))
        presence = np.array([sample["modalities"][s.name] is not None for s in data.specs], dtype=np.float32)
        parts.append(np.concatenate([*features, presence]))
    return np.stack(parts)


def raw_probe(data, level: str) -> dict[str, float]:
    """The same probe on raw concatenated features at this sparsity (the report's reference line)."""
    kept = data.present(level).any(axis=1)
    train = np.flatnonzero((data.split == TRAIN) & kept)
    test = np.flatnonzero((data.split == TEST) & kept)
    scores = probe(raw_features(data, level, train), data.labels[train], raw_features(data, level, test),
                   data.labels[test], data.label.kind, len(data.label.classes))
    return {key.replace("probe.", "probe_raw."): value for key, value in scores.items()}
