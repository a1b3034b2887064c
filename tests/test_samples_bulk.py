"""Many samples (issue 11, part E): ``wfc sample add PATH...`` and globs, ``wfc sample import
SHEET`` with metadata, input nodes that ``select`` on metadata, and schema v3.

Every mistake is one error line with a hint, exit 2, and registers nothing: the database rows and
``samples.lock.json`` are exactly as before. The one pipeline that runs uses the process runtime
(``fake_env`` has an environment lock but no image), so no container starts.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, probe_pipeline, wfc_json
from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.lineage.db import open_database
from wfc.lineage.records import SampleRecord
from wfc.lineage.sqla import SqlAlchemyLineage
from wfc.lineage.sqlite import SqliteLineage
from wfc.samples.paths import name_of


def _files(proj: Proj, *names: str) -> None:
    for name in names:
        path = proj.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")


def _state(proj: Proj) -> tuple[list[tuple[Any, ...]], bytes | None]:
    """The sample rows and the lock's bytes: what a refused command must leave as they were."""
    db = proj.root / ".wfc" / "wfc.db"
    rows = proj.rows("SELECT * FROM samples ORDER BY id") if db.exists() else []
    lock = proj.root / "samples.lock.json"
    return rows, lock.read_bytes() if lock.exists() else None


def _lock(proj: Proj) -> dict[str, dict[str, Any]]:
    entries = json.loads((proj.root / "samples.lock.json").read_text())["samples"]
    return {f"{e['name']}@{e['version']}": e for e in entries}


def _err(proc: Any) -> tuple[int, list[str]]:
    return proc.returncode, proc.stderr.splitlines()


# -- wfc sample add --------------------------------------------------------------------------


def test_paths_and_a_quoted_glob_register_one_sample_per_file(project: Proj) -> None:
    _files(project, "data/b.csv", "data/a.csv", "data/notes.txt", "reads/r1.fastq.gz", "runs/x/one.txt")
    proc = project.wfc("sample", "add", "data/*.csv", "reads/r1.fastq.gz", "runs/x", "data/a.csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines[:-1]] == [
        "added sample a@1",  # the glob's matches, sorted
        "added sample b@1",
        "added sample r1@1",  # .fastq.gz: the compression suffix and the extension go
        "added sample x@1",  # a directory: its name
    ]  # data/a.csv, given again after the glob, counts once
    assert lines[-1] == "4 samples: 4 added, 0 unchanged"
    assert _lock(project)["x@1"]["kind"] == "dir" and _lock(project)["r1@1"]["source"] == "reads/r1.fastq.gz"

    again = wfc_json(project, "sample", "add", "data/*.csv")
    assert again["schema"] == "wfc.sample-add-paths/1"
    assert [(s["name"], s["version"], s["change"]) for s in again["samples"]] == [
        ("a", 1, "unchanged"),
        ("b", 1, "unchanged"),
    ]
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert set(again["samples"][0]) == {
        "name",
        "version",
        "hash",
        "kind",
        "size",
        "source",
        "metadata",
        "change",
    }
    text = project.wfc("sample", "add", "data/a.csv", "data/b.csv").stderr.splitlines()
    assert text == [
        "sample a@1 already has this content: nothing changed",
        "sample b@1 already has this content: nothing changed",
        "2 samples: 0 added, 2 unchanged",
    ]


def test_name_path_form_is_unchanged(project: Proj) -> None:
    _files(project, "data/p01.csv")
    first = wfc_json(project, "sample", "add", "patient_01", "data/p01.csv")
    assert first["schema"] == "wfc.sample-add/1" and first["created"] is True
    assert set(first) == {"schema", "name", "version", "hash", "size", "kind", "created"}
    assert (first["name"], first["version"]) == ("patient_01", 1)
    again = project.wfc("sample", "add", "patient_01", "data/p01.csv")
    assert _err(again) == (0, ["sample patient_01@1 already has this content: nothing changed"])
    # the first of two arguments exists: both are paths
    _files(project, "data/p02.csv")
    both = project.wfc("sample", "add", "data/p01.csv", "data/p02.csv", check=True).stderr.splitlines()
    assert [line.split(" (")[0] for line in both] == ["added sample p01@1", "added sample p02@1", both[-1]]


