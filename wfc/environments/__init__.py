"""Environments (BRIEF §5): building ``environments/<name>/Dockerfile`` into an image whose ID digest
is the environment's identity, recorded in ``env.lock.json`` (``build``), optionally with wfc
itself inside for Argo and DVC tasks (``with_wfc``)."""
