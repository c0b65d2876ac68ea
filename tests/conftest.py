"""Shared fixtures: small synthetic configs and prepared datasets written by the tests themselves."""

from __future__ import annotations

import pytest
import torch

from mca_platform.config import load_config
from mca_platform.config.load import validate

# One intra-op thread: tests share 2 cores with Ray workers and subprocesses, and oversubscribed
# OpenMP threads spin, which made small steps 10-40x slower.
torch.set_num_threads(1)


def data_config(**fields):
    """A validated `data` config (synthetic TCGA-like unless `kind` says otherwise)."""
    from mca_platform.config import Config

    raw = {"kind": "synthetic_tcga", "name": "t", "n_samples": 200, "width_scale": 0.05, **fields}
    return validate(Config, {"data": raw}, "<test>").data


@pytest.fixture
def make_data_config():
    return data_config


@pytest.fixture(scope="session")
def prepared_tcga(tmp_path_factory):
    """A small prepared TCGA-like dataset at three sparsity levels."""
    from mca_platform.data.prepare import prepare
    from mca_platform.data.prepared import PreparedData
    from mca_platform.data.sources import open_source

    config = data_config(n_samples=300, sparsity=[0, 0.5, 0.8], standardize=True)
    out = tmp_path_factory.mktemp("prepared") / "tcga"
    prepare(open_source(config), config, out)
    return PreparedData(out)


@pytest.fixture(scope="session")
def prepared_mosei(tmp_path_factory):
    """A small prepared MOSEI-like dataset (sequences of different lengths, non-finite values)."""
    from mca_platform.data.prepare import prepare
    from mca_platform.data.prepared import PreparedData
    from mca_platform.data.sources import open_source

    config = data_config(
        kind="synthetic_mosei", n_samples=120, width_scale=0.1, length_scale=0.05,
        nonfinite_fraction=0.01, sparsity=[0, 0.4],
    )
    out = tmp_path_factory.mktemp("prepared") / "mosei"
    prepare(open_source(config), config, out)
    return PreparedData(out)


__all__ = ["data_config", "load_config"]
