"""load-survey on an updated survey.yaml keeps curators' work (and reports conflicts);
export-survey writes the curated taxonomy back to YAML that load-survey accepts."""

import shutil

import pytest
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.db import session_scope
from app.models import Challenge, Direction, Paper, PaperChallenge
from app.services import curation
from app.services.taxonomy import export_survey
from tests.conftest import MINI, load


@pytest.fixture
def edited(tmp_path):
    """A copy of the mini survey folder whose survey.yaml can be edited."""
    d = tmp_path / "survey"
    shutil.copytree(MINI, d)
    return d


def edit_yaml(folder, *pairs):
    y = folder / "survey.yaml"
    text = y.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    y.write_text(text)


def curate(engine, fn, **kw):
    with session_scope(engine) as s:
        return fn(s, user=None, **kw)


def challenge(engine, slug):
    with Session(engine) as s:
        return s.exec(select(Challenge).where(Challenge.slug == slug)).scalars().one()


def paper_challenges(engine, citekey):
    with Session(engine) as s:
        return set(
            s.exec(
                select(Challenge.slug)
                .join(PaperChallenge, PaperChallenge.challenge_id == Challenge.id)
                .join(Paper, Paper.id == PaperChallenge.paper_id)
                .where(Paper.citekey == citekey)
            ).scalars()
        )


def test_curated_title_is_kept_and_reported_other_edits_apply(engine, mini, edited):
    curate(engine, curation.update_item, kind="challenge", slug="vague-goals", title="Fuzzy goals")
    edit_yaml(
        edited,
        ("title: Vague goals", "title: Unclear goals"),
        ('description: "Labels are wrong."', 'description: "Labels are often wrong."'),
    )
    report = load(engine, edited)
    assert challenge(engine, "vague-goals").title == "Fuzzy goals"
    assert challenge(engine, "noisy-labels").description == "Labels are often wrong."
    assert report.counts["challenges updated"] == 1
    assert report.conflicts == [
        "challenge 'vague-goals': kept the curated title 'Fuzzy goals'; "
        "the survey file says 'Unclear goals'"
    ]
    # fields the curator did not touch still follow the file
    edit_yaml(edited, ('description: "Goals are hard to state."', 'description: "Hard."'))
    load(engine, edited)
    ch = challenge(engine, "vague-goals")
    assert (ch.title, ch.description) == ("Fuzzy goals", "Hard.")


def test_a_reverted_edit_no_longer_blocks_the_file(engine, mini, edited):
    _, t = curate(engine, curation.update_item, kind="challenge", slug="vague-goals", title="X")
    curate(engine, curation.revert, change_id=t.change.id)
    edit_yaml(edited, ("title: Vague goals", "title: Unclear goals"))
    report = load(engine, edited)
    assert challenge(engine, "vague-goals").title == "Unclear goals"
    assert report.conflicts == []


def test_removed_links_stay_removed_and_reload_is_still_idempotent(engine, mini):
    curate(
        engine,
        curation.set_paper_links,
        citekey="beta2023",
        phases=["requirements"],
        challenges=["conflicting-needs"],
        directions=["stakeholder-workshops"],
    )
    assert paper_challenges(engine, "beta2023") == {"conflicting-needs"}
    report = load(engine, MINI)
    assert paper_challenges(engine, "beta2023") == {"conflicting-needs"}
    assert not report.changed
    assert report.conflicts == [
        "paper 'beta2023': kept the challenge link to 'vague-goals' removed by a curator; "
        "the survey file has it"
    ]


def test_curated_links_items_order_and_addresses_survive_a_reload(engine, mini):
    curate(
        engine,
        curation.set_paper_links,
        citekey="epsilon2021",
        phases=["requirements", "data"],
        challenges=["noisy-labels"],
        directions=[],
    )
    curate(engine, curation.create_item, kind="challenge", phase_slug="data", title="Data drift")
    curate(engine, curation.move_item, kind="challenge", slug="vague-goals", to="down")
    curate(
        engine,
        curation.update_item,
        kind="direction",
        slug="stakeholder-workshops",
        addresses=["conflicting-needs"],
    )
    report = load(engine, MINI)
    assert not report.changed
    assert paper_challenges(engine, "epsilon2021") == {"noisy-labels"}
    assert challenge(engine, "data-drift").retired is False
    with Session(engine) as s:
        order = [
            c.slug
            for c in s.exec(
                select(Challenge)
                .where(Challenge.slug.in_(["vague-goals", "conflicting-needs"]))
                .order_by(Challenge.position)
            ).scalars()
        ]
        ws = s.exec(select(Direction).where(Direction.slug == "stakeholder-workshops")).scalars()
        addresses = curation.item_state(s, ws.one())["addresses"]
    assert order == ["conflicting-needs", "vague-goals"]
    assert addresses == ["conflicting-needs"]
    assert sorted(report.conflicts) == [
        "direction 'stakeholder-workshops': kept the curated challenges it addresses; "
        "the survey file lists others",
        "phase 'requirements': kept the curated order of its challenges; "
        "the survey file orders them differently",
    ]


