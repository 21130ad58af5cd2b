"""Front doors: the browser flow at /import, the JSON API, sign-in and the size limit."""

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_user, sign_in

NEW = b"""@article{webnew2024,
  title = {Curating Noisy Labels for Training Data},
  author = {Doe, Jane},
  year = {2024},
  doi = {10.5555/web.1},
}
@article{alpha2022dup,
  title = {Alpha},
  doi = {10.1109/MS.2022.1},
}
@article{broken,
  title = {never closed

"""


def soup(r):
    return BeautifulSoup(r.text, "html.parser")


def test_nav_has_import_link(client):
    links = [a.get_text(strip=True) for a in soup(client.get("/")).select("nav a")]
    assert "Import" in links


def test_anonymous_is_sent_to_sign_in(client):
    r = client.get("/import", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.post("/api/v1/imports", files={"file": ("a.bib", NEW)})
    assert r.status_code == 401


def test_upload_preview_commit_report(editor_client):
    c = editor_client
    page = soup(c.get("/import"))
    assert page.select_one("form.import-upload input[type=file][name=file]")
    r = c.post(
        "/import",
        data={"csrf_token": c.csrf},
        files={"file": ("mine.bib", NEW)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    page = soup(c.get(url))
    statuses = [tr["data-status"] for tr in page.select("tr.import-row")]
    assert statuses == ["new", "duplicate", "invalid"]
    dup = page.select_one("tr.import-row-duplicate .import-why")
    assert "alpha2022" in dup.get_text() and "DOI" in dup.get_text()
    invalid = page.select_one("tr.import-row-invalid")
    assert invalid.select_one(".import-line").get_text(strip=True) == "11"
    assert "unterminated" in invalid.select_one(".import-reason").get_text()
    assert page.select_one("tr.import-row-new .import-phase")  # a suggested phase
    # nothing stored yet
    assert c.get("/papers/webnew2024").status_code == 404
    form = page.select_one("form.import-preview")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    for sel in form.select("select"):
        data[sel["name"]] = sel.select_one("option[selected]")["value"]
    r = c.post(form["action"], data=data, follow_redirects=True)
    page = soup(r)
    counts = {s["data-kind"]: s.get_text() for s in page.select(".import-summary .import-count")}
    assert counts["added"].startswith("1") and counts["merged"].startswith("1")
    assert counts["failed"].startswith("1")
    assert c.get("/papers/webnew2024").status_code == 200
    dl = c.get(page.select_one("a.import-download")["href"])
    assert dl.status_code == 200 and dl.content == NEW


def test_skip_choice_is_respected(editor_client):
    c = editor_client
    r = c.post("/import", data={"csrf_token": c.csrf}, files={"file": ("m.bib", NEW)})
    form = soup(r).select_one("form.import-preview")
    c.post(form["action"], data={"csrf_token": c.csrf, "choice-0": "skip"})
    assert c.get("/papers/webnew2024").status_code == 404


def test_upload_without_csrf_is_refused(editor_client):
    r = editor_client.post("/import", files={"file": ("m.bib", NEW)})
    assert r.status_code == 403


def test_status_fragment_polls_until_done(editor_client):
    c = editor_client
    r = c.post(
        "/import",
        data={"csrf_token": c.csrf},
        files={"file": ("m.bib", NEW)},
        follow_redirects=False,
    )
    job_url = r.headers["location"]
    frag = c.get(job_url + "/status", headers={"HX-Request": "true"})
    assert frag.headers["vary"] == "HX-Request"
    assert soup(frag).select_one("#import-status")


def test_api_post_and_poll(editor_client):
    c = editor_client
    r = c.post("/api/v1/imports", files={"file": ("a.bib", NEW)}, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 202
    job = r.json()
    body = c.get(job["url"]).json()
    assert body["status"] == "done"
    rep = body["report"]
    assert [a["key"] for a in rep["added"]] == ["webnew2024"]
    assert [m["citekey"] for m in rep["merged"]] == ["alpha2022"]
    assert rep["failed"][0] == {
        "key": "broken",
        "line": 11,
        "citekey": None,
        "reason": rep["failed"][0]["reason"],
    }


def test_api_dry_run_writes_nothing(editor_client):
    c = editor_client
    r = c.post(
        "/api/v1/imports",
        files={"file": ("a.bib", NEW)},
        data={"dry_run": "true"},
        headers={"X-CSRF-Token": c.csrf},
    )
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert len(r.json()["added"]) == 1
    assert c.get("/papers/webnew2024").status_code == 404


def _over_the_limit(mb: int) -> bytes:
    """A readable BibTeX file exactly one byte over `mb` MB (MiB)."""
    head = b"@article{big2024,\n  title = {Big},\n  note = {"
    tail = b"},\n}\n"
    return head + b"x" * (mb * 1024 * 1024 + 1 - len(head) - len(tail)) + tail


LIMIT_TEXT = "over the import limit of 1 MB (1,048,576 bytes, set by SURVEYKB_MAX_UPLOAD_MB)"


def test_the_import_limit_is_the_upload_setting(settings):
    assert settings.import_max_bytes == settings.max_upload_mb * 1024 * 1024
    settings.max_upload_mb = 3
    assert settings.import_max_bytes == 3 * 1024 * 1024


def test_a_file_just_over_the_upload_limit_gets_413_from_the_import_route(settings, mini):
    settings.max_upload_mb = 1
    make_user(settings, username="ed", role="editor")
    big = _over_the_limit(1)
    assert len(big) == 1024 * 1024 + 1
    with TestClient(create_app(settings)) as c:
        sign_in(c, "ed")
        r = c.post(
            "/api/v1/imports", files={"file": ("big.bib", big)}, headers={"X-CSRF-Token": c.csrf}
        )
        assert r.status_code == 413
        assert r.json()["detail"] == (
            f"The file is 1.0 MB (1,048,577 bytes), {LIMIT_TEXT}. "
            "Split it into smaller files and import them one after the other."
        )
        r = c.post("/import", data={"csrf_token": c.csrf}, files={"file": ("big.bib", big)})
        assert r.status_code == 413
        assert LIMIT_TEXT in " ".join(soup(r).select_one("main").get_text().split())
        # One byte less, exactly at the limit, is accepted (multipart framing does not count).
        ok = big.replace(b"x", b"", 1)
        assert len(ok) == 1024 * 1024
        r = c.post(
            "/api/v1/imports", files={"file": ("ok.bib", ok)}, headers={"X-CSRF-Token": c.csrf}
        )
        assert r.status_code == 202
        assert c.get("/import").status_code == 200
        form_hint = soup(c.get("/import")).select_one("p.hint").get_text()
        assert "up to 1 MB" in form_hint


def test_no_entries_is_a_clear_400(editor_client):
    c = editor_client
    r = c.post(
        "/api/v1/imports", files={"file": ("a.bib", b"just text")}, headers={"X-CSRF-Token": c.csrf}
    )
    assert r.status_code == 400 and "No BibTeX entries" in r.json()["detail"]


def test_unknown_job_is_404(editor_client):
    assert editor_client.get("/imports/999").status_code == 404
    assert editor_client.get("/api/v1/imports/999").status_code == 404
