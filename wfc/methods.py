"""Loading a method: its ``method.yaml`` contract, its directory and its code-tree fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from wfc.cache.hashing import canonical_json, code_tree, code_tree_doc, hash_bytes
from wfc.errors import UsageError, did_you_mean
from wfc.model.base import first_error
from wfc.model.bounds import parse_yaml
from wfc.model.method import MethodSpec
from wfc.project import Project

METHOD_FILE = "method.yaml"


@dataclass(frozen=True)
class Method:
    """A method found on disk: ``module/name``, its directory, contract and fingerprints."""

    module: str
    name: str
    directory: Path
    spec: MethodSpec
    code_hash: str
    contract_hash: str
    documents: tuple[bytes, bytes]  # the code-tree listing and the contract, whose digests the hashes are

    @property
    def ref(self) -> str:
        """``module/name``."""
        return f"{self.module}/{self.name}"


def load_method(project: Project, ref: str) -> Method:
    """Load ``module/method`` from the project's ``methods/`` directory.

    Raises:
        UsageError: The method does not exist, or its ``method.yaml`` is invalid (one line naming
            the file, the key and the fix).
    """
    module, _, name = ref.partition("/")
    directory = project.methods_dir / module / name
    path = directory / METHOD_FILE
    if not path.is_file():
        known = known_methods(project)
        raise UsageError(
            f"unknown method '{ref}': {project.relative(path)} does not exist{did_you_mean(ref, known)}",
            'create it, or fix the node\'s "method" (known: ' + (", ".join(known) or "none") + ")",
        )
    spec = parse_method_file(path, project.relative(path))
    entry = directory / spec.entry
    if spec.command is None and not entry.is_file():
        raise UsageError(
            f"{project.relative(path)}: entry: file {spec.entry} does not exist in the method directory",
            "add the file, set entry: to the right file, or give an explicit command:",
        )
    code = code_tree_doc(code_tree(directory))
    contract = canonical_json(["wfc.contract", 1, spec.contract()])
    return Method(module, name, directory, spec, hash_bytes(code), hash_bytes(contract), (code, contract))


def parse_method_file(path: Path, shown: str) -> MethodSpec:
    """Parse and validate one ``method.yaml``.

    Raises:
        UsageError: Invalid YAML or an invalid contract.
    """
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), shown)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{shown}: invalid YAML{where}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown}: expected a mapping of contract fields", "see docs/methods.md")
    try:
        return MethodSpec.model_validate(data)
    except ValidationError as exc:
        raise UsageError(
            f"{shown}: {first_error(exc, MethodSpec)}", "see docs/methods.md for the method.yaml fields"
        ) from None


def known_methods(project: Project) -> list[str]:
    """Every ``module/method`` in the project."""
    root = project.methods_dir
    if not root.is_dir():
        return []
    return sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in root.glob(f"*/*/{METHOD_FILE}"))