def test_help_states_the_rule(project: Proj) -> None:
    text = " ".join(project.wfc("sample", "add", "--help", check=True).stdout.split())
    assert "Two arguments whose first is neither an existing path nor a glob are NAME PATH" in text
    assert "otherwise every argument is a path or a glob" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["data/*.tsv"],
            [
                "error: no file matches data/*.tsv",
                "hint: check the pattern; wfc expands it from the current directory (quote it: 'data/*.csv')",
            ],
        ),
        (
            ["data/a.csv", "data/nope.csv", "data/b.csv"],
            ["error: sample path not found: data/nope.csv", "hint: check the path"],
        ),
        (
            ["data/a.csv", "data/.hidden.csv"],
            [
                "error: bad sample name '.hidden' (from data/.hidden.csv): no '/', '@' or control "
                "characters, no leading '-', '.' or space, at most 100 bytes",
                "hint: rename the file, or give it a name: wfc sample add NAME data/.hidden.csv",
            ],
        ),
        (
            ["data/*.csv", "other/a.txt"],
            [
                "error: two paths give the sample name 'a': data/a.csv and other/a.txt",
                "hint: register one of them under another name: wfc sample add NAME other/a.txt",
            ],
        ),
        (
            ["bad/name", "x.csv"],  # legacy form, as before
            [
                "error: bad sample name 'bad/name': no '/', '@' or control characters, "
                "no leading '-', '.' or space, at most 100 bytes",
                "hint: for example: wfc sample add patient_01 data/p01.csv",
            ],
        ),
        (["ok", "nope.csv"], ["error: sample path not found: nope.csv", "hint: check the path"]),
    ],
    ids=[
        "glob-matches-nothing",
        "missing-path",
        "bad-derived-name",
        "same-name-twice",
        "legacy-name",
        "legacy-path",
    ],
)
def test_add_mistakes_register_nothing(project: Proj, args: list[str], expected: list[str]) -> None:
    _files(project, "data/a.csv", "data/b.csv", "data/.hidden.csv", "other/a.txt", "keep.csv")
    project.wfc("sample", "add", "keep", "keep.csv", check=True)
    before = _state(project)
    assert _err(project.wfc("sample", "add", *args)) == (2, expected)
    assert _state(project) == before
    assert [s["name"] for s in wfc_json(project, "sample", "list")["samples"]] == ["keep"]


def test_name_of() -> None:
    assert name_of(Path("x/reads.fastq.gz")) == "reads"
    assert name_of(Path("x/table.v2.csv")) == "table.v2"
    assert name_of(Path("x/README")) == "README"


# -- wfc sample import -----------------------------------------------------------------------


