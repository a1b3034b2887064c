"""Compile time, pure: expanding a pipeline document into concrete steps, checking its links and
slots, merging values files, and rendering it for Snakemake, Argo and DVC."""
