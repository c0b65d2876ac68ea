"""Evaluation of a finished sweep: epoch selection, embeddings of the selected checkpoints, test metrics."""
