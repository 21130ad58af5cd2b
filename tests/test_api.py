"""JSON API shapes, filters and facet counts against the hand-counted survey, and 404s."""

import pytest


def facet(body, name):
    return {o["value"]: o["count"] for o in body["facets"][name]}


def test_phases_in_order_with_counts(client):
    body = client.get("/api/v1/phases").json()
    assert [p["slug"] for p in body] == ["requirements", "data", "evaluation"]
    assert [(p["challenge_count"], p["direction_count"], p["paper_count"]) for p in body] == [
        (2, 2, 4),
        (1, 1, 4),
        (1, 0, 2),
    ]


def test_phase_detail_has_challenges_and_directions(client):
    body = client.get("/api/v1/phases/requirements").json()
    assert [c["slug"] for c in body["challenges"]] == ["vague-goals", "conflicting-needs"]
    vague = body["challenges"][0]
    assert vague["source"] == "survey" and vague["paper_count"] == 2
    assert sorted(vague["directions"]) == ["goal-templates", "stakeholder-workshops"]
    ws = body["directions"][1]
    assert ws["slug"] == "stakeholder-workshops" and ws["source"] == "editorial"
    assert sorted(ws["challenges"]) == ["conflicting-needs", "vague-goals"]


def test_challenge_and_direction_detail(client):
    ch = client.get("/api/v1/challenges/noisy-labels").json()
    assert ch["phase"] == "data" and ch["directions"] == ["label-audits"]
    assert sorted(p["citekey"] for p in ch["papers"]) == ["delta2024", "gamma2023"]
    di = client.get("/api/v1/directions/goal-templates").json()
    assert di["challenges"] == ["vague-goals"]
    assert [p["citekey"] for p in di["papers"]] == ["alpha2022"]


def test_paper_list_shape_and_facets_unfiltered(client):
    body = client.get("/api/v1/papers").json()
    assert set(body) == {"items", "total", "page", "per_page", "facets"}
    assert body["total"] == 6 and body["page"] == 1 and body["per_page"] == 25
    item = body["items"][0]
    assert {"citekey", "title", "authors", "year", "venue", "phases"} <= set(item)
    assert facet(body, "phase") == {"requirements": 4, "data": 4, "evaluation": 2}
    assert facet(body, "year") == {"2024": 2, "2023": 2, "2022": 1, "2021": 1}
    assert facet(body, "venue") == {"IEEE Software": 2, "ICSE": 2, "arXiv": 1}
    assert facet(body, "type") == {"misc": 2, "article": 2, "inproceedings": 2}
    # newest first, then title
    assert [i["year"] for i in body["items"]] == [2024, 2024, 2023, 2023, 2022, 2021]


def test_or_within_a_facet_and_across_facets(client):
    body = client.get("/api/v1/papers?phase=evaluation&phase=requirements").json()
    assert body["total"] == 5  # 4 requirements + delta2024 (mini2024survey is in both)
    body = client.get("/api/v1/papers?phase=data&venue=ICSE").json()
    assert [i["citekey"] for i in body["items"]] == ["gamma2023"]
    # a facet's own counts ignore its own selection but honour the others
    assert facet(body, "phase") == {"requirements": 1, "data": 1}
    assert facet(body, "venue") == {"IEEE Software": 1, "ICSE": 1, "arXiv": 1}


def test_year_range_sort_and_pagination(client):
    body = client.get("/api/v1/papers?year_from=2022&year_to=2023&sort=title").json()
    assert [i["citekey"] for i in body["items"]] == ["alpha2022", "beta2023", "gamma2023"]
    p1 = client.get("/api/v1/papers?per_page=4&sort=oldest").json()
    p2 = client.get("/api/v1/papers?per_page=4&sort=oldest&page=2").json()
    assert p1["total"] == p2["total"] == 6
    keys = [i["citekey"] for i in p1["items"] + p2["items"]]
    assert len(keys) == len(set(keys)) == 6
    assert keys[0] == "epsilon2021"


def test_paper_detail_keeps_fields_and_raw_bibtex(client):
    body = client.get("/api/v1/papers/alpha2022").json()
    assert body["authors"] == ["Jörg Müller", "Jane Smith"]
    assert body["fields"]["author"] == 'M{\\"u}ller, J{\\"o}rg and Smith, Jane'
    assert body["raw_bibtex"].startswith("@article{alpha2022")
    assert body["challenges"][0]["slug"] == "vague-goals"


def test_corporate_author_and_escaped_title(client):
    body = client.get("/api/v1/papers/epsilon2021").json()
    assert body["authors"] == ["The Epsilon Consortium"]
    assert body["title"] == "Epsilon: Notes on Requirements & Data"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/phases/nope",
        "/api/v1/challenges/nope",
        "/api/v1/directions/nope",
        "/api/v1/papers/nope",
        "/api/v1/nope",
    ],
)
def test_404s_are_json(client, url):
    r = client.get(url)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()


def test_bad_parameters_are_422_json(client):
    r = client.get("/api/v1/papers?page=0")
    assert r.status_code == 422 and "detail" in r.json()
    r = client.get("/api/v1/papers?sort=evil")
    assert r.status_code == 422


def test_healthz_and_openapi(client):
    assert client.get("/api/v1/healthz").json() == {"status": "ok", "database": "ok", "papers": 6}
    assert client.get("/docs").status_code == 200
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/papers" in spec["paths"]
