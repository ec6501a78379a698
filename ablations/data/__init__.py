"""Corpora, tokenisers and batches: bytes on disk to (seed, step) → tokens."""
