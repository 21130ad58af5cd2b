"""Several surveys side by side (issue 8 item 4): the mini fixture survey is loaded first (the
default), the shipped example survey llm-data-privacy second. Both have a phase `data`."""

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import PROJECT_ROOT
from app.main import create_app
from app.services.indexing import rebuild
from tests.conftest import load

PRIVACY = PROJECT_ROOT / "data" / "surveys" / "llm-data-privacy"
SQ = "survey=llm-data-privacy"
# Hand counts from data/surveys/llm-data-privacy/papers.bib and tests/fixtures/mini/papers.bib.
PRIVACY_PAPERS = 11
PRIVACY_DATA = {
    "lee2022dedup",
    "kandpal2022dedupprivacy",
    "longpre2023provenance",
    "carlini2024poisoning",
    "wan2023poisoning",
}
MINI_DATA = {"mini2024survey", "gamma2023", "delta2024", "epsilon2021"}


def soup(r):
    assert r.status_code == 200, r.text[:500]
    return BeautifulSoup(r.text, "html.parser")


def citekeys(page) -> set[str]:
    return {a["href"].rsplit("/", 1)[1] for a in page.select(".paper-list a.paper-title")}


def facet_values(page, name: str) -> list[str]:
    return [i["value"] for i in page.select(f"#paper-filters input[name={name}]")]


@pytest.fixture
def two(settings, engine, mini):
    load(engine, PRIVACY)
    app = create_app(settings)
    with Session(engine) as s:  # as `surveykb load-survey` does; a fresh index may not need it
        rebuild(s, app.state.index)
    with TestClient(app) as c:
        yield c


# --- one survey: nothing changes -------------------------------------------------------------


def test_single_survey_home_has_no_chooser_and_plain_links(client):
    page = soup(client.get("/"))
    assert page.select(".survey-chooser") == []
    assert page.select_one("h1").get_text(strip=True) == "A Mini Survey of Testing Things"
    hrefs = [a["href"] for a in page.select(".phase-card-link")]
    assert hrefs == ["/phases/requirements", "/phases/data", "/phases/evaluation"]
    assert page.select_one(".hero .stats strong").get_text() == "6"


def test_single_survey_lists_one_survey(client):
    assert [s["slug"] for s in client.get("/api/v1/surveys").json()] == ["mini"]
    page = soup(client.get("/surveys"))
    assert [a.get_text(strip=True) for a in page.select(".survey-link")] == [
        "A Mini Survey of Testing Things"
    ]


# --- two surveys: home and survey pages -------------------------------------------------------


def test_home_lists_both_surveys_above_default_overview(two):
    page = soup(two.get("/"))
    cards = page.select(".survey-chooser .survey-card")
    assert [c["data-survey"] for c in cards] == ["mini", "llm-data-privacy"]
    links = [a["href"] for a in page.select(".survey-chooser .survey-link")]
    assert links == ["/surveys/mini", "/surveys/llm-data-privacy"]
    counts = cards[1].select_one("a[href='/papers?survey=llm-data-privacy'] strong")
    assert counts.get_text() == str(PRIVACY_PAPERS)
    # The overview below is still the default survey's, with its unprefixed links.
    hrefs = [a["href"] for a in page.select(".phase-grid .phase-card-link:not(.survey-link)")]
    assert hrefs == ["/phases/requirements", "/phases/data", "/phases/evaluation"]


def test_survey_home_of_second_survey(two):
    page = soup(two.get("/surveys/llm-data-privacy"))
    assert "Training Data, Memorization and Privacy" in page.select_one("h1").get_text()
    names = [a.get_text(" ", strip=True) for a in page.select(".phase-card-link")]
    assert names == ["1 Corpus curation", "2 Memorization and leakage", "3 Mitigation"]
    assert page.select_one(".phase-card-link")["href"] == f"/phases/data?{SQ}"
    assert page.select_one(".hero .stats strong").get_text() == str(PRIVACY_PAPERS)
    row = page.select("table.matrix tbody tr")[0]
    assert row.select_one("td.total a")["href"] == f"/papers?phase=data&{SQ}"
    assert row.select_one("td.total a").get_text() == str(len(PRIVACY_DATA))
    assert two.get("/surveys/nope").status_code == 404


