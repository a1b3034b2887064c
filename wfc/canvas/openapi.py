"""``python -m wfc.canvas.openapi``: print the canvas's OpenAPI document, deterministically (sorted
keys), from which the frontend generates its TypeScript types (``canvas/openapi.json``,
``npm run gen:types``). A test checks the committed copy is current."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the canvas app (built for a placeholder project: routes do not
    depend on it)."""
    from wfc.canvas.app import create_app
    from wfc.project import Project

    return create_app(Project(root=Path(".")), "-", []).openapi()


def openapi_text() -> str:
    """The document as the committed ``canvas/openapi.json`` holds it."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_text())
