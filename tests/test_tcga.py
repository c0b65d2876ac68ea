"""The TCGA PanCanAtlas reader, checked value by value on small tables in the real layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from writers import write_clinical, write_feature_major, write_rppa

from mca_platform.config.data import TcgaData, TcgaFiles
from mca_platform.data.card import card_json
from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source
from mca_platform.errors import UserError

TYPES = ["ACC", "GBM", "BRCA", "KIRC"]
PATIENTS = [f"TCGA-{site}-{i:04d}" for site, i in
            [("OR", 5001), ("OR", 5002), ("02", 1), ("02", 3), ("A1", 2001), ("A1", 2002), ("A2", 4004),
             ("BP", 4159), ("BP", 4160), ("CV", 5430), ("CV", 5431), ("E2", 1001), ("E2", 1002), ("AA", 3001)]]
NORMAL = "TCGA-BP-4159-11A"  # a normal-tissue sample of a labelled patient, in all four tables
LONE = "TCGA-55-6969-01A"  # a LUAD sample in the expression table only
UNLABELLED = "TCGA-AA-3001-01A"  # in all four tables, but its patient is not in the clinical table
DUPLICATED = "TCGA-02-0003-01A"  # two aliquots in the expression table, two rows in RPPA


def _files() -> TcgaFiles:
    return TcgaFiles(clinical="clinical.xlsx")


def write_tcga(root: Path, seed: int = 0, clinical: str = "clinical.xlsx") -> dict:
    """The five files; returns the truth per table (sample key -> vector), as the `last` policy sees it."""
    rng = np.random.default_rng(seed)
    tumour = [f"{p}-01A" for p in PATIENTS]
    files = TcgaFiles(clinical=clinical)
    truth: dict[str, dict[str, np.ndarray]] = {}
    first_copy: dict[str, np.ndarray] = {}

    def feature_major(name: str, n_rows: int, make, aliquot: str, extra_samples=()):
        samples = [*tumour, NORMAL, *extra_samples]
        table = {s: make(n_rows) for s in samples}
        barcodes = [f"{s}-{aliquot}" for s in samples]
        columns = [table[s] for s in samples]
        if name == "gene":  # the earlier aliquot of a duplicated sample: `last` ignores it
            first_copy[name] = make(n_rows)
            barcodes.insert(3, f"{DUPLICATED}-01R-A00X-07")
            columns.insert(3, first_copy[name])
        truth[name] = table
        return barcodes, np.stack(columns, axis=1)

    lognormal = lambda n: rng.lognormal(3, 1.5, size=n)
    barcodes, values = feature_major("gene", 30, lognormal, "21R-A29S-07", [LONE])
    values[4, barcodes.index(f"{PATIENTS[5]}-01A-21R-A29S-07")] = np.nan  # gene 4: NaN in a shared sample
    values[6, barcodes.index(f"{PATIENTS[7]}-01A-21R-A29S-07")] = 0.0  # gene 6: a zero
    values[8, barcodes.index(f"{LONE}-21R-A29S-07")] = np.nan  # gene 8: NaN only outside the shared samples
    values[10, barcodes.index(f"{PATIENTS[8]}-01A-21R-A29S-07")] = 0.0  # gene 10: a zero in a test-split sample
    for s, barcode in zip([*tumour, NORMAL, LONE], [b for b in barcodes if "A00X" not in b], strict=True):
        truth["gene"][s] = values[:, barcodes.index(barcode)]
    gene_ids = [f"G{j}|{100 + j}" for j in range(29)] + ["?|100130426"]
    write_feature_major(root / files.gene, "gene_id", gene_ids, barcodes, values)

    beta = lambda n: rng.beta(2, 2, size=n)
    barcodes, values = feature_major("methylation", 40, beta, "11D-A29W-05")
    values[2, 5] = np.nan
    for i, s in enumerate([*tumour, NORMAL]):
        truth["methylation"][s] = values[:, i]
    write_feature_major(root / files.methylation, "Composite Element REF", [f"cg{j:08d}" for j in range(40)],
                        barcodes, values)

    barcodes, values = feature_major("mirna", 9, lognormal, "11R-A29R-13")
    values[2, 2] = np.nan  # a missing cell in a Corrected row stays missing
    correction = ["Corrected", "Uncorrected"] * 4 + ["Corrected"]
    for i, s in enumerate([*tumour, NORMAL]):
        truth["mirna"][s] = values[[0, 2, 4, 6, 8], i]
    write_feature_major(root / files.mirna, "Genes", [f"hsa-miR-{j}" for j in range(9)], barcodes, values,
                        sep=",", extra={"Correction": correction})

    samples = [*tumour, NORMAL, DUPLICATED]
    values = rng.normal(size=(len(samples), 6))
    values[1, 2] = np.nan
    truth["protein"] = {s: values[i] for i, s in enumerate(samples)}  # the later DUPLICATED row wins
    first_copy["protein"] = values[tumour.index(DUPLICATED)]
    write_rppa(root / files.protein, [f"{s}-21-A39K-20" for s in samples], ["KIRC"] * len(samples),
               ["ACC1", "AKT_pS473", "BAX", "BCL2", "CDK1", "p53"], values)

    labels = {p: TYPES[i % 4] for i, p in enumerate(PATIENTS) if f"{p}-01A" != UNLABELLED}
    write_clinical(root / clinical, {**labels, "TCGA-55-6969": "LUAD"})
    return {"truth": truth, "first": first_copy, "labels": labels}


def details_of(data: PreparedData) -> dict:
    return data.manifest["source_details"]


def config(root: Path, **fields) -> TcgaData:
    base = {"kind": "tcga", "name": "tcga_test", "root": str(root), "files": {"clinical": "clinical.xlsx"},
            "n_genes": 10, "n_probes": 12, "standardize": False, "rows_per_block": 7}
    return TcgaData.model_validate({**base, **fields})


def expected_selection(table: dict, keys: list[str], rows: np.ndarray, k: int, no_zero: bool, log: bool):
    """Top-k rows by variance over `rows`, among rows with no NaN (and no zero) over `rows`: the values of the
    chosen features in file order, their indices and the number of eligible features."""
    matrix = np.stack([table[key] for key in keys])  # (n, features)
    eligible = [j for j in range(matrix.shape[1]) if np.isfinite(matrix[rows, j]).all()
                and not (no_zero and (matrix[rows, j] == 0).any())]
    transformed = np.log1p(np.maximum(matrix, 0)) if log else matrix
    ranked = sorted(eligible, key=lambda j: -transformed[rows, j].var())
    return transformed[:, sorted(ranked[:k])], sorted(ranked[:k]), len(eligible)


@pytest.mark.parametrize("clinical", ["clinical.xlsx", "clinical.tsv"])
@pytest.mark.parametrize("select_on", ["train", "all"])
def test_values_value_by_value(tmp_path: Path, clinical: str, select_on: str) -> None:
    if clinical.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
    made = write_tcga(tmp_path, clinical=clinical)
    cfg = config(tmp_path, files={"clinical": clinical}, select_on=select_on, log1p=["mirna"])
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    keys = sorted(f"{p}-01A" for p in made["labels"])
    assert json.loads((tmp_path / "out" / "samples.json").read_text())["ids"] == keys
    assert NORMAL not in keys and LONE not in keys and UNLABELLED not in keys
    assert data.label.classes == tuple(sorted(TYPES))  # LUAD is not present after the intersection
    assert [data.label.classes[c] for c in data.labels] == [made["labels"][k[:12]] for k in keys]
    rows = data.split == 0 if select_on == "train" else np.ones(len(keys), dtype=bool)
    truth = made["truth"]
    gene, gene_chosen, gene_eligible = expected_selection(truth["gene"], keys, rows, 10, no_zero=True, log=False)
    expected = {
        "gene": gene,
        "methylation": expected_selection(truth["methylation"], keys, rows, 12, no_zero=False, log=False)[0],
        "protein": np.stack([truth["protein"][k] for k in keys]),
        "mirna": np.log1p(np.stack([truth["mirna"][k] for k in keys])),
    }
    dataset = data.dataset(0.0, None)
    for i in range(len(keys)):
        for name, matrix in expected.items():
            np.testing.assert_allclose(dataset[i]["modalities"][name], matrix[i].astype(np.float32), rtol=1e-6)
    gene_columns = data.specs[0].columns
    assert gene_columns == tuple(f"G{j}|{100 + j}" if j < 29 else "?|100130426" for j in gene_chosen)
    # genes 4 and 6 have a NaN / a zero in one sample: excluded when that sample is in the rows the filter sees
    assert details_of(data)["eligible_features"]["gene"] == (28 if select_on == "train" else 27)
    assert data.split[keys.index(f"{PATIENTS[8]}-01A")] == 2  # so the train-only filter keeps gene 10
    for gene_index, patient in ((4, PATIENTS[5]), (6, PATIENTS[7]), (10, PATIENTS[8])):
        seen = bool(rows[keys.index(f"{patient}-01A")])
        assert seen == (select_on == "all" or data.split[keys.index(f"{patient}-01A")] == 0)
        if seen:
            assert f"G{gene_index}|{100 + gene_index}" not in gene_columns
    assert [s.width for s in data.specs] == [10, 12, 6, 5]
    assert data.specs[3].columns == ("hsa-miR-0", "hsa-miR-2", "hsa-miR-4", "hsa-miR-6", "hsa-miR-8")
    details = data.manifest["source_details"]
    assert details["tables"]["gene"]["duplicates_resolved"] == 1 and details["tables"]["gene"]["normal_dropped"] == 1
    assert details["unlabelled_dropped"] == 1 and details["eligible_features"]["gene"] == gene_eligible
    assert card_json(data)["label"]["kind"] == "classification"


def test_duplicate_policies_and_normal_tissue(tmp_path: Path) -> None:
    made = write_tcga(tmp_path)
    cfg = config(tmp_path, duplicates="first", tumour_only=False, n_genes=30)
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    ids = json.loads((tmp_path / "out" / "samples.json").read_text())["ids"]
    assert NORMAL in ids
    at = ids.index(DUPLICATED)
    np.testing.assert_allclose(data.dataset(0.0, None)[at]["modalities"]["protein"],
                               made["first"]["protein"].astype(np.float32), rtol=1e-6)
    gene_columns = data.specs[0].columns
    excluded = [j for j, p in ((4, 5), (6, 7), (10, 8)) if data.split[ids.index(f"{PATIENTS[p]}-01A")] == 0]
    assert gene_columns == tuple(f"G{j}|{100 + j}" for j in range(29) if j not in excluded) + ("?|100130426",)
    first_gene = np.delete(made["first"]["gene"], excluded)
    np.testing.assert_allclose(data.dataset(0.0, None)[at]["modalities"]["gene"],
                               first_gene.astype(np.float32), rtol=1e-6)
    with pytest.raises(UserError, match=r"geneExp.tsv: sample TCGA-02-0003-01A appears 2 times"):
        open_source(config(tmp_path, duplicates="error"))


def test_standardised_on_train_split_by_default(tmp_path: Path) -> None:
    write_tcga(tmp_path)
    cfg = TcgaData.model_validate({**config(tmp_path).model_dump(), "standardize": True})
    assert TcgaData(kind="tcga", name="x").standardize is True
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    train = data.dataset(0.0, "train")
    gene = np.stack([train[i]["modalities"]["gene"] for i in range(len(train))]).astype(np.float64)
    np.testing.assert_allclose(gene.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(gene.std(axis=0), 1.0, atol=1e-4)
    assert data.manifest["standardization"]["gene"]["fitted_on"] == "train"
