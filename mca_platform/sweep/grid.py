"""Grid cells and trial configs, as pure functions of the sweep file (no Ray here)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from mca_platform.config import Config, SweepFile
from mca_platform.config.load import validate
from mca_platform.errors import UserError
from mca_platform.record import Cell


def plan_cells(sweep: SweepFile) -> list[Cell]:
    """Every cell of the grid, in a stable order (dataset, sparsity, seed, architecture)."""
    cells = []
    for data in sweep.datasets:
        levels = sweep.sweep.grid.sparsity if sweep.sweep.grid.sparsity is not None else data.sparsity
        missing = [level for level in levels if level not in data.sparsity]
        if missing:
            raise UserError(
                f"sweep.grid.sparsity: {missing[0]} is not a level of dataset {data.name!r} "
                f"(data.sparsity: {data.sparsity})"
            )
        for level in levels:
            for seed in sweep.sweep.grid.seeds:
                for arch in sweep.sweep.grid.architectures:
                    cells.append(Cell(data.name, float(level), arch, seed))
    return cells


def trial_config(sweep: SweepFile, cell: Cell, params: dict[str, Any], run_name: str, source: str) -> Config:
    """The single-run Config of one trial: the cell's values, the dataset's overrides, the searched params."""
    raw = sweep.model_dump(mode="json")
    raw["data"] = next(d for d in sweep.datasets if d.name == cell.dataset).model_dump(mode="json")
    overrides = {
        **sweep.sweep.per_dataset.get(cell.dataset, {}),
        **params,
        "model.arch": cell.arch,
        "train.sparsity": cell.sparsity,
        "train.seed": cell.seed,
        "train.run_name": run_name,
    }
    for path, value in overrides.items():
        _set(raw, path, value)
    return validate(Config, raw, source)


CELL_FIELDS = ("model.arch", "train.sparsity", "train.seed", "train.run_name")


def check_paths(sweep: SweepFile) -> None:
    """Every search-space and per-dataset path must name a config field that trials use, and every search
    dimension must be able to draw at least one valid value (checked before Ray starts)."""
    problems = []
    for path in sweep.sweep.search_space:
        if not field_exists(Config, path):
            problems.append(f"sweep.search_space.{path}: names no config field")
        elif path.startswith("data."):
            problems.append(f"sweep.search_space.{path}: trials ignore data fields (each dataset is prepared once, "
                            "before any trial); list the variants as datasets in `data` instead")
        elif path in CELL_FIELDS:
            problems.append(f"sweep.search_space.{path}: set by the grid cell, so trials ignore it; "
                            "use sweep.grid instead")
    for dataset, overrides in sweep.sweep.per_dataset.items():
        problems += [f"sweep.per_dataset.{dataset}.{p}: names no config field"
                     for p in overrides if not field_exists(Config, p)]
    if problems:
        raise UserError(*problems)
    cells = plan_cells(sweep)
    for path, dimension in sweep.sweep.search_space.items():
        problem = _no_valid_draw(sweep, cells[0], path, dimension)
        if problem:
            problems.append(problem)
    if problems:
        raise UserError(*problems)


def _no_valid_draw(sweep: SweepFile, cell: Cell, path: str, dimension) -> str | None:
    """A line if no value the dimension can draw (its ends, middle, or every choice) gives a valid trial."""
    if dimension.kind == "choice":
        candidates = list(dimension.values)
    else:
        candidates = [dimension.low, (dimension.low + dimension.high) / 2, dimension.high]
        if dimension.kind == "int":
            candidates = [int(round(value)) for value in candidates]
    first_error = None
    for value in candidates:
        try:
            trial_config(sweep, cell, {path: value}, "check", "sweep.search_space")
            return None
        except UserError as error:
            first_error = first_error or error.lines[0].removeprefix("sweep.search_space: ")
    return f"sweep.search_space.{path}: every value it can draw is refused (e.g. {first_error})"


def field_exists(model: Any, path: str) -> bool:
    """Whether a dotted path names a leaf field of `model` (nested blocks and union members are followed)."""
    head, _, rest = path.partition(".")
    return any(
        head in member.model_fields
        and (field_exists(member.model_fields[head].annotation, rest) if rest
             else not _models_in(member.model_fields[head].annotation))
        for member in _models_in(model)
    )


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _set(raw: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
