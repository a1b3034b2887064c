"""Sample sheets: a CSV or TSV file with one sample per row (``wfc sample import``).

A header row is required. It names the columns ``name`` (or ``sample``, as in nf-core sheets)
and ``path``; every other column is metadata, kept as strings. The delimiter follows the
extension (``.csv``: comma, ``.tsv``: tab) or, for any other name, is sniffed from the header
(comma, tab or semicolon). A relative path is relative to the sheet's folder. Blank lines are
skipped; a UTF-8 byte-order mark (Excel) is ignored.

Every row is checked before anything is registered; the first problem is an error that names the
sheet and its line: an empty or bad name, a missing file, a name used twice, a row whose number
of columns differs from the header's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from wfc.errors import UsageError
from wfc.samples.paths import NAME_RULE, is_name

NAME_COLUMNS = ("name", "sample")
PATH_COLUMN = "path"
_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


@dataclass(frozen=True)
class SheetRow:
    """One sample of a sheet: its line, name, path (resolved against the sheet) and metadata."""

    line: int
    name: str
    path: Path
    metadata: dict[str, str]


def read_sheet(sheet: Path) -> list[SheetRow]:
    """Every row of a sample sheet, checked.

    Raises:
        UsageError: The sheet is missing or unreadable, has no usable header or no rows, or a row
            is bad (the message names the line).
    """
    try:
        text = sheet.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"sample sheet not found: {sheet}", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read sample sheet {sheet}: {exc}", "save it as UTF-8 text (CSV or TSV)"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(sheet, text))
    header = next((row for row in reader if row), None)
    if header is None:
        raise UsageError(f"{sheet} is empty", "its first line names the columns: name,path[,metadata...]")
    columns = [c.strip() for c in header]
    name_col, path_col = _key_columns(sheet, reader.line_num, columns)
    rows: list[SheetRow] = []
    first: dict[str, int] = {}
    base = sheet.parent
    line = reader.line_num + 1
    for values in reader:
        if not values or not any(v.strip() for v in values):
            line = reader.line_num + 1
            continue
        where = f"{sheet}:{line}"
        if len(values) != len(columns):
            raise UsageError(
                f"{where}: {len(values)} columns where the header has {len(columns)}",
                f"give every row the header's columns ({', '.join(columns)}); "
                "quote a value that holds the delimiter",
            )
        cells = {c: v.strip() for c, v in zip(columns, values, strict=True)}
        name, given = cells.pop(name_col), cells.pop(path_col)
        _check_row(where, name, given, name_col, first)
        path = base / given
        if not path.exists():
            raise UsageError(
                f"{where}: sample path not found: {given}",
                f"fix the path on that line; a relative path starts from the sheet's folder ({base})",
            )
        first[name] = line
        rows.append(SheetRow(line, name, path, cells))
        line = reader.line_num + 1
    if not rows:
        raise UsageError(f"{sheet} lists no samples", "add a row per sample under the header")
    return rows


def _delimiter(sheet: Path, text: str) -> str:
    if sheet.suffix.lower() in _DELIMITERS:
        return _DELIMITERS[sheet.suffix.lower()]
    head = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(head, delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def _key_columns(sheet: Path, line: int, columns: list[str]) -> tuple[str, str]:
    """The name and path columns of a header."""
    where = f"{sheet}:{line}"
    if "" in columns:
        raise UsageError(
            f"{where}: column {columns.index('') + 1} of the header has no name",
            "name the column, or remove it from every row",
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise UsageError(
            f"{where}: column '{repeated[0]}' appears twice in the header", "give each column its own name"
        )
    names = [c for c in NAME_COLUMNS if c in columns]
    if len(names) > 1:
        raise UsageError(
            f"{where}: the header has both 'name' and 'sample' columns",
            "keep one of them for the sample names, or rename the other",
        )
    missing = [c for c in (*(names or ["name"]), PATH_COLUMN) if c not in columns]
    if missing:
        raise UsageError(
            f"{where}: the header lacks a '{missing[0]}' column (it has: {', '.join(columns)})",
            "the header needs name (or sample) and path; other columns become metadata",
        )
    return names[0], PATH_COLUMN


def _check_row(where: str, name: str, given: str, name_col: str, first: dict[str, int]) -> None:
    if not name:
        raise UsageError(f"{where}: the {name_col} is empty", "give every row a sample name")
    if not is_name(name):
        raise UsageError(f"{where}: bad sample name '{name}': {NAME_RULE}", "fix the name on that line")
    if name in first:
        raise UsageError(
            f"{where}: sample '{name}' is already on line {first[name]}",
            "give each row its own name (one row per sample)",
        )
    if not given:
        raise UsageError(f"{where}: the path is empty", "give every row the file or directory of its sample")
