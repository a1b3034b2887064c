"""wfc: a content-addressed, containerised step runner for reproducible data pipelines.

The package reads in pipeline order: ``model`` (documents, no I/O) -> ``compile`` -> ``step``
(the run-step lifecycle) -> ``cache`` / ``store`` -> ``lineage`` -> ``runtime``, with ``cli`` on
top. ``wfc_client`` lives on the other side of the container boundary and never imports ``wfc``.
"""

__version__ = "0.1.0"
