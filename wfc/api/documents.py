"""How the API takes a pipeline document: a path, or an already-loaded ``dict`` written where
the project can name it (a run) or to a temporary file (a read)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wfc.project import Project

Document = str | os.PathLike[str] | Mapping[str, Any]


def options(project: Project) -> dict[str, str]:
    return {k: s.value for k, s in project.settings.items() if s.source == "option"}


def runnable(project: Project, document: Document) -> Path:
    """A document as a file the project can name: a path as given; a dict written once under
    ``.wfc/documents/`` by its content digest."""
    if not isinstance(document, Mapping):
        return Path(os.fspath(document))
    from wfc.atomic import write_text_atomic
    from wfc.cache.hashing import hash_bytes

    raw = json.dumps(document, indent=2, sort_keys=True).encode()
    path = project.state_dir / "documents" / f"{hash_bytes(raw).split(':')[1][:16]}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, raw.decode())
    return path


@contextmanager
def reading(document: Document) -> Iterator[Path]:
    """A document as a file for a read: a path as given; a dict in a temporary file outside the
    project (removed afterwards), so reads write nothing."""
    if not isinstance(document, Mapping):
        yield Path(os.fspath(document))
        return
    with tempfile.TemporaryDirectory(prefix="wfc-doc-") as tmp:
        path = Path(tmp) / "pipeline.json"
        path.write_text(json.dumps(document, indent=2))
        yield path


def shown(document: Document, path: Path) -> str:
    return f"<{document.get('name') or 'pipeline'}>" if isinstance(document, Mapping) else str(path)
