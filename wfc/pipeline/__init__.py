"""Orchestrating many steps: validate a pipeline document, plan its concrete steps, generate it for
an engine (Snakemake, Argo, DVC) and run it under Snakemake with a warm in-process worker.

Every step still runs through the one lifecycle in ``wfc.step``; this package decides which steps,
in what order, and records the pipeline run as a whole.
"""
