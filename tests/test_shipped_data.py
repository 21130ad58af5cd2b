"""The shipped survey meets the promised size and every item is connected."""

from bs4 import BeautifulSoup
from sqlalchemy import func, select
from sqlmodel import Session

from app.db import make_engine
from app.models import Challenge, Direction, Paper, PaperChallenge, PaperPhase, Phase
from app.taxonomy import read_survey_dir
from tests.conftest import SHIPPED


def test_shipped_survey_validates_and_has_enough_content():
    bundle = read_survey_dir(SHIPPED)
    spec = bundle.spec
    assert [p.slug for p in spec.phases] == [
        "requirements",
        "data",
        "model",
        "evaluation",
        "deployment",
        "maintenance",
    ]
    for p in spec.phases:
        assert len(p.challenges) >= 4 and len(p.directions) >= 4, p.slug
        assert all(d.addresses for d in p.directions), p.slug
        assert p.summary
    assert sum(len(p.challenges) for p in spec.phases) >= 24
    assert sum(len(p.directions) for p in spec.phases) >= 24
    assert len(bundle.papers) >= 150
    assert spec.citekey in {p.record.citekey for p in bundle.papers}


def test_every_paper_has_a_phase_and_every_challenge_a_paper(shipped_settings):
    engine = make_engine(shipped_settings.database_url)
    with Session(engine) as s:
        no_phase = s.exec(
            select(func.count())
            .select_from(Paper)
            .where(~Paper.id.in_(select(PaperPhase.paper_id)))
        ).scalar_one()
        assert no_phase == 0
        lonely = (
            s.exec(
                select(Challenge.slug).where(~Challenge.id.in_(select(PaperChallenge.challenge_id)))
            )
            .scalars()
            .all()
        )
        assert lonely == []
        assert s.exec(select(func.count()).select_from(Phase)).scalar_one() == 6
        assert s.exec(select(func.count()).select_from(Direction)).scalar_one() >= 24
    engine.dispose()


def test_shipped_home_page(shipped_client):
    r = shipped_client.get("/")
    assert r.status_code == 200
    cards = BeautifulSoup(r.text, "html.parser").select("ol.phase-grid > li.phase-card")
    assert len(cards) == 6
    assert all(int(c.select(".counts strong")[2].get_text()) > 0 for c in cards)
