"""The survey loader: validation errors name file, line and problem; loading is idempotent."""

import shutil

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.models import Challenge, Paper, PaperPhase, Phase
from app.taxonomy import TaxonomyError, parse_survey_yaml, read_survey_dir
from tests.conftest import MINI, load

GOOD = (MINI / "survey.yaml").read_text()


def test_mini_survey_loads_with_hand_counted_content(engine, mini):
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Phase)).scalar_one() == 3
        assert s.exec(select(func.count()).select_from(Challenge)).scalar_one() == 4
        assert s.exec(select(func.count()).select_from(Paper)).scalar_one() == 6
        assert s.exec(select(func.count()).select_from(PaperPhase)).scalar_one() == 10
        alpha = s.exec(select(Paper).where(Paper.citekey == "alpha2022")).scalars().one()
        assert alpha.doi == "10.1109/ms.2022.1"
        assert "phases" not in alpha.fields  # survey links are not stored as bib fields


def test_second_load_changes_nothing(engine, mini):
    assert mini.changed
    again = load(engine, MINI)
    assert not again.changed
    assert "nothing changed" in again.summary()


def test_edited_yaml_updates_in_place(engine, mini, tmp_path):
    d = tmp_path / "s"
    shutil.copytree(MINI, d)
    y = d / "survey.yaml"
    y.write_text(y.read_text().replace("title: Vague goals", "title: Goals that stay vague"))
    report = load(engine, d)
    assert report.counts["challenges updated"] == 1
    with Session(engine) as s:
        ch = s.exec(select(Challenge).where(Challenge.slug == "vague-goals")).scalars().one()
        assert ch.title == "Goals that stay vague"


@pytest.mark.parametrize(
    "edit, line, message",
    [
        (("slug: vague-goals", "slug: Vague Goals"), 15, "lowercase words joined by hyphens"),
        (("slug: noisy-labels", "slug: vague-goals"), 38, "already used on line 15"),
        (("source: editorial", "source: guessed"), 19, "source must be 'survey' or 'editorial'"),
        (
            ("addresses: [noisy-labels]", "addresses: [vague-goals]"),
            43,
            "addresses 'vague-goals', not a challenge of 'data'",
        ),
    ],
)
def test_yaml_errors_name_line_and_problem(edit, line, message):
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    with pytest.raises(TaxonomyError) as exc:
        parse_survey_yaml(text, "survey.yaml")
    problems = exc.value.problems
    assert any(p.line == line and message in p.message for p in problems), problems
    assert str(problems[0]).startswith("survey.yaml:")


def test_broken_yaml_syntax_reports_a_line():
    with pytest.raises(TaxonomyError) as exc:
        parse_survey_yaml(GOOD.replace("phases:\n", "phases: [\n", 1))
    assert exc.value.problems[0].line is not None
    assert "not valid YAML" in exc.value.problems[0].message


def test_bib_errors_name_entry_line_and_problem(tmp_path):
    d = tmp_path / "s"
    shutil.copytree(MINI, d)
    bib = d / "papers.bib"
    text = bib.read_text()
    text = text.replace("challenges = {noisy-labels},", "challenges = {no-such-challenge},", 1)
    text = text.replace("phases = {evaluation, data},", "phases = {evaluation},", 1)
    text += "\n@article{broken2020,\n  title = {Never closed},\n"
    bib.write_text(text)
    with pytest.raises(TaxonomyError) as exc:
        read_survey_dir(d)
    msgs = [str(p) for p in exc.value.problems]
    assert any("gamma2023: unknown challenge 'no-such-challenge'" in m for m in msgs), msgs
    assert any("delta2024: challenge 'noisy-labels' belongs to phase 'data'" in m for m in msgs), (
        msgs
    )
    assert any("papers.bib:54: entry broken2020" in m for m in msgs), msgs


def test_cli_load_survey_reports_problems_and_loads_nothing(tmp_path, settings, monkeypatch):
    d = tmp_path / "s"
    shutil.copytree(MINI, d)
    (d / "survey.yaml").write_text(GOOD.replace("slug: data", "slug: Data!", 1))
    monkeypatch.setenv("SURVEYKB_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SURVEYKB_DATABASE_URL", settings.database_url)
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        bad = runner.invoke(cli, ["load-survey", str(d)])
        assert bad.exit_code == 2
        assert "survey.yaml:" in bad.output and "Data!" in bad.output
        ok = runner.invoke(cli, ["load-survey", str(MINI)])
        assert ok.exit_code == 0, ok.output
        assert "loaded" in ok.output
        again = runner.invoke(cli, ["load-survey", str(MINI)])
        assert again.exit_code == 0 and "nothing changed" in again.output
    finally:
        get_settings.cache_clear()
