"""The project: where a wfc project lives on disk, its effective settings and its git state.

A :class:`Project` is passed explicitly to everything that touches disk, the store, the database
or the runtime; there is no global state. Settings follow one precedence everywhere (BRIEF §3):
command-line option > environment variable > ``wfc.toml`` > built-in default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wfc.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from wfc.store.local import ObjectStore

PROJECT_FILE = "wfc.toml"
STATE_DIR = ".wfc"

Source = Literal["option", "env", "wfc.toml", "default"]


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its ``wfc.toml`` key, its environment variable, default and meaning."""

    key: str
    env: str
    default: str
    description: str


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "store", "WFC_STORE", ".wfc/store", "content-addressed store: a directory, or s3://BUCKET/PREFIX"
    ),
    SettingSpec("store_cache", "WFC_STORE_CACHE", ".wfc/store", "the local cache of an s3:// store"),
    SettingSpec("database_url", "WFC_DATABASE_URL", "", "SQLAlchemy URL (default: SQLite .wfc/wfc.db)"),
    SettingSpec("base_image", "WFC_BASE_IMAGE", "wfc-base:bookworm", "base image for environment builds"),
    SettingSpec("ca_bundle", "WFC_CA_BUNDLE", "", "extra CA bundle (PEM) added to environment builds"),
    SettingSpec("runtime", "WFC_RUNTIME", "docker", "how methods run: docker, or process inside their image"),
    SettingSpec("store_link", "WFC_STORE_LINK", "auto", "how objects are staged: auto|reflink|hardlink|copy"),
    SettingSpec("container_user", "WFC_CONTAINER_USER", "1000:1000", "uid:gid that methods run as"),
    SettingSpec("methods_dir", "WFC_METHODS_DIR", "methods", "where module/method directories live"),
    SettingSpec("pushgateway", "WFC_PUSHGATEWAY", "", "Prometheus Pushgateway URL (empty: push no metrics)"),
)
_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Setting:
    """The effective value of one setting and where it came from."""

    spec: SettingSpec
    value: str
    source: Source


@dataclass(frozen=True)
class Project:
    """A wfc project rooted at ``root`` with its effective settings."""

    root: Path
    settings: dict[str, Setting] = field(default_factory=dict)

    @classmethod
    def load(
        cls, root: Path | str | None = None, overrides: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Project:
        """Find and load a project.

        Args:
            root: The project directory; else ``$WFC_PROJECT``; else the nearest parent of the
                current directory holding ``wfc.toml``.
            overrides: Command-line values by setting key (highest precedence).
            cwd: Where discovery starts and relative roots are based (default: the current directory).

        Raises:
            UsageError: No project is found, or ``wfc.toml`` is invalid.
        """
        found = _find_root(root, cwd or Path.cwd())
        file_values = _read_toml(found / PROJECT_FILE)
        settings: dict[str, Setting] = {}
        for spec in SETTINGS:
            if overrides and overrides.get(spec.key) is not None:
                settings[spec.key] = Setting(spec, overrides[spec.key], "option")
            elif os.environ.get(spec.env):
                settings[spec.key] = Setting(spec, os.environ[spec.env], "env")
            elif spec.key in file_values:
                settings[spec.key] = Setting(spec, str(file_values[spec.key]), "wfc.toml")
            else:
                settings[spec.key] = Setting(spec, spec.default, "default")
        return cls(root=found, settings=settings)

    def get(self, key: str) -> str:
        """Return the effective value of setting ``key``."""
        return self.settings[key].value if key in self.settings else _BY_KEY[key].default

    def path(self, value: str) -> Path:
        """Resolve a setting value that names a path, relative to the project root."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.root / p

    @property
    def state_dir(self) -> Path:
        """The git-ignored ``.wfc/`` directory."""
        return self.root / STATE_DIR

    @property
    def shared_store(self) -> str:
        """The ``s3://`` URL of a shared store, or empty when the store is a local directory."""
        store = self.get("store")
        return store if store.startswith("s3://") else ""

    @property
    def store_dir(self) -> Path:
        """The local object store directory (with a shared store, its local cache)."""
        return self.path(self.get("store_cache") if self.shared_store else self.get("store"))

    def object_store(self, link: str | None = None) -> ObjectStore:
        """The project's content-addressed store, staging objects by ``store_link`` (or ``link``),
        in front of the shared store when there is one."""
        from wfc.store.local import ObjectStore
        from wfc.store.remote import open_remote

        remote = open_remote(self.shared_store) if self.shared_store else None
        return ObjectStore(self.store_dir, link or self.get("store_link"), remote=remote)  # type: ignore[arg-type]

    @property
    def database_url(self) -> str:
        """The SQLAlchemy database URL."""
        return self.get("database_url") or f"sqlite:///{self.state_dir / 'wfc.db'}"

    @property
    def methods_dir(self) -> Path:
        """Where ``module/method`` directories live (an archived bundle's, under ``--bundle``)."""
        return self.path(self.get("methods_dir"))

    @property
    def environments_dir(self) -> Path:
        """Where environment directories live."""
        return self.root / "environments"

    def relative(self, path: Path) -> str:
        """Return ``path`` relative to the project root when inside it (for messages)."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def _find_root(root: Path | str | None, cwd: Path) -> Path:
    if root is None and os.environ.get("WFC_PROJECT"):
        root = os.environ["WFC_PROJECT"]
    if root is not None:
        path = (cwd / Path(root).expanduser()).resolve()
        if not (path / PROJECT_FILE).is_file():
            raise UsageError(
                f"not a wfc project: {path} has no {PROJECT_FILE}",
                f"create one with `wfc init {root}`, or pass the right --project",
            )
        return path
    here = cwd.resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise UsageError(
        f"not inside a wfc project: no {PROJECT_FILE} in {here} or its parents",
        "run `wfc init` to create a project here, or pass --project DIR",
    )


def _read_toml(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}", "fix the syntax of wfc.toml") from None
    for key, value in data.items():
        if key == "project":
            continue
        if key not in _BY_KEY:
            raise UsageError(
                f"{path}: unknown setting '{key}'{did_you_mean(key, set(_BY_KEY))}",
                "known settings: " + ", ".join(sorted(_BY_KEY)) + " (see `wfc config`)",
            )
        if not isinstance(value, str):
            raise UsageError(f"{path}: setting '{key}' must be a string", f'write it as {key} = "..."')
    return data


def git_commit(root: Path) -> str | None:
    """The commit checked out in the repository holding ``root``, read from ``.git`` (no subprocess)."""
    for directory in (root, *root.parents):
        git = directory / ".git"
        if git.is_dir():
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref: "):
                return head
            ref = head.removeprefix("ref: ")
            if (git / ref).is_file():
                return (git / ref).read_text().strip()
            packed = git / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
            return None
    return None