def test_phase_pages_resolve_within_their_survey(two):
    default = soup(two.get("/phases/data"))
    assert default.select_one("h1").get_text(strip=True) == "Dataset construction"
    other = soup(two.get(f"/phases/data?{SQ}"))
    assert other.select_one("h1").get_text(strip=True) == "Corpus curation"
    assert other.select_one("a[rel=next]")["href"] == f"/phases/memorization?{SQ}"
    assert other.select_one(".breadcrumb a")["href"] == "/surveys/llm-data-privacy"
    assert other.select_one(".stats a")["href"] == f"/papers?phase=data&{SQ}"
    # A slug only the second survey has still resolves without the parameter.
    alone = soup(two.get("/phases/memorization"))
    assert alone.select_one("h1").get_text(strip=True) == "Memorization and leakage"
    assert two.get("/phases/data?survey=nope").status_code == 404


def test_challenge_page_of_second_survey(two):
    page = soup(two.get("/challenges/verbatim-extraction"))
    assert citekeys(page) == {
        "carlini2021extracting",
        "carlini2023quantifying",
        "nasr2023scalable",
        "kandpal2022dedupprivacy",
    }
    assert page.select(".breadcrumb a")[1]["href"] == f"/phases/memorization?{SQ}"


# --- the paper list: facets and filters do not mix ------------------------------------------


def test_unfiltered_list_has_every_paper_but_default_phase_facets(two):
    page = soup(two.get("/papers?per_page=100"))
    assert len(citekeys(page)) == 6 + PRIVACY_PAPERS
    assert facet_values(page, "phase") == ["requirements", "data", "evaluation"]
    labels = [s.get_text() for s in page.select("#paper-filters .facet-label")]
    assert "Corpus curation" not in labels


def test_phase_filter_is_scoped_to_the_survey(two):
    assert citekeys(soup(two.get("/papers?phase=data"))) == MINI_DATA
    page = soup(two.get(f"/papers?phase=data&{SQ}"))
    assert citekeys(page) == PRIVACY_DATA
    assert facet_values(page, "phase") == ["data", "memorization", "mitigation"]
    data_opt = page.select_one("#f-phase-data").find_parent("label")
    assert data_opt.select_one(".facet-label").get_text() == "Corpus curation"
    assert data_opt.select_one(".facet-count").get_text() == str(len(PRIVACY_DATA))
    # The survey survives a form submission, and shows as a removable chip.
    assert page.select_one("#paper-filters input[name=survey]")["value"] == "llm-data-privacy"
    chips = [a.get_text(" ", strip=True) for a in page.select(".chip-active")]
    assert "Corpus curation ×" in chips
    assert any(c.startswith("Survey: Training Data") for c in chips)


def test_survey_filter_alone_lists_only_that_surveys_papers(two):
    page = soup(two.get(f"/papers?{SQ}&per_page=100"))
    assert len(citekeys(page)) == PRIVACY_PAPERS
    assert not citekeys(page) & MINI_DATA


# --- JSON API ----------------------------------------------------------------------------------


def test_api_surveys(two):
    body = two.get("/api/v1/surveys").json()
    assert [(s["slug"], s["default"]) for s in body] == [
        ("mini", True),
        ("llm-data-privacy", False),
    ]
    assert (body[1]["phase_count"], body[1]["paper_count"]) == (3, PRIVACY_PAPERS)
    assert (body[1]["challenge_count"], body[1]["direction_count"]) == (6, 7)


def test_api_phases_scoped(two):
    assert [p["slug"] for p in two.get("/api/v1/phases").json()] == [
        "requirements",
        "data",
        "evaluation",
    ]
    body = two.get(f"/api/v1/phases?{SQ}").json()
    assert [(p["slug"], p["paper_count"]) for p in body] == [
        ("data", 5),
        ("memorization", 6),
        ("mitigation", 3),
    ]
    assert two.get(f"/api/v1/phases/data?{SQ}").json()["name"] == "Corpus curation"
    assert two.get("/api/v1/phases/data").json()["name"] == "Dataset construction"
    assert two.get("/api/v1/phases?survey=nope").status_code == 404