def test_import_csv_and_tsv_keep_metadata_and_resolve_paths_from_the_sheet(project: Proj) -> None:
    _files(project, "sheets/data/a.csv", "sheets/data/b.csv", "c.txt")
    (project.root / "sheets" / "nfcore.csv").write_text(
        "sample,path,condition,batch\n"
        "a,data/a.csv,treated,1\n"
        "\n"  # blank lines are skipped
        'b,data/b.csv,"control, pooled",2\n'
    )
    proc = project.wfc("sample", "import", "sheets/nfcore.csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "imported 2 samples from sheets/nfcore.csv: 2 added, 0 unchanged"
    (project.root / "plain.tsv").write_text("name\tpath\tcondition\nc\tc.txt\ttreated\n")
    doc = wfc_json(project, "sample", "import", "plain.tsv")
    assert doc["schema"] == "wfc.sample-import/1" and doc["sheet"] == "plain.tsv"
    assert [(s["name"], s["change"], s["metadata"]) for s in doc["samples"]] == [
        ("c", "added", {"condition": "treated"})
    ]
    listed = {s["name"]: s for s in wfc_json(project, "sample", "list")["samples"]}
    assert listed["a"]["metadata"] == {"batch": "1", "condition": "treated"}
    assert listed["b"]["metadata"] == {"batch": "2", "condition": "control, pooled"}
    assert listed["a"]["source"] == "sheets/data/a.csv"
    lock = _lock(project)
    assert lock["b@1"]["metadata"] == {"batch": "2", "condition": "control, pooled"}
    text = project.wfc("sample", "list", check=True).stdout.splitlines()
    assert text[0].split() == ["sample", "version", "kind", "bytes", "hash", "source", "metadata"]
    assert text[1].split()[-1] == "batch=1,condition=treated"


def test_reimport_updates_metadata_and_new_content_adds_a_version(project: Proj) -> None:
    _files(project, "a.csv", "b.csv")
    sheet = project.root / "s.csv"
    sheet.write_text("name,path,group\na,a.csv,x\nb,b.csv,y\n")
    project.wfc("sample", "import", "s.csv", check=True)
    same = project.wfc("sample", "import", "s.csv", check=True)
    assert same.stderr.splitlines() == ["imported 2 samples from s.csv: 0 added, 2 unchanged"]

    sheet.write_text("name,path,group\na,a.csv,z\nb,b.csv,y\n")
    relabelled = project.wfc("sample", "import", "s.csv", check=True).stderr.splitlines()
    assert relabelled == [
        "sample a@1: metadata updated (group=z)",
        "imported 2 samples from s.csv: 0 added, 1 updated, 1 unchanged",
    ]
    assert _lock(project)["a@1"]["metadata"] == {"group": "z"} and "a@2" not in _lock(project)

    (project.root / "a.csv").write_text("new content\n")
    project.wfc("sample", "import", "s.csv", check=True)
    assert _lock(project)["a@2"]["metadata"] == {"group": "z"}
    (project.root / "b.csv").write_text("new content of b\n")
    project.wfc("sample", "add", "b.csv", check=True)  # add keeps the metadata of the version before
    assert _lock(project)["b@2"]["metadata"] == {"group": "y"}
    assert project.rows("SELECT name, version, metadata FROM samples ORDER BY name, version") == [
        ("a", 1, '{"group": "z"}'),
        ("a", 2, '{"group": "z"}'),
        ("b", 1, '{"group": "y"}'),
        ("b", 2, '{"group": "y"}'),
    ]


BAD_SHEETS = {
    "wrong-column-count": (
        "name,path,group\na,a.csv,x\nb,b.csv\n",
        [
            "error: s.csv:3: 2 columns where the header has 3",
            "hint: give every row the header's columns (name, path, group); "
            "quote a value that holds the delimiter",
        ],
    ),
    "missing-name": (
        "name,path\na,a.csv\n,b.csv\n",
        ["error: s.csv:3: the name is empty", "hint: give every row a sample name"],
    ),
    "missing-path": (
        "sample,path\na,a.csv\nb,\n",
        ["error: s.csv:3: the path is empty", "hint: give every row the file or directory of its sample"],
    ),
    "bad-name": (
        "name,path\na,a.csv\nb@2,b.csv\n",
        [
            "error: s.csv:3: bad sample name 'b@2': no '/', '@' or control characters, "
            "no leading '-', '.' or space, at most 100 bytes",
            "hint: fix the name on that line",
        ],
    ),
    "missing-file": (
        "name,path\na,a.csv\n\nb,nope.csv\n",
        [
            "error: s.csv:4: sample path not found: nope.csv",
            "hint: fix the path on that line; a relative path starts from the sheet's folder (.)",
        ],
    ),
    "duplicate-name": (
        "name,path\na,a.csv\nb,b.csv\na,b.csv\n",
        [
            "error: s.csv:4: sample 'a' is already on line 2",
            "hint: give each row its own name (one row per sample)",
        ],
    ),
    "no-path-column": (
        "name,file\na,a.csv\n",
        [
            "error: s.csv:1: the header lacks a 'path' column (it has: name, file)",
            "hint: the header needs name (or sample) and path; other columns become metadata",
        ],
    ),
    "name-and-sample": (
        "name,sample,path\na,a,a.csv\n",
        [
            "error: s.csv:1: the header has both 'name' and 'sample' columns",
            "hint: keep one of them for the sample names, or rename the other",
        ],
    ),
    "empty": (
        "",
        ["error: s.csv is empty", "hint: its first line names the columns: name,path[,metadata...]"],
    ),
    "no-rows": (
        "name,path\n",
        ["error: s.csv lists no samples", "hint: add a row per sample under the header"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SHEETS))
def test_a_bad_row_names_its_line_and_registers_nothing(project: Proj, case: str) -> None:
    _files(project, "a.csv", "b.csv")
    (project.root / "first.csv").write_text("name,path,group\na,a.csv,before\n")
    project.wfc("sample", "import", "first.csv", check=True)
    before = _state(project)
    text, expected = BAD_SHEETS[case]
    (project.root / "s.csv").write_text(text)
    assert _err(project.wfc("sample", "import", "s.csv")) == (2, expected)
    assert _state(project) == before


def test_a_missing_sheet(project: Proj) -> None:
    proc = project.wfc("sample", "import", "nope.csv")
    assert _err(proc) == (2, ["error: sample sheet not found: nope.csv", "hint: check the path"])


# -- select --------------------------------------------------------------------------------


def _sheet(proj: Proj) -> None:
    _files(proj, "data/a.txt", "data/b.txt", "data/c.txt")
    (proj.root / "sheet.csv").write_text(
        "sample,path,condition,batch\n"
        "a,data/a.txt,treated,1\n"
        "b,data/b.txt,control,1\n"
        "c,data/c.txt,treated,2\n"
    )
    proj.wfc("sample", "import", "sheet.csv", check=True)


def _selecting(select: Any, **node: Any) -> dict[str, Any]:
    doc = probe_pipeline()
    doc["nodes"][0] = {"id": "data", "select": select, **node}
    return doc


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            {"select": {"conditon": "treated"}},
            [
                "error: pipeline.json: nodes[0].select: no registered sample has the metadata column "
                "'conditon' (did you mean 'condition'?); columns: batch, condition",
            ],
        ),
        (
            {"select": {"condition": ["mock", "none"]}},
            [
                "error: pipeline.json: nodes[0].select: select condition=mock|none matches no sample "
                "(4 samples registered)"
            ],
        ),
        (
            {"select": {"condition": "treated"}, "samples": ["a"]},
            ["error: pipeline.json: nodes[0]: an input node takes 'samples' or 'select', not both"],
        ),
        (
            {"select": None},
            [
                "error: pipeline.json: nodes[0]: an input node needs 'samples' (a list of names) "
                "or 'select' ({column: value})"
            ],
        ),
        (
            {"select": {"batch": 1}},
            [
                "error: pipeline.json: nodes[0].select.batch: "
                "expected a string or a non-empty list of strings, got 1"
            ],
        ),
    ],
    ids=["unknown-column", "no-match", "both", "neither", "not-a-string"],
)
def test_select_mistakes_are_validate_errors(
    fake_env: Proj, node: dict[str, Any], expected: list[str]
) -> None:
    _sheet(fake_env)
    doc = _selecting(None)
    doc["nodes"][0] = {"id": "data", **{k: v for k, v in node.items() if v is not None}}
    fake_env.write_pipeline(doc)
    code, lines = _err(fake_env.wfc("validate", "pipeline.json"))
    assert code == 2 and lines[:-1] == expected
    hint = lines[-1]
    if "registered sample" in expected[0] or "matches no sample" in expected[0]:
        assert hint == (
            "hint: list the samples and their metadata with `wfc sample list`; "
            "register samples with metadata with `wfc sample import SHEET`"
        )
    else:
        assert hint == "hint: see docs/pipelines.md for the document format"


