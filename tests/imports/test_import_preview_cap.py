"""A big file's preview shows a capped number of rows: the person is told so, the counts cover
the whole file, and no invalid entry or probable duplicate is hidden by the cap."""

from bs4 import BeautifulSoup

from app.web import import_routes

N_NEW, N_BAD = 100, 15


def _bib() -> bytes:
    good = "".join(
        f"@article{{cap{i},\n  title = {{Capped Preview Paper Number {i}}},\n"
        f"  author = {{Tester, T}},\n  year = {{2021}},\n}}\n"
        for i in range(N_NEW)
    )
    dup = "@article{alpha2022again,\n  title = {Alpha},\n  doi = {10.1109/MS.2022.1},\n}\n"
    bad = "".join(f"@article{{{{bad{i}, title = x}}\n" for i in range(N_BAD))
    return (good + dup + bad).encode()


def test_capped_preview_says_so_counts_everything_and_shows_every_error(editor_client, monkeypatch):
    monkeypatch.setattr(import_routes, "PREVIEW_LIMIT", 40)
    c = editor_client
    r = c.post(
        "/import",
        data={"csrf_token": c.csrf},
        files={"file": ("big.bib", _bib())},
        follow_redirects=False,
    )
    page = BeautifulSoup(c.get(r.headers["location"]).text, "html.parser")
    total = N_NEW + 1 + N_BAD
    counts = {
        s["data-kind"]: s.get_text(strip=True) for s in page.select(".import-summary .import-count")
    }
    assert counts["new"] == f"{N_NEW} new"
    assert counts["duplicate"] == "1 duplicate"
    assert counts["invalid"] == f"{N_BAD} invalid"
    rows = page.select("tr.import-row")
    assert len(rows) == 40
    statuses = [tr["data-status"] for tr in rows]
    assert statuses.count("invalid") == N_BAD  # all errors, though they come last in the file
    assert statuses.count("new") == 40 - N_BAD
    lines = [int(tr.select_one(".import-line").get_text()) for tr in rows]
    assert lines == sorted(lines)  # file order
    note = page.select_one(".import-capped").get_text(" ", strip=True)
    assert f"Showing 40 of {total} entries" in note
    assert f"all {N_BAD} invalid entries" in note
    assert f"the {total - 40} entries not shown" in note and "default action" in note


def test_shown_rows_keeps_errors_beyond_the_cap():
    rows = [{"status": "new"}] * 10 + [{"status": "invalid", "n": i} for i in range(5)]
    shown = import_routes.shown_rows(rows, 3)
    assert [r["status"] for r in shown].count("invalid") == 5  # never hidden, even over the cap
    assert import_routes.shown_rows(rows, 100) == rows
