"""The report of a finished sweep (evaluation.md, "The report"): figures, tables and one HTML page.

It reads only what a sweep recorded in its directory, so it re-runs offline, any number of times:

    SWEEP_DIR/sweep.json, sweep.yaml       the validated sweep file and its text, as run
    SWEEP_DIR/trials.json                  the trial table (trial_id, name, cell, status, reason, ...)
    SWEEP_DIR/evaluation/metrics.csv       one row per (dataset, sparsity, arch, seed): `<group>.<name>` metrics
    SWEEP_DIR/evaluation/epochs.csv        per-epoch train_loss / val_loss of every usable trial (optional)
    SWEEP_DIR/evaluation/selection.json    the selected epochs with their neighbours           (optional)
    SWEEP_DIR/evaluation/cards.json        the sparsity cards per dataset and level            (optional)
    SWEEP_DIR/evaluation/mlflow.json       tracking uri, experiment, parent run, {trial_id: run_id} (optional)

(their formats: record.py) and writes `<out>/<sweep name>/`: `index.html`, `figures/*.{png,svg}`,
`tables/*.{csv,md}`. Missing metrics are skipped, never invented. Importing this package does not import
mlflow (only logging the report does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mca_platform.errors import UserError
from mca_platform.record import SETTING, SweepDir, read_json

DEFAULT_MLFLOW_URL = "http://127.0.0.1:5000"
KEYS = list(SETTING)


@dataclass
class SweepResults:
    """Everything a report shows, as read from a sweep directory."""

    name: str
    directory: Path
    metrics: pd.DataFrame
    epochs: pd.DataFrame | None = None
    selection: list[dict] = field(default_factory=list)
    cards: dict = field(default_factory=dict)
    sweep_text: str = ""
    sweep_config: dict = field(default_factory=dict)
    trials: list[dict] = field(default_factory=list)
    mlflow: dict = field(default_factory=dict)

    def section(self, name: str) -> dict:
        """A section of the sweep file as a dict (empty when absent or not a mapping)."""
        value = self.sweep_config.get(name)
        return value if isinstance(value, dict) else {}


def load_results(sweep_dir: str | Path) -> SweepResults:
    """The recorded results of a finished sweep (read through record.py); UserError when it is not one."""
    directory = Path(sweep_dir)
    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory (expected a finished sweep's directory)")
    record = SweepDir(directory)
    needed = [record.snapshot, record.trial_table, record.evaluation / "metrics.csv"]
    missing = [str(path.relative_to(record.path)) for path in needed if not path.is_file()]
    if missing:
        raise UserError(f"{directory}: not a finished, evaluated sweep (missing {', '.join(missing)})")
    sweep = record.sweep()
    return SweepResults(
        name=record.name,
        directory=directory,
        metrics=_read_metrics(record.evaluation / "metrics.csv"),
        epochs=_read_epochs(record.evaluation / "epochs.csv"),
        selection=record.selection(),
        cards=read_json(record.evaluation / "cards.json", default={"cards": {}}).get("cards", {}),
        sweep_text=record.source.read_text() if record.source.is_file() else "",
        sweep_config=sweep.model_dump(mode="json"),
        trials=record.trials(),
        mlflow=read_json(record.evaluation / "mlflow.json", default={"tracking_uri": None}),
    )


def build_report(
    sweep_dir: str | Path,
    out_root: str | Path | None = None,
    formats: Sequence[str] | None = None,
    mlflow_base_url: str = DEFAULT_MLFLOW_URL,
    log_to_mlflow: bool = True,
) -> Path:
    """Write the report of `sweep_dir` under `<out_root>/<sweep name>/`; returns the path of its index.html.

    out_root and formats default to the sweep file's `report.out_dir` and `report.formats` ("dashboards",
    png and svg). When the sweep recorded an MLflow parent run (evaluation/mlflow.json) and log_to_mlflow,
    the report's files are also logged as that run's artifacts under `report/`.
    """
    import time

    from mca_platform.report import figures, html, tables

    results = load_results(sweep_dir)
    report_config = _report_config(results)
    formats = tuple(formats or report_config.formats)
    out = Path(out_root if out_root is not None else report_config.out_dir) / results.name
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    n_resamples = _evaluation_config(results).bootstrap_samples
    built = tables.build_tables(results, n_resamples=n_resamples)
    table_files = tables.write_tables(built, out / "tables")
    figure_files = figures.draw_all(results, built["statistics"], out / "figures", formats)
    index = html.write_page(results, built, figure_files, table_files, out, mlflow_base_url)
    if log_to_mlflow and results.mlflow.get("tracking_uri") and results.mlflow.get("parent_run_id"):
        _log_report(results.mlflow, out)
    print(f"report: {index} ({len(figure_files)} figures, {time.perf_counter() - started:.1f} s)")
    return index


def _log_report(mlflow: dict, out: Path) -> None:
    from mca_platform.tracking import log_artifacts

    try:
        log_artifacts(mlflow["tracking_uri"], mlflow["parent_run_id"], out, "report")
    except Exception as error:  # the store may be gone or moved: the report on disk still stands
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"report written to {out}, but logging it to MLflow run {mlflow['parent_run_id']} "
                        f"failed ({first}); run again with --no-mlflow to skip logging") from None


def _report_config(results: SweepResults):
    from mca_platform.config import ReportConfig
    from mca_platform.config.load import validate

    return validate(ReportConfig, results.section("report"), f"{results.directory / 'sweep.json'}: report")


def _evaluation_config(results: SweepResults):
    from mca_platform.config import EvaluationConfig
    from mca_platform.config.load import validate

    return validate(EvaluationConfig, results.section("evaluation"), f"{results.directory / 'sweep.json'}: evaluation")


def _read_csv(path: Path, required: Sequence[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty (the sweep's evaluation recorded no rows)") from None
    except pd.errors.ParserError as error:
        raise UserError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)}")
    if frame.empty:
        raise UserError(f"{path}: no rows (the sweep's evaluation recorded nothing)")
    frame["sparsity"] = pd.to_numeric(frame["sparsity"], errors="coerce").astype(float)
    frame["dataset"] = frame["dataset"].astype(str)
    frame["arch"] = frame["arch"].astype(str)
    return frame


def _read_metrics(path: Path) -> pd.DataFrame:
    """metrics.csv with `/`-separated metric names accepted as `.`; raises on duplicate settings."""
    frame = _read_csv(path, KEYS)
    frame.columns = [str(name).replace("/", ".") for name in frame.columns]
    duplicated = frame.duplicated(KEYS)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise UserError(f"{path}: more than one row for {', '.join(f'{k}={first[k]}' for k in KEYS)}")
    return frame.sort_values(KEYS, kind="stable").reset_index(drop=True)


def _read_epochs(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    frame = _read_csv(path, [*KEYS, "epoch"])
    for name in ("train_loss", "val_loss"):
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return frame


def finite(value) -> bool:
    """True for a real, finite number."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


__all__ = ["DEFAULT_MLFLOW_URL", "SweepResults", "build_report", "finite", "load_results"]