def test_select_plans_and_compiles_read_only_on_a_fresh_checkout(fake_env: Proj) -> None:
    _sheet(fake_env)
    fake_env.write_pipeline(_selecting({"condition": "treated", "batch": ["1", "2"]}))
    shutil.rmtree(fake_env.root / ".wfc")  # a fresh checkout: no database, no store
    plan = wfc_json(fake_env, "plan", "pipeline.json")
    assert [s["name"] for s in plan["steps"]] == ["probe[a]", "probe[c]"]
    assert not (fake_env.root / ".wfc" / "wfc.db").exists()
    assert fake_env.wfc("validate", "pipeline.json").returncode == 0
    snakefile = fake_env.root / "Snakefile"
    fake_env.wfc("compile", "pipeline.json", "--backend", "snakemake", "-o", str(snakefile), check=True)
    text = snakefile.read_text()
    assert '"--sample=a"' in text and '"--sample=c"' in text and '"--sample=b"' not in text
    fake_env.write_pipeline(_selecting({"batch": "2"}, mode="all"))  # one sample into a single slot
    assert [s["name"] for s in wfc_json(fake_env, "plan", "pipeline.json")["steps"]] == ["probe"]
    fake_env.write_pipeline(_selecting({"batch": "1"}, mode="all"))  # two
    assert fake_env.wfc("validate", "pipeline.json").stderr.splitlines()[:2] == [
        "error: pipeline.json: nodes[1]: input slot 'data' of 'probe' receives several inputs "
        "but is not multiple",
        "hint: declare inputs.data.multiple: true in method.yaml, or feed it one input",
    ]