def test_api_papers_scoped(two):
    default = two.get("/api/v1/papers?phase=data&per_page=100").json()
    assert {i["citekey"] for i in default["items"]} == MINI_DATA
    body = two.get(f"/api/v1/papers?phase=data&{SQ}&per_page=100").json()
    assert {i["citekey"] for i in body["items"]} == PRIVACY_DATA
    assert [o["value"] for o in body["facets"]["phase"]] == ["data", "memorization", "mitigation"]
    assert two.get("/api/v1/papers?per_page=1").json()["total"] == 6 + PRIVACY_PAPERS


# --- a paper shared by two surveys -------------------------------------------------------------


def test_shared_paper_keeps_links_of_both_surveys(shipped_settings):
    from app.db import make_engine

    eng = make_engine(shipped_settings.database_url)
    load(eng, PRIVACY)
    eng.dispose()
    with TestClient(create_app(shipped_settings)) as c:
        item = c.get("/api/v1/papers/lee2022dedup").json()
        phases = {(p["slug"], p["survey"]) for p in item["phases"]}
        assert ("data", None) in phases  # se4llm, the default survey
        assert ("data", "llm-data-privacy") in phases
        assert ("mitigation", "llm-data-privacy") in phases
        page = soup(c.get("/papers/lee2022dedup"))
        hrefs = {a["href"] for a in page.select("a.chip[href^='/phases/']")}
        assert {"/phases/data", f"/phases/data?{SQ}", f"/phases/mitigation?{SQ}"} <= hrefs


def test_insights_stay_on_the_default_survey(two, engine):
    from app.db import session_scope
    from app.services import insights

    with session_scope(engine) as session:
        matrix = insights.phase_challenge_matrix(session)
        assert [p.slug for p in matrix.phases] == ["requirements", "data", "evaluation"]
        assert "verbatim-extraction" not in {r["challenge"].slug for r in matrix.rows}


def test_export_follows_the_survey_filter(two):
    import csv
    import io

    def keys(url):
        r = two.get(url)
        assert r.status_code == 200
        return {row["citekey"] for row in csv.DictReader(io.StringIO(r.text))}

    assert keys(f"/export?phase=data&{SQ}&format=csv") == PRIVACY_DATA
    assert keys("/export?phase=data&format=csv") == MINI_DATA


# --- insights are scoped to one survey -------------------------------------------------------


def _csv(client, url):
    import csv
    import io

    r = client.get(url)
    assert r.status_code == 200, r.text[:300]
    return list(csv.reader(io.StringIO(r.text)))


def test_insight_matrix_of_the_second_survey_counts_its_own_taxonomy(two):
    page = soup(two.get(f"/insights/matrix?{SQ}"))
    rows = [tr["data-challenge"] for tr in page.select("#matrix-table tr[data-challenge]")]
    assert rows == [
        "duplicated-web-text",
        "unclear-data-provenance",
        "poisoned-sources",
        "verbatim-extraction",
        "membership-leakage",
        "privacy-utility-tradeoff",
    ]
    heads = [th.get_text(strip=True) for th in page.select("#matrix-table thead th")][1:-1]
    assert len(heads) == 3  # its three phases, not the default survey's
    cell = page.select_one('tr[data-challenge="poisoned-sources"] td[data-phase="data"] a')
    assert cell.get_text() == "2"
    assert SQ in cell["href"]
    # the cell opens exactly the papers it counts, in this survey's `data` phase
    assert citekeys(soup(two.get(cell["href"]))) == {"carlini2024poisoning", "wan2023poisoning"}
    # links in the table stay in the survey
    for a in page.select("#matrix-table a, .insight-tabs a"):
        assert SQ in a["href"], a["href"]


