"""Samples: registering files and directories as versioned, content-addressed inputs.

``paths`` reads what ``wfc sample add`` is given (names, globs), ``sheet`` reads sample sheets,
``register`` stores and records them, and ``lock`` keeps ``samples.lock.json``, the committed list
that a fresh checkout restores from and that an input node's ``select`` chooses from.
"""

from wfc.samples.lock import (
    LOCK_FILE,
    catalog_for,
    restore_from_lock,
    sample_catalog,
    sample_from_lock,
)
from wfc.samples.register import (
    Registered,
    add_arguments,
    add_paths,
    add_sample,
    import_sheet,
    list_samples,
)

__all__ = [
    "LOCK_FILE",
    "Registered",
    "add_arguments",
    "add_paths",
    "add_sample",
    "catalog_for",
    "import_sheet",
    "list_samples",
    "restore_from_lock",
    "sample_catalog",
    "sample_from_lock",
]