def test_a_selecting_pipeline_runs_for_real(fake_env: Proj) -> None:
    _sheet(fake_env)
    fake_env.write_pipeline(_selecting({"condition": "treated"}))
    proc = fake_env.wfc(
        "run-pipeline", "pipeline.json", "--json", env={"WFC_RUNTIME": "process"}, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert [(s["name"], s["status"]) for s in doc["steps"]] == [
        ("probe[a]", "completed"),
        ("probe[c]", "completed"),
    ]
    inputs = fake_env.rows(
        "SELECT r.sample, i.sample_name, i.sample_version FROM run_inputs i JOIN runs r ON r.id = i.run_id "
        "ORDER BY r.sample"
    )
    assert inputs == [("a", "a", 1), ("c", "c", 1)]
    # a newly imported matching sample joins the next run; the others are cached
    _files(fake_env, "data/d.txt")
    (fake_env.root / "more.csv").write_text("sample,path,condition\nd,data/d.txt,treated\n")
    fake_env.wfc("sample", "import", "more.csv", check=True)
    again = json.loads(
        fake_env.wfc(
            "run-pipeline", "pipeline.json", "--json", env={"WFC_RUNTIME": "process"}, timeout=600
        ).stdout
    )
    assert [(s["name"], s["status"]) for s in again["steps"]] == [
        ("probe[a]", "cached"),
        ("probe[c]", "cached"),
        ("probe[d]", "completed"),
    ]


# -- the database ------------------------------------------------------------------------------


def test_a_v2_database_migrates_and_read_only_commands_say_how(project: Proj) -> None:
    _files(project, "a.csv")
    path = project.root / ".wfc" / "wfc.db"
    open_database(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as raw:  # the shape and version of a v2 database, with a sample
        raw.execute("ALTER TABLE samples DROP COLUMN metadata")
        raw.execute("UPDATE wfc_meta SET value = '2' WHERE key = 'schema_version'")
        raw.execute(
            "INSERT INTO samples (name, version, content_hash, kind, original_name, size, source_path, "
            "registered_at) VALUES ('old', 1, 'blake3:00', 'file', 'a.csv', 3, 'a.csv', '2026-01-01')"
        )
    raw.close()
    with pytest.raises(UsageError) as exc:
        open_lineage(f"sqlite:///{path}", read_only=True)
    assert exc.value.message.startswith("the database schema is version 2, older than this wfc's (4)")
    listed = wfc_json(project, "sample", "list")["samples"]  # a command that records migrates
    assert [(s["name"], s["metadata"]) for s in listed] == [("old", {})]
    assert project.rows("SELECT value FROM wfc_meta WHERE key = 'schema_version'") == [("4",)]
    (project.root / "s.csv").write_text("name,path,k\nold,a.csv,v\n")
    project.wfc("sample", "import", "s.csv", check=True)
    assert project.rows("SELECT name, version, metadata FROM samples ORDER BY version") == [
        ("old", 1, None),
        ("old", 2, '{"k": "v"}'),
    ]


def _record(name: str, digit: str, metadata: dict[str, str] | None = None) -> SampleRecord:
    return SampleRecord(
        name,
        0,
        "blake3:" + digit * 64,
        "file",
        f"{name}.csv",
        3,
        f"d/{name}.csv",
        datetime(2026, 1, 1),
        metadata or {},
    )


def test_both_drivers_register_samples_alike(tmp_path: Path) -> None:
    open_database(f"sqlite:///{tmp_path / 'b.db'}").engine.dispose()
    fast = open_lineage(f"sqlite:///{tmp_path / 'b.db'}")
    assert isinstance(fast, SqliteLineage)
    answers = []
    for lineage in (SqlAlchemyLineage(open_database(f"sqlite:///{tmp_path / 'a.db'}")), fast):
        answers.append(
            [
                lineage.register_samples([_record("a", "1", {"c": "x"}), _record("b", "2")]),
                lineage.register_samples([_record("a", "1", {"c": "y"}), _record("c", "3")]),
                lineage.register_samples([_record("a", "4"), _record("b", "2")], keep_metadata=True),
                lineage.add_sample_version(_record("d", "5", {"k": "v"})),
                lineage.list_samples(),
            ]
        )
        lineage.close()
    assert answers[0] == answers[1]
    changes = [[(r.name, r.version, c) for r, c in batch] for batch in answers[0][:3]]
    assert changes == [
        [("a", 1, "added"), ("b", 1, "added")],
        [("a", 1, "updated"), ("c", 1, "added")],
        [("a", 2, "added"), ("b", 1, "unchanged")],
    ]
    assert answers[0][4][1].metadata == {"c": "y"}  # a@2 kept a@1's metadata (keep_metadata)

    def dump(name: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(tmp_path / name) as raw:
            return list(raw.execute("SELECT name, version, content_hash, metadata FROM samples ORDER BY id"))

    assert dump("a.db") == dump("b.db")