def test_a_fresh_database_loads_exactly_as_before(engine, mini):
    """No curation: the merge changes nothing about plain loading."""
    report = load(engine, MINI)
    assert not report.changed and report.conflicts == []


# --- export-survey ----------------------------------------------------------------------------


def test_export_round_trips_through_load_survey(engine, mini, tmp_path, settings):
    curate(engine, curation.update_item, kind="challenge", slug="noisy-labels", title="Bad labels")
    curate(
        engine,
        curation.create_item,
        kind="direction",
        phase_slug="evaluation",
        title="Oracle voting",
        description="Vote across runs.",
        addresses=["flaky-oracles"],
    )
    with Session(engine) as s:
        first = export_survey(s)
    out = tmp_path / "exported"
    out.mkdir()
    (out / "survey.yaml").write_text(first)
    shutil.copy(MINI / "papers.bib", out / "papers.bib")
    # into the same curated database: nothing to do, nothing disagrees
    again = load(engine, out)
    assert not again.changed and again.conflicts == []
    # into a fresh database: the same taxonomy comes out again
    from app import migrate
    from app.db import make_engine

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    fresh = make_engine(url)
    load(fresh, out)
    with Session(fresh) as s:
        second = export_survey(s)
        oracle = s.exec(select(Direction).where(Direction.slug == "oracle-voting")).scalars()
        assert oracle.one().title == "Oracle voting"
    fresh.dispose()
    assert second == first
    assert "title: Bad labels" in first


def test_cli_export_and_conflict_report(engine, mini, settings, tmp_path, monkeypatch, edited):
    curate(engine, curation.update_item, kind="challenge", slug="vague-goals", title="Fuzzy")
    edit_yaml(edited, ("title: Vague goals", "title: Unclear goals"))
    monkeypatch.setenv("SURVEYKB_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SURVEYKB_DATABASE_URL", settings.database_url)
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(cli, ["load-survey", str(edited)])
        assert r.exit_code == 0, r.output
        assert "1 conflict(s) with curated changes (kept):" in r.output
        assert "kept the curated title 'Fuzzy'" in r.output
        target = tmp_path / "out.yaml"
        r = runner.invoke(cli, ["export-survey", "-o", str(target)])
        assert r.exit_code == 0, r.output
        assert "title: Fuzzy" in target.read_text()
        r = runner.invoke(cli, ["export-survey"])
        assert r.stdout.startswith("# survey.yaml of 'mini'")
        r = runner.invoke(cli, ["export-survey", "--survey", "nope"])
        assert r.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_retired_items_stay_retired_through_export_and_load(engine, mini, tmp_path):
    """A retired challenge exported as `retired: true` loads retired into a fresh database."""
    from app import migrate
    from app.db import make_engine

    curate(engine, curation.set_retired, kind="challenge", slug="conflicting-needs", retired=True)
    with Session(engine) as s:
        text = export_survey(s)
    out = tmp_path / "exported"
    out.mkdir()
    (out / "survey.yaml").write_text(text)
    shutil.copy(MINI / "papers.bib", out / "papers.bib")
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    fresh = make_engine(url)
    load(fresh, out)
    with Session(fresh) as s:
        retired = s.exec(select(Challenge).where(Challenge.slug == "conflicting-needs")).scalars()
        assert retired.one().retired is True
        active = s.exec(select(Challenge).where(Challenge.slug == "vague-goals")).scalars()
        assert active.one().retired is False
    fresh.dispose()
    # and the shipped file, which never says `retired`, does not bring the item back
    again = load(engine, MINI)
    with Session(engine) as s:
        ch = s.exec(select(Challenge).where(Challenge.slug == "conflicting-needs")).scalars()
        assert ch.one().retired is True
    assert again is not None
