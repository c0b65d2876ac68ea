"""The architecture registry: one module per architecture, one line each here (README, "How to add an
architecture"). Pure Python, so that the config can validate `model.arch` against it.
"""

from __future__ import annotations

from mca_platform.archs import eao, mca, mma
from mca_platform.archs.base import Architecture, Group, group_name

REGISTRY: dict[str, Architecture] = {arch.name: arch for arch in (mca.ARCH, mma.ARCH, eao.ARCH)}

__all__ = ["REGISTRY", "Architecture", "Group", "get", "group_name", "names"]


def names() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(REGISTRY)


def get(name: str) -> Architecture:
    """The architecture called `name`; a clear one-line error listing the known names otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown arch {name!r} (known: {', '.join(names())})")
    return REGISTRY[name]
