"""dump -> restore into an empty database -> dump is byte-identical; CLI and API."""

import json
import shutil

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, session_scope
from app.models import ReadingList
from app.services import dump, lists


@pytest.fixture
def with_lists(engine, mini):
    with session_scope(engine) as s:
        rl = lists.create_list(s, name="Must read", description="Start *here*")
        lists.add_paper(s, rl, "delta2024", note="Flaky!")
        lists.add_paper(s, rl, "alpha2022", status="read")
        lists.create_list(s, name="Data papers", filter={"phase": ["data"]})
        private = lists.create_list(s, name="Mine", public=False)
        lists.add_paper(s, private, "gamma2023")


def _dump(url):
    eng = make_engine(url)
    with Session(eng) as s:
        text = dump.dump_text(s)
    eng.dispose()
    return text


def test_dump_restore_dump_is_byte_identical(settings, with_lists, tmp_path, migrated_template):
    first = _dump(settings.database_url)
    data = json.loads(first)
    assert data["format"] == "surveykb-dump" and data["version"] == 1
    assert len(data["papers"]) == 6
    alpha = next(p for p in data["papers"] if p["citekey"] == "alpha2022")
    assert alpha["raw_bibtex"].startswith("@article{alpha2022")
    assert alpha["fields"]["journal"] == "IEEE Software"
    assert (
        alpha["challenges"]
        == [{"origin": "survey", "score": None, "slug": "vague-goals", "survey": "mini"}]
        or alpha["challenges"][0]["slug"] == "vague-goals"
    )
    assert [x["slug"] for x in data["lists"]] == ["data-papers", "mine", "must-read"]
    must = data["lists"][2]
    assert [i["citekey"] for i in must["items"]] == ["delta2024", "alpha2022"]
    assert data["lists"][0]["filter"] == {"phase": ["data"]}

    empty = tmp_path / "restored.sqlite3"
    shutil.copy(migrated_template, empty)
    eng = make_engine(f"sqlite:///{empty}")
    with session_scope(eng) as s:
        counts = dump.restore(s, data)
    assert counts["papers"] == 6 and counts["lists"] == 3 and counts["list items"] == 3
    eng.dispose()
    second = _dump(f"sqlite:///{empty}")
    assert second == first


def test_restore_refuses_a_non_empty_database(engine, mini, settings):
    data = json.loads(_dump(settings.database_url))
    with Session(engine) as s, pytest.raises(Exception, match="not empty"):
        dump.restore(s, data)
    with Session(engine) as s, pytest.raises(Exception, match="not a surveykb dump"):
        dump.restore(s, {"papers": []})


def test_shipped_dump_round_trip(shipped_settings, tmp_path, migrated_template):
    first = _dump(shipped_settings.database_url)
    empty = tmp_path / "restored.sqlite3"
    shutil.copy(migrated_template, empty)
    eng = make_engine(f"sqlite:///{empty}")
    with session_scope(eng) as s:
        dump.restore(s, json.loads(first))
    eng.dispose()
    assert _dump(f"sqlite:///{empty}") == first


def test_cli_export_dump_restore(settings, with_lists, tmp_path, monkeypatch, migrated_template):
    from app.config import get_settings

    runner = CliRunner()
    monkeypatch.setenv("SURVEYKB_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SURVEYKB_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        r = runner.invoke(
            cli, ["export", "--format", "ris", "--phase", "data", "--year-from", "2023"]
        )
        assert r.exit_code == 0, r.output
        assert r.stdout.count("ER  - ") == 3
        out = tmp_path / "list.md"
        r = runner.invoke(cli, ["export", "-f", "markdown", "--list", "must-read", "-o", str(out)])
        assert r.exit_code == 0, r.output
        md = out.read_text()
        assert md.startswith("# Reading list: Must read") and "> Flaky!" in md
        r = runner.invoke(cli, ["export", "-f", "docx"])
        assert r.exit_code == 2 and "Unknown export format" in r.output
        dump_file = tmp_path / "kb.json"
        r = runner.invoke(cli, ["dump", "-o", str(dump_file)])
        assert r.exit_code == 0, r.output
        # restore into a fresh, empty database
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        shutil.copy(migrated_template, fresh / "surveykb.sqlite3")
        monkeypatch.setenv("SURVEYKB_VAR_DIR", str(fresh))
        monkeypatch.setenv("SURVEYKB_DATABASE_URL", f"sqlite:///{fresh / 'surveykb.sqlite3'}")
        get_settings.cache_clear()
        r = runner.invoke(cli, ["restore", str(dump_file)])
        assert r.exit_code == 0, r.output
        assert "6 papers" in r.output and "Search index rebuilt" in r.output
        r2 = runner.invoke(cli, ["dump"])
        assert r2.stdout == dump_file.read_text()
        r = runner.invoke(cli, ["restore", str(dump_file)])
        assert r.exit_code == 2 and "not empty" in r.output
    finally:
        get_settings.cache_clear()


def test_lists_filter_stays_live(engine, with_lists):
    with Session(engine) as s:
        rl = lists.get_list(s, "data-papers")
        assert isinstance(rl, ReadingList)
        ids, _ = lists.list_paper_ids(s, rl)
        assert len(ids) == 4
