"""``wfc canvas``: a local web UI over :mod:`wfc.api` (BRIEF §20, ADR 0022). ``app`` builds the
FastAPI application, ``server`` runs it with uvicorn; the page is the Svelte bundle in ``static/``."""
