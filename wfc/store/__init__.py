"""The content-addressed object store (BRIEF §8)."""
