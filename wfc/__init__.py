"""wfc: a content-addressed, containerised step runner for reproducible data pipelines.

The package reads in pipeline order: ``model`` (documents, no I/O) -> ``compile`` -> ``cache`` /
``store`` -> ``lineage`` -> ``runtime`` -> ``project`` -> ``step`` (the lifecycle of one step) ->
``pipeline`` (many steps) and ``ops`` (the read side) -> ``api`` (the public Python API) -> ``cli``.
``wfc_client`` lives on the other side of the container boundary and never imports ``wfc``.
"""

__version__ = "0.1.0"
