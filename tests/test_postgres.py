"""The lineage database on a real PostgreSQL server (WFC_DATABASE_URL), started by the test."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Proj
from tests.test_lineage import _scenario
from wfc.lineage import open_lineage
from wfc.lineage.db import open_database
from wfc.lineage.sqla import SqlAlchemyLineage


def test_lineage_protocol_on_postgresql(postgres_url: str) -> None:
    lineage = open_lineage(postgres_url)
    assert isinstance(lineage, SqlAlchemyLineage)
    _scenario(lineage)
    lineage.close()
    open_database(postgres_url).engine.dispose()  # reopening an up-to-date schema migrates nothing


@pytest.mark.docker
def test_run_step_records_into_postgresql(probe_project: Proj, postgres_url: str) -> None:
    env = {"WFC_DATABASE_URL": postgres_url}
    probe_project.wfc("sample", "add", "s2", "s2.txt", env=env, check=True)
    first = probe_project.run_step("probe", "--sample", "s2", env=env)
    second = probe_project.run_step("probe", "--sample", "s2", env=env)
    assert (first["status"], second["status"]) == ("completed", "cached")
    assert second["cache_source"] == first["run_id"]
    assert probe_project.rows("SELECT count(*) FROM runs") == [
        (0,)
    ]  # nothing went to the default SQLite file


@pytest.mark.docker
def test_inspection_and_care_read_postgresql(probe_project: Proj, postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # a database of its own: the others hold synthetic rows
        conn.execute(text("CREATE DATABASE wfc_inspect"))
    engine.dispose()
    env = {"WFC_DATABASE_URL": postgres_url.replace("/wfc?", "/wfc_inspect?")}
    for name in ("s1", "s2"):
        probe_project.wfc("sample", "add", name, f"{name}.txt", env=env, check=True)
    probe_project.wfc("run-pipeline", "pipeline.json", "--cores", "2", env=env, check=True, timeout=600)
    shown = json.loads(probe_project.wfc("show", "last:probe[s1]", "--json", env=env, check=True).stdout)
    assert shown["status"] in ("completed", "cached") and shown["inputs"][0]["source"]["sample"] == "s1"
    tree = probe_project.wfc("lineage", shown["id"], env=env, check=True).stdout
    assert "data ← sample s1@1" in tree
    down = json.loads(
        probe_project.wfc("lineage", shown["id"], "--down", "--format", "json", env=env, check=True).stdout
    )
    assert down["root"] == shown["id"]
    runs = json.loads(probe_project.wfc("runs", "--json", env=env, check=True).stdout)["pipeline_runs"]
    assert runs[0]["pipeline"] == "probe" and len(runs[0]["steps"]) == 2
    why = json.loads(probe_project.wfc("why", "pipeline.json", "--json", env=env, check=True).stdout)
    assert {s["status"] for s in why["steps"]} == {"cached"}
    gc = json.loads(
        probe_project.wfc("cache", "gc", "--keep-last", "1", "--dry-run", "--json", env=env).stdout
    )
    assert gc["dry_run"] is True
    assert (
        json.loads(probe_project.wfc("cache", "verify", "--json", env=env, check=True).stdout)["problems"]
        == []
    )
    checks = json.loads(probe_project.wfc("doctor", "--json", env=env).stdout)["checks"]
    database = next(c for c in checks if c["name"] == "database")
    assert database["status"] == "ok" and database["detail"].startswith(
        "postgresql+psycopg://postgres@/wfc_inspect"
    )


def test_a_v3_database_on_postgresql_gains_64_bit_sizes(postgres_url: str) -> None:
    """v4 on PostgreSQL: the v4 columns and tables, and byte sizes past 2 GiB (INTEGER was 32-bit)."""
    from sqlalchemy import create_engine, text

    from wfc.lineage.records import OutputRecord, PipelineRunRecord, RunRecord, now

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE wfc_v3"))
    admin.dispose()
    url = postgres_url.replace("/wfc?", "/wfc_v3?")
    open_database(url).engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:  # back to the v3 shape
        for column in ("resources", "code_tree", "env_tree", "reproduces_id"):
            conn.execute(text(f"ALTER TABLE runs DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE saved_images"))
        for table in ("run_outputs", "samples"):
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN size TYPE INTEGER"))
        conn.execute(text("UPDATE wfc_meta SET value = '3' WHERE key = 'schema_version'"))
    lineage = open_lineage(url)  # migrates
    pr = PipelineRunRecord("p-big", "big", "blake3:0", "{}", "running", now(), "0")
    lineage.create_pipeline_run(pr)
    run = RunRecord(
        "r-big", "p-big", "n", None, None, None, "m", "x", "c", "k", {}, "e", "d", "key", "running", now()
    )
    lineage.start_run(run, [])
    huge = 3 << 30  # 3 GiB: past INTEGER
    lineage.complete_run(
        "r-big", [OutputRecord("r-big", "out", "out.bin", "blake3:1", huge, "file")], {}, (None, None)
    )
    lineage.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT size FROM run_outputs")).scalar() == huge
        assert conn.execute(text("SELECT value FROM wfc_meta WHERE key = 'schema_version'")).scalar() == "4"
        assert conn.execute(text("SELECT count(*) FROM saved_images")).scalar() == 0
    engine.dispose()