def test_insight_years_count_only_the_chosen_surveys_papers(two):
    default = {r[0]: r[-1] for r in _csv(two, "/insights/years?format=csv")[1:]}
    privacy = {r[0]: r[-1] for r in _csv(two, f"/insights/years?format=csv&{SQ}")[1:]}
    # hand counts from data/surveys/llm-data-privacy/papers.bib
    assert privacy == {"2016": "1", "2017": "1", "2021": "1", "2022": "2", "2023": "4", "2024": "2"}
    # the default (mini) survey's chart has none of the privacy papers' years
    assert "2016" not in default and "2017" not in default
    assert sum(map(int, default.values())) == 6  # the mini fixture's six papers


def test_insight_traceability_of_a_phase_only_the_second_survey_has(two):
    page = soup(two.get(f"/insights/trace/memorization?{SQ}"))
    linked = {tr["data-challenge"] for tr in page.select("#trace-table tr[data-challenge]")}
    assert {"verbatim-extraction", "membership-leakage"} <= linked
    assert two.get("/insights/trace/memorization").status_code == 404
    r = two.get(f"/insights/trace?{SQ}", follow_redirects=False)
    assert r.headers["location"] == f"/insights/trace/data?{SQ}"


def test_insights_of_a_single_survey_offer_no_survey_choice(client):
    page = soup(client.get("/insights"))
    assert page.select(".insight-survey") == []
    assert all("survey=" not in a["href"] for a in page.select(".insight-cards a"))


def test_insights_offer_a_survey_choice_when_there_are_several(two):
    page = soup(two.get(f"/insights?{SQ}"))
    chips = page.select(".insight-survey a")
    assert [a["href"] for a in chips] == ["/insights", f"/insights?{SQ}"]
    assert chips[1].get("aria-current") == "true"
    cards = [a["href"] for a in page.select(".insight-cards a")]
    assert f"/insights/trace/memorization?{SQ}" in cards
    assert two.get("/insights/matrix?survey=nope").status_code == 404


# --- search is scoped to one survey ----------------------------------------------------------


def _facet(body, name) -> dict[str, int]:
    return {o["value"]: o["count"] for o in body["facets"][name]}


def test_search_facets_keep_two_surveys_data_phases_apart(two):
    # both poisoning papers are in the privacy survey's `data` phase, none in the mini's
    body = two.get("/api/v1/search?q=poisoning&kind=paper").json()
    assert body["total"] == 2
    assert _facet(body, "phase").get("data", 0) == 0  # the default (mini) survey's phase
    assert all("/" not in v for name in ("phase", "challenge") for v in _facet(body, name))
    scoped = two.get(f"/api/v1/search?q=poisoning&kind=paper&{SQ}").json()
    assert _facet(scoped, "phase") == {"data": 2}
    assert _facet(scoped, "challenge") == {"poisoned-sources": 2}
    labels = {o["value"]: o["label"] for o in scoped["facets"]["challenge"]}
    assert labels["poisoned-sources"] == "Training data an attacker can write to"


def test_search_scoped_to_a_survey_filters_by_its_slugs_and_hides_the_others(two):
    # `data` in the privacy survey holds both poisoning papers; the mini survey's holds none
    body = two.get(f"/api/v1/search?q=poisoning&kind=paper&phase=data&{SQ}").json()
    assert {i["citekey"] for i in body["items"]} == {"carlini2024poisoning", "wan2023poisoning"}
    assert two.get("/api/v1/search?q=poisoning&kind=paper&phase=data").json()["total"] == 0
    body = two.get(f"/api/v1/search?q=oracles&kind=paper&phase=data&{SQ}").json()
    assert body["total"] == 0  # the mini survey's `data` paper on oracles is not in this one
    mini = two.get("/api/v1/search?q=oracles&kind=paper&phase=data").json()
    assert {i["citekey"] for i in mini["items"]} == {"delta2024"}
    # naming a survey leaves out the other survey's challenges and directions
    hits = two.get(f"/api/v1/search?q=data&{SQ}&per_page=100").json()["items"]
    taxo = [i for i in hits if i["kind"] != "paper"]
    assert taxo and all(i["survey"] == "llm-data-privacy" for i in taxo)
    assert two.get("/api/v1/search?q=data&survey=nope").status_code == 404


