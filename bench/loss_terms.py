"""The contrastive loss batched (`contrastive_loss`: one logits tensor, one cross-entropy) against term by term
(`contrastive_loss_by_term`), alone and inside a training step of the demo's model (issue 15).

The demo's model (preset debug, D = 64, 4 table columns per token, cosine logits) on a TCGA-shaped batch of the
demo's widths (50 / 12 / 50 / 41 columns) at sparsity 0. The two losses alternate within one run, on one thread;
medians over the repeats. One JSON object: per arch the loss-only and step (forward, loss, backward) seconds of
each variant and their ratios.

    python bench/loss_terms.py [--arch mca mma eao] [--batch 32] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from model_step import tcga_batch

from mca_platform import archs
from mca_platform.config.model import ModelConfig
from mca_platform.data.spec import ModalitySpec
from mca_platform.losses import contrastive_loss, contrastive_loss_by_term
from mca_platform.model import MultimodalTransformer

DEMO_WIDTHS = [("gene", 50), ("protein", 12), ("methylation", 50), ("mirna", 41)]
VARIANTS = {"batched": contrastive_loss, "by_term": contrastive_loss_by_term}


def measure(arch: str, batch_size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    specs = [ModalitySpec(name, "table", width) for name, width in DEMO_WIDTHS]
    config = ModelConfig(preset="debug", arch=arch, dim=64, columns_per_token=4, loss={"logits": "cosine"})
    model = MultimodalTransformer(config, specs)
    pairs = model.loss_terms(config.loss.terms)
    batch = tcga_batch(specs, batch_size, 0.0, seed=0)
    seconds: dict[str, dict[str, list[float]]] = {v: {"loss": [], "step": []} for v in VARIANTS}
    for _ in range(repeats):
        for name, loss_fn in VARIANTS.items():
            started = time.perf_counter()
            model.zero_grad(set_to_none=True)
            out = model(batch.inputs, batch.token_present, batch.modality_present)
            loss_started = time.perf_counter()
            total, _, _ = loss_fn(out.embeddings, out.present, out.logit_scale, pairs, config.loss)
            seconds[name]["loss"].append(time.perf_counter() - loss_started)
            total.backward()
            seconds[name]["step"].append(time.perf_counter() - started)
    medians = {v: {part: statistics.median(values) for part, values in parts.items()} for v, parts in seconds.items()}
    return {
        "terms": len(pairs),
        "seconds": medians,
        "loss_ratio_batched_over_by_term": medians["batched"]["loss"] / medians["by_term"]["loss"],
        "step_ratio_batched_over_by_term": medians["batched"]["step"] / medians["by_term"]["step"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["mca", "mma", "eao"], choices=archs.names())
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps({arch: measure(arch, args.batch, args.repeats) for arch in args.arch}, indent=1))


if __name__ == "__main__":
    main()
