"""The sweep: a grid of (dataset, sparsity, architecture, seed) cells, a search inside each, on Ray Tune."""
