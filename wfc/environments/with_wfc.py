"""``wfc env build NAME --with-wfc``: the environment's image plus wfc itself, for engines that run
``wfc run-step --runtime process`` inside the method's image (Argo, containerised DVC).

A layer on top of the built environment image: Python 3 and venv when missing (Debian's apt), a
virtual environment at ``/opt/wfc`` with the step runtime's dependencies pinned to the versions
installed here, this wfc's ``wfc`` and ``wfc_client`` packages copied in, and ``wfc`` on PATH. The
environment's own image ID stays the cache-key identity, so steps run by Argo, DVC or
``run-pipeline`` share one cache.
"""

from __future__ import annotations

import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import wfc
import wfc_client

# What `wfc run-step` (and the read-side commands) import; Snakemake and the Docker SDK stay out.
RUNTIME_DEPS = (
    "pydantic",
    "pydantic-core",
    "sqlalchemy",
    "blake3",
    "PyYAML",
    "typer",
    "psycopg",
    "psycopg-binary",
    "boto3",  # the shared store (s3://); its botocore and s3transfer are pinned with it
    "botocore",
    "s3transfer",
)
DOCKERFILE = """\
FROM {base}
USER root
RUN set -e; \\
    if ! python3 -c "import ensurepip" 2>/dev/null; then \\
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \\
      && rm -rf /var/lib/apt/lists/*; \\
    fi; \\
    python3 -m venv /opt/wfc
COPY requirements.txt /opt/wfc/requirements.txt
RUN /opt/wfc/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/wfc/requirements.txt
COPY packages/ /opt/wfc/packages/
RUN set -e; site=$(/opt/wfc/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \\
    cp -r /opt/wfc/packages/wfc /opt/wfc/packages/wfc_client "$site"/; \\
    printf '#!/opt/wfc/bin/python\\nfrom wfc.cli.entry import main\\nmain()\\n' > /usr/local/bin/wfc; \\
    chmod 755 /usr/local/bin/wfc; wfc run-step --help > /dev/null
USER {user}
"""


def requirements() -> str:
    """The runtime dependencies pinned to the versions installed with this wfc."""
    lines = []
    for name in RUNTIME_DEPS:
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue  # optional here (e.g. psycopg without PostgreSQL): left out
    return "\n".join(lines) + "\n"


def prepare_context(context: Path, base_image_id: str, user: str) -> None:
    """Write the build context of the wfc layer."""
    packages = context / "packages"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(Path(wfc.__file__).parent, packages / "wfc", ignore=ignore)
    shutil.copytree(Path(wfc_client.__file__).parent, packages / "wfc_client", ignore=ignore)
    (context / "requirements.txt").write_text(requirements())
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base_image_id, user=user))