def test_search_page_keeps_the_survey_in_links_and_form(two):
    page = soup(two.get(f"/search?q=extraction&{SQ}"))
    assert page.select_one('#search-form input[name="survey"]')["value"] == "llm-data-privacy"
    challenge = page.select_one('.search-hits a.hit-title[href^="/challenges/"]')
    assert challenge["href"] == f"/challenges/verbatim-extraction?{SQ}"
    assert citekeys(soup(two.get(challenge["href"]))) >= {"carlini2021extracting"}
    kinds = page.select(".search-kinds a, [data-kind]")
    assert kinds and all(SQ in a["href"] for a in kinds if a.has_attr("href"))


def test_search_page_offers_the_surveys_and_switching_clears_taxonomy_filters(two):
    page = soup(two.get("/search?q=data&phase=data"))
    links = page.select(".search-surveys a")
    assert [a.get_text(strip=True) for a in links][0] == "All surveys"
    assert links[0].get("aria-current") == "true"
    privacy = next(a for a in links if "llm-data-privacy" in a["href"])
    assert "phase=" not in privacy["href"]  # the mini survey's `data` means nothing there
    scoped = soup(two.get(privacy["href"]))
    current = scoped.select_one('.search-surveys a[aria-current="true"]')
    assert current.get_text(strip=True).startswith("Training Data, Memorization")


def test_search_page_of_a_single_survey_has_no_survey_choice(client):
    assert soup(client.get("/search?q=oracles")).select(".search-surveys") == []


# --- curation keeps two surveys' `data` phases apart ------------------------------------------


@pytest.fixture
def two_editor(settings, engine, mini):
    from tests.conftest import make_user, sign_in

    load(engine, PRIVACY)
    make_user(settings, username="ed2", role="editor")
    with TestClient(create_app(settings)) as c:
        sign_in(c, "ed2")
        yield c


def _phase_links(c, citekey) -> set[tuple[str | None, str]]:
    body = c.get(f"/api/v1/papers/{citekey}").json()
    return {(p.get("survey"), p["slug"]) for p in body["phases"]}


def test_classifying_into_the_second_surveys_phase_links_that_phase(two_editor):
    c = two_editor
    form = soup(c.get("/papers/alpha2022/classify")).select_one("form.classify-form")
    values = [i["value"] for i in form.select('input[name="phase"]')]
    assert values == [
        "requirements",
        "data",
        "evaluation",
        "llm-data-privacy/data",
        "llm-data-privacy/memorization",
        "llm-data-privacy/mitigation",
    ]
    heads = [h.get_text(strip=True) for h in form.select(".classify-survey")]
    assert heads[1].startswith("Training Data, Memorization")
    before = _phase_links(c, "alpha2022")
    r = c.post(
        "/papers/alpha2022/classify",
        data={"csrf_token": c.csrf, "phase": [*values[:1], "llm-data-privacy/data"]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    after = _phase_links(c, "alpha2022")
    assert after - before == {("llm-data-privacy", "data")}  # not the mini survey's `data`
    form = soup(c.get("/papers/alpha2022/classify")).select_one("form.classify-form")
    checked = [i["value"] for i in form.select('input[name="phase"][checked]')]
    assert checked == ["requirements", "llm-data-privacy/data"]


def test_review_queue_names_the_survey_of_a_suggestion(two_editor, engine):
    from sqlalchemy import select as sa_select

    from app.models import Paper, PaperPhase, Phase, Survey

    with Session(engine) as s:
        pid = s.exec(sa_select(Paper.id).where(Paper.citekey == "alpha2022")).scalar_one()
        phase = s.exec(
            sa_select(Phase.id)
            .join(Survey, Survey.id == Phase.survey_id)
            .where(Survey.slug == "llm-data-privacy", Phase.slug == "data")
        ).scalar_one()
        s.add(PaperPhase(paper_id=pid, phase_id=phase, origin="suggested", score=0.9))
        s.commit()
    page = soup(two_editor.get("/review"))
    link = page.select_one('a[href^="/phases/data"]')
    assert link["href"] == f"/phases/data?{SQ}"
    body = two_editor.get("/api/v1/review").json()
    assert [(i["target"], i["survey"]) for i in body["items"]] == [("data", "llm-data-privacy")]
