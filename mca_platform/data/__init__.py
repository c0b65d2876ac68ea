"""Data: sources, modal sparsity, splits, the prepared on-disk format and the batch contract."""
