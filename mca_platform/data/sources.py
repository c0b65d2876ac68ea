"""From a `data` config to its Source: one case per `data.kind`."""

from __future__ import annotations

from mca_platform.config.data import DataBase
from mca_platform.data.source import Source


def open_source(config: DataBase) -> Source:
    """The source a data config names (readers raise UserError for bad files)."""
    match config.kind:
        case "synthetic_tcga":
            from mca_platform.data.synthetic import synthetic_tcga

            return synthetic_tcga(config)
        case "synthetic_mosei":
            from mca_platform.data.synthetic import synthetic_mosei

            return synthetic_mosei(config)
        case "csd":
            from mca_platform.data.csd import csd_source

            return csd_source(config)
        case "tcga":
            from mca_platform.data.tcga import tcga_source

            return tcga_source(config)
        case "tables":
            from mca_platform.data.tables import tables_source

            return tables_source(config)
        case other:
            raise ValueError(f"unknown data kind {other!r}")
