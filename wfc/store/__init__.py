"""The content-addressed object store (BRIEF §8) and archiving outputs into it."""
