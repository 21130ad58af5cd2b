"""The import service: dedupe, merge, aliases, key clashes, idempotency, suggestions, jobs."""

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import CitekeyAlias, ImportJob, Paper, PaperAuthor, PaperPhase, Phase
from app.services.imports import dry_run, plan_import

NEW = """@article{newone2024,
  title = {Auditing Noisy Labels in Training Data},
  author = {Doe, Jane and Roe, Richard},
  year = {2024},
  doi = {https://doi.org/10.5555/NEW.1},
  abstract = {We audit noisy labels in datasets used to train models.},
}
"""


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).scalar_one()


def paper(engine, key) -> Paper | None:
    with Session(engine) as s:
        return s.exec(select(Paper).where(Paper.citekey == key)).scalars().first()


def test_new_entry_is_added_with_authors_and_a_suggested_phase(engine, mini, do_import):
    before = count(engine, Paper)
    rep = do_import(NEW)
    assert [a["key"] for a in rep.added] == ["newone2024"]
    assert count(engine, Paper) == before + 1
    p = paper(engine, "newone2024")
    assert p.doi == "10.5555/new.1"
    with Session(engine) as s:
        assert s.exec(select(func.count()).where(PaperAuthor.paper_id == p.id)).scalar_one() == 2
        links = s.exec(
            select(Phase.slug, PaperPhase.origin, PaperPhase.score)
            .join(Phase, Phase.id == PaperPhase.phase_id)
            .where(PaperPhase.paper_id == p.id)
        ).all()
    assert links and all(o == "suggested" and sc > 0 for _, o, sc in links)
    assert links[0][0] == "data"


def test_reimport_adds_nothing(engine, mini, do_import):
    do_import(NEW)
    n = count(engine, Paper)
    rep = do_import(NEW)
    assert rep.added == [] and rep.merged == []
    assert len(rep.skipped) == 1 and "already" in rep.skipped[0]["reason"]
    assert count(engine, Paper) == n


def test_exact_doi_duplicate_merges_fills_missing_and_aliases(engine, mini, do_import, client):
    text = """@article{MullerAlpha,
  title = {Alpha: stating goals for models},
  author = {M{\\"u}ller, J{\\"o}rg},
  year = {2022},
  doi = {DOI:10.1109/ms.2022.1},
  pages = {1--10},
  keywords = {data},
}"""
    before = count(engine, Paper)
    rep = do_import(text)
    assert [m["citekey"] for m in rep.merged] == ["alpha2022"]
    assert "DOI" in rep.merged[0]["reason"]
    assert count(engine, Paper) == before
    p = paper(engine, "alpha2022")
    assert p.fields["pages"] == "1--10"  # filled
    assert p.title == "Alpha: Stating Goals for Models"  # existing wins
    with Session(engine) as s:
        alias = s.get(CitekeyAlias, "MullerAlpha")
        phases = dict(
            s.exec(
                select(Phase.slug, PaperPhase.origin)
                .join(Phase, Phase.id == PaperPhase.phase_id)
                .where(PaperPhase.paper_id == p.id)
            ).all()
        )
    assert alias.paper_id == p.id
    assert phases == {"requirements": "survey", "data": "curated"}  # links unioned
    r = client.get("/papers/MullerAlpha", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].endswith("/papers/alpha2022")


def test_arxiv_duplicate_via_url_and_version(engine, mini, do_import):
    rep = do_import("@misc{x, title={Other words}, url={https://arxiv.org/abs/2401.00001v3}}")
    assert rep.merged and rep.merged[0]["citekey"] == "mini2024survey"


def test_key_clash_renames_only_the_newcomer(engine, mini, do_import):
    rep = do_import("@article{alpha2022, title={A Completely Different Paper}, year=2020}")
    assert rep.added[0]["citekey"] == "alpha2022a"
    assert "renamed" in rep.added[0]["reason"]
    assert paper(engine, "alpha2022").title == "Alpha: Stating Goals for Models"
    assert paper(engine, "alpha2022a").title == "A Completely Different Paper"
    # and again: the renamed paper is recognised, nothing more is added
    rep2 = do_import("@article{alpha2022, title={A Completely Different Paper}, year=2020}")
    assert rep2.added == []


def test_title_only_match_is_a_probable_duplicate(engine, mini):
    text = "@misc{other, title={Alpha: Stating Goals for Models}, author={Nobody, N}, year=1999}"
    with Session(engine) as s:
        plan = plan_import(s, text.encode())
    (row,) = plan.rows
    assert row.status == "probable" and row.match["citekey"] == "alpha2022"
    assert row.action == "add"


def test_choices_skip_and_merge(engine, mini, do_import):
    text = NEW + "@misc{other, title={Alpha: Stating Goals for Models}, author={N, N}, year=1999}"
    before = count(engine, Paper)
    rep = do_import(text, choices={0: "skip", 1: "merge"})
    assert rep.added == [] and [m["citekey"] for m in rep.merged] == ["alpha2022"]
    assert count(engine, Paper) == before


def test_in_file_duplicates_merge_into_the_first(engine, mini, do_import):
    text = NEW + NEW.replace("newone2024", "NewOne2024copy").replace("Noisy", "noisy")
    rep = do_import(text)
    assert len(rep.added) == 1 and len(rep.merged) == 1


def test_every_entry_accounted_and_invalid_reported(engine, mini, do_import):
    text = NEW + "\n@article{broken,\n title = {x\n\n@xdata{shared, publisher={P}}\n"
    rep = do_import(text)
    assert len(rep.added) + len(rep.merged) + len(rep.skipped) + len(rep.failed) == 3
    (f,) = rep.failed
    assert f["key"] == "broken" and f["line"] == 9 and "unterminated" in f["reason"]


def test_dry_run_writes_nothing(engine, mini):
    before = count(engine, Paper), count(engine, ImportJob)
    with Session(engine) as s:
        rep = dry_run(s, NEW.encode())
    assert rep.dry_run and len(rep.added) == 1
    assert (count(engine, Paper), count(engine, ImportJob)) == before


def test_job_records_counts_results_and_keeps_file(engine, mini, do_import, settings):
    rep = do_import(NEW, filename="../../evil name.bib")
    with Session(engine) as s:
        job = s.get(ImportJob, rep.job_id)
    assert job.status == "done" and job.counts["added"] == 1
    assert job.results[0]["outcome"] == "added"
    from pathlib import Path

    stored = Path(job.stored_path)
    assert stored.parent == settings.uploads_dir and stored.read_bytes() == NEW.encode()
    assert job.filename == "../../evil name.bib"


def test_imported_paper_is_searchable(engine, mini, do_import, index):
    do_import(NEW)
    res = index.search("auditing noisy labels")
    assert "newone2024" in [h.key for h in res.hits]
