"""The dataset card: a summary of a prepared dataset and its sparsity card at every level."""

from __future__ import annotations

from mca_platform.data.prepared import PreparedData
from mca_platform.data.splits import SPLIT_NAMES


def card_json(data: PreparedData) -> dict:
    """The card as JSON: fingerprint, n_samples, modalities, label, splits and `sparsity` per level."""
    manifest = data.manifest
    return {
        "name": manifest["name"],
        "kind": manifest["kind"],
        "fingerprint": data.fingerprint,
        "n_samples": data.n_samples,
        "modalities": {
            spec.name: {
                "kind": spec.kind,
                "width": spec.width,
                "rows": manifest["rows"][spec.name],
                "source_present_fraction": manifest["source_present_fraction"][spec.name],
                "nonfinite_replaced": manifest["nonfinite_replaced"][spec.name],
            }
            for spec in data.specs
        },
        "label": manifest["label"],
        "splits": manifest["split_counts"],
        "sparsity": manifest["sparsity"],
    }


def card_text(data: PreparedData) -> str:
    """The card as a readable text block."""
    card = card_json(data)
    names = list(card["modalities"])
    lines = [
        f"dataset     {card['name']} ({card['kind']}), {card['n_samples']} samples",
        f"fingerprint {card['fingerprint']}",
        "splits      " + ", ".join(f"{k} {card['splits'][k]}" for k in SPLIT_NAMES),
        f"label       {card['label']['name']} ({card['label']['kind']}"
        + (f", {len(card['label']['classes'])} classes)" if card["label"]["classes"] else ")"),
        "",
        f"{'modality':<14}{'kind':<10}{'width':>7}{'rows':>12}{'in source':>11}{'non-finite':>12}",
    ]
    for name, info in card["modalities"].items():
        lines.append(
            f"{name:<14}{info['kind']:<10}{info['width']:>7}{info['rows']:>12}"
            f"{info['source_present_fraction']:>11.3f}{info['nonfinite_replaced']:>12}"
        )
    width = len(names) + 1
    lines += ["", "sparsity card (drop rate per modality; samples by number of modalities present)"]
    header = f"{'level':<7}" + "".join(f"{n[:10]:>11}" for n in names) + "  " + " ".join(
        f"{k:>6}" for k in map(str, range(width))
    ) + f"{'none':>7}"
    lines.append(header)
    for level, level_card in card["sparsity"].items():
        drops = "".join(
            f"{level_card['drop_rate'][n]:>11.3f}" if level_card["drop_rate"][n] is not None else f"{'-':>11}"
            for n in names
        )
        counts = " ".join(f"{level_card['modalities_per_sample'][str(k)]:>6}" for k in range(width))
        lines.append(f"{level:<7}{drops}  {counts}{level_card['samples_with_none']:>7}")
    return "\n".join(lines)
