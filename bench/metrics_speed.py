"""Time retrieval ranks (chunked matrix products) against a per-query loop reference (issue 7, "Speed").

Random float32 embeddings, Q queries x G gallery items at dimension D, each query with a random true match.
`fast` is `mca_platform.metrics.retrieval.retrieval_ranks` on all Q queries. `loop` is the obvious reference
on the first `--reference-queries` queries, one query at a time: cosine similarities to the (pre-normalised)
gallery by a numpy matrix-vector product, a descending sort, and the first position of the true match's
score; its time is scaled by Q / reference queries. The two rank lists are compared on that subset.
`naive` (reported separately, on `--naive-queries` queries) is the test suite's reference: a Python loop over
the gallery items for each query's similarities, then the same sort.

    python bench/metrics_speed.py                 # a table
    python bench/metrics_speed.py --json          # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from mca_platform.metrics.retrieval import retrieval_ranks


def loop_ranks(queries: np.ndarray, gallery: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Per query: similarities, sort descending, first position holding the true match's score."""
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    ranks = np.empty(len(queries), dtype=np.int64)
    for i, (query, true) in enumerate(zip(queries, match, strict=True)):
        scores = gallery @ (query / np.linalg.norm(query))
        ordered = np.sort(scores)[::-1]
        ranks[i] = np.flatnonzero(ordered == scores[true])[0]
    return ranks


def naive_ranks(queries: np.ndarray, gallery: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Per query and per gallery item: cosine similarity in Python, then sort as in `loop_ranks`."""
    ranks = np.empty(len(queries), dtype=np.int64)
    for i, (query, true) in enumerate(zip(queries, match, strict=True)):
        scores = np.array([item @ query / (np.linalg.norm(item) * np.linalg.norm(query)) for item in gallery])
        ranks[i] = np.flatnonzero(np.sort(scores)[::-1] == scores[true])[0]
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--gallery", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--reference-queries", type=int, default=200)
    parser.add_argument("--naive-queries", type=int, default=3, help="0 skips the naive reference")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(args.seed)
    queries = torch.randn(args.queries, args.dim, generator=generator)
    gallery = torch.randn(args.gallery, args.dim, generator=generator)
    match = torch.randint(0, args.gallery, (args.queries,), generator=generator).numpy()
    retrieval_ranks(queries[:64], gallery[:256], match[:64] % 256)  # warm-up

    start = time.perf_counter()
    fast = retrieval_ranks(queries, gallery, match, chunk_size=args.chunk_size)
    fast_s = time.perf_counter() - start

    subset = slice(0, args.reference_queries)
    start = time.perf_counter()
    reference = loop_ranks(queries[subset].numpy(), gallery.numpy(), match[subset])
    loop_subset_s = time.perf_counter() - start
    loop_s = loop_subset_s * args.queries / args.reference_queries

    naive_s = None
    if args.naive_queries:
        start = time.perf_counter()
        naive = naive_ranks(queries[: args.naive_queries].numpy(), gallery.numpy(), match[: args.naive_queries])
        naive_s = (time.perf_counter() - start) * args.queries / args.naive_queries
        assert np.array_equal(naive, fast[: args.naive_queries]), "naive reference disagrees"

    result = {
        "queries": args.queries,
        "gallery": args.gallery,
        "dim": args.dim,
        "chunk_size": args.chunk_size,
        "fast_s": round(fast_s, 3),
        "loop_reference_queries": args.reference_queries,
        "loop_subset_s": round(loop_subset_s, 3),
        "loop_scaled_s": round(loop_s, 1),
        "speedup": round(loop_s / fast_s, 1),
        "ranks_agree": float(np.mean(fast[subset] == reference)),
        "naive_reference_queries": args.naive_queries,
        "naive_scaled_s": None if naive_s is None else round(naive_s, 1),
        "naive_speedup": None if naive_s is None else round(naive_s / fast_s, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"retrieval ranks: {args.queries} queries x {args.gallery} gallery, D = {args.dim}")
    print(f"  fast (chunked matmul) : {fast_s:8.2f} s")
    print(f"  loop (scaled from {args.reference_queries}) : {loop_s:8.1f} s  ({loop_subset_s:.2f} s measured)")
    print(f"  speed-up              : {loop_s / fast_s:8.1f} x   ranks agree on subset: {result['ranks_agree']:.4f}")
    if naive_s is not None:
        print(f"  naive (scaled from {args.naive_queries}) : {naive_s:8.1f} s  speed-up {naive_s / fast_s:.1f} x")
    print(f"  threads {result['torch_threads']}, cpus {result['cpu_count']}, load {result['load_average_1min']}")


if __name__ == "__main__":
    main()
