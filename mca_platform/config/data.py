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
        return distinct_levels(levels)


def distinct_levels(levels: list[float] | None) -> list[float] | None:
    """Refuse repeated levels, and levels so close that they share one mask file (their level_key)."""
    if levels is None:
        return levels
    if len(set(levels)) != len(levels):
        raise ValueError(f"sparsity levels must be distinct (got {levels})")
    seen: dict[str, float] = {}
    for level in levels:
        key = level_key(level)
        if key in seen:
            raise ValueError(f"sparsity levels {seen[key]} and {level} are too close: they would share one mask "
                             f"(p{key}); make them differ within 6 significant digits (got {levels})")
        seen[key] = level
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


ModalityName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
FileName = Annotated[str, Field(min_length=1)]
RowLimit = Annotated[int, Field(ge=1)]

MOSEI_FILES = {
    "covarep": "COVAREP.csd",
    "facet": "FACET 4.2.csd",
    "openface": "OpenFace_2.csd",
    "glove": "glove_vectors.csd",
}
MOSEI_MAX_ROWS = {"covarep": 1500, "facet": 450, "openface": 450, "glove": 50}
MOSEI_LABEL_COLUMNS = ("sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear")


class FoldLists(Strict):
    """Video ids per split (the SDK's standard_train_fold / standard_valid_fold / standard_test_fold)."""

    train: list[str]
    validation: list[str]
    test: list[str]

    @field_validator("train", "validation", "test", mode="before")
    @classmethod
    def _quoted_ids(cls, ids):
        for value in ids if isinstance(ids, list) else []:
            if not isinstance(value, str):
                raise ValueError(f"video ids are strings; quote {value!r} as '{value}' (YAML read it as a "
                                 f"number, which may have changed it) (got {value!r})")
        return ids


class CsdData(DataBase):
    """CMU-MOSEI computational sequences (.csd = HDF5), one file per modality (data.md section 1).

    File names are relative to `root`. `max_rows` keeps the first rows of each sample; left out, it
    is the paper's 1500/450/450/50 for modalities named covarep/facet/openface/glove (no limit for
    others); `{}` means no limit at all.
    """

    kind: Literal["csd"]
    root: str = "."
    files: dict[ModalityName, FileName] = Field(default_factory=lambda: dict(MOSEI_FILES), min_length=1)
    labels: FileName = "All Labels.csd"
    label_column: str | int = Field("sentiment", description="a name in MOSEI_LABEL_COLUMNS or a column index")
    max_rows: dict[ModalityName, RowLimit] | None = None
    folds: FoldLists | FileName | None = Field(
        None, description="standard folds: video-id lists, or a JSON/YAML file with train/validation/test"
    )
    unfolded: Literal["error", "drop"] = Field("error", description="samples whose video is in no fold")
    chunk_size: int = Field(256, ge=1)

    @field_validator("label_column")
    @classmethod
    def _known_column(cls, column: str | int) -> str | int:
        if isinstance(column, int) and column < 0:
            raise ValueError("a label column index must be 0 or more")
        if isinstance(column, str) and column not in MOSEI_LABEL_COLUMNS:
            raise ValueError(f"unknown label column (expected an index or one of: {', '.join(MOSEI_LABEL_COLUMNS)})")
        return column

    def label_index(self) -> int:
        """The label file's column holding the target."""
        column = self.label_column
        return column if isinstance(column, int) else MOSEI_LABEL_COLUMNS.index(column)

    @model_validator(mode="after")
    def _consistent(self) -> CsdData:
        unknown = sorted(set(self.max_rows or {}) - set(self.files))
        if unknown:
            raise ValueError(f"max_rows names {unknown[0]!r}, which is not in files ({', '.join(self.files)})")
        if self.split.mode == "standard_folds" and self.folds is None:
            raise ValueError("split.mode standard_folds needs data.folds (video-id lists or a file)")
        return self

    def row_limits(self) -> dict[str, int]:
        """The per-modality row limit in force (absent = no limit)."""
        if self.max_rows is None:
            return {name: MOSEI_MAX_ROWS[name] for name in self.files if name in MOSEI_MAX_ROWS}
        return dict(self.max_rows)


class TcgaFiles(Strict):
    """The PanCanAtlas file names (data.md section 2), relative to `data.root`."""

    gene: FileName = "EBPlusPlusAdjustPANCAN_IlluminaHiSeq_RNASeqV2.geneExp.tsv"
    methylation: FileName = "jhu-usc.edu_PANCAN_merged_HumanMethylation27_HumanMethylation450.betaValue_whitelisted.tsv"
    protein: FileName = "TCGA-RPPA-pancan-clean.txt"
    mirna: FileName = "pancanMiRs_EBadjOnProtocolPlatformWithoutRepsWithUnCorrectMiRs_08_04_16.csv"
    clinical: FileName = Field(
        "TCGA-CDR-SupplementalTableS1.xlsx", description=".xlsx (first sheet), .tsv/.txt or .csv"
    )


class TcgaData(DataBase):
    """TCGA PanCanAtlas: expression, methylation, RPPA and miRNA tables, tumour type as the class."""

    kind: Literal["tcga"]
    root: str = "."
    files: TcgaFiles = TcgaFiles()
    n_genes: int = Field(800, ge=1, description="top-variance genes among those with no NaN and no zero")
    n_probes: int = Field(800, ge=1, description="top-variance methylation probes among those with no NaN")
    select_on: Literal["train", "all"] = Field("train", description="samples whose variance ranks features")
    log1p: list[Literal["gene", "mirna"]] = Field(default_factory=list, description="log1p(max(x, 0)) at load")
    duplicates: Literal["last", "first", "error"] = Field("last", description="several barcodes, one sample")
    tumour_only: bool = Field(True, description="keep sample types 01-09 (drop normal 10-19, control 20-29)")
    rows_per_block: int = Field(1000, ge=1, description="feature rows parsed at once (bounds memory)")
    standardize: bool = True


class TablesData(DataBase):
    """Bring-your-own tables: one CSV/TSV/Parquet table per modality keyed by `id_column`, and labels.

    `modalities` maps a name to a file in `root`; left empty, every .csv/.tsv/.parquet file in `root`
    other than the labels table is a modality named after its file stem.
    """

    kind: Literal["tables"]
    root: str
    modalities: dict[ModalityName, FileName] = Field(default_factory=dict)
    labels: FileName = "labels.csv"
    id_column: str = Field("sample_id", min_length=1)
    target: str = Field(min_length=1)
    task: Literal["classification", "regression"]
    group_column: str | None = None
    fold_column: str | None = Field(None, description="labels column holding train / validation / test")

    @model_validator(mode="after")
    def _split_columns(self) -> TablesData:
        if self.split.mode == "by_group" and self.group_column is None:
            raise ValueError("split.mode by_group needs data.group_column (a column of the labels table)")
        if self.split.mode == "standard_folds" and self.fold_column is None:
            raise ValueError("split.mode standard_folds needs data.fold_column (a column of the labels table)")
        return self


DataConfig = Annotated[
    SyntheticTCGAData | SyntheticMOSEIData | CsdData | TcgaData | TablesData,
    Field(discriminator="kind"),
]


def level_key(level: float) -> str:
    """The sparsity level as a short stable string ("0", "0.2"): the key of per-level files and cards."""
    return format(level, "g")
