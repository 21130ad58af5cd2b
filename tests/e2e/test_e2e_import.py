"""Import BibTeX in the browser: sign in, upload a file with a duplicate and a broken entry,
read the preview, commit, watch the progress, read the report. Runs on a server of its own so
the papers it adds do not show up in the other tests' screenshots."""

import json
import re
import urllib.request

import pytest
from browser_kit import (
    DESKTOP,
    PHONE,
    assert_no_horizontal_overflow,
    format_violations,
    run_axe,
    save_screenshot,
)
from playwright.sync_api import expect

USER, PASSWORD = "e2e-importer", "e2e-password-43"


@pytest.fixture(scope="module")
def site(own_server):
    done = own_server.cli("user", "create", USER, "--password", PASSWORD, check=False)
    assert done.returncode == 0, done.stderr
    return own_server


def _paper_with_doi(site) -> dict:
    with urllib.request.urlopen(site.url + "/api/v1/papers?per_page=200", timeout=10) as r:
        items = json.load(r)["items"]
    return next(p for p in items if p.get("doi"))


def _bib(dup: dict) -> str:
    return (
        "@misc{e2eNewPaper2031,\n"
        "  title = {Zebra Crossings for Quokkas: An Entirely New Paper},\n"
        "  author = {Tester, Ada and Runner, Bob},\n"
        "  year = {2031},\n"
        "  howpublished = {Preprint},\n"
        "}\n\n"
        f"@article{{e2eDuplicate,\n  title = {{{dup['title']}}},\n"
        f"  author = {{Someone, Else}},\n  year = {{{dup['year'] or 2024}}},\n"
        f"  doi = {{https://doi.org/{dup['doi']}}},\n}}\n\n"
        "@article{e2eBroken,\n  title = {Missing the closing brace,\n  year = 2020\n\n"
        "@misc{e2eAfterBroken,\n  title = {Still Read After the Broken One},\n"
        "  author = {Later, Lou},\n  year = {2032},\n}\n"
    )


def test_upload_preview_commit_progress_report(make_page, site, tmp_path, axe_source):
    page = make_page(on=site)
    page.goto("/import")
    expect(page).to_have_url(re.compile(r"/login"))  # signed-in editors only
    page.locator("input[name=username]").fill(USER)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.auth-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/import$"))

    dup = _paper_with_doi(site)
    bib = tmp_path / "mixed.bib"
    bib.write_text(_bib(dup), encoding="utf-8")
    page.locator("input[type=file][name=file]").set_input_files(str(bib))
    page.locator("form.import-upload button[type=submit]").click()

    # The preview: nothing stored yet, every entry classified.
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.locator("h1")).to_have_text("Import of mixed.bib")
    statuses = page.locator("tr.import-row").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses.count("new") >= 2
    assert statuses.count("duplicate") == 1
    assert "invalid" in statuses
    dup_row = page.locator("tr.import-row-duplicate")
    expect(dup_row.locator(".import-why a")).to_have_text(dup["citekey"])
    broken = page.locator("tr.import-row-invalid").first
    expect(broken.locator(".import-line")).not_to_have_text("")
    expect(broken.locator(".import-reason")).not_to_have_text("")
    save_screenshot(page, "import-preview")
    page.set_viewport_size(PHONE)
    assert_no_horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)
    assert not run_axe(page, axe_source), format_violations(run_axe(page, axe_source))
    with urllib.request.urlopen(site.url + "/api/v1/papers?q=Quokkas", timeout=10) as r:
        assert json.load(r)["total"] == 0, "the preview stores nothing"

    # Commit, watch the progress block, land on the report.
    seen_progress = []
    page.on(
        "response",
        lambda r: seen_progress.append(r.status) if r.url.endswith("/status") else None,
    )
    page.locator("button.import-commit").click()
    expect(page.locator("#import-status h2")).to_have_text("Imported", timeout=30_000)
    expect(page.locator(".import-count[data-kind=added]")).to_have_text(
        re.compile(r"^[2-9]\d* added")
    )
    expect(page.locator(".import-count[data-kind=merged]")).to_have_text("1 merged")
    expect(page.locator(".import-count[data-kind=failed]")).not_to_have_text("0 failed")
    assert all(s == 200 for s in seen_progress)
    assert not run_axe(page, axe_source), format_violations(run_axe(page, axe_source))

    # The new paper is a real page now, and the original file is kept.
    page.locator("tr.import-row a", has_text="open").first.click()
    expect(page.locator("h1")).to_have_text(re.compile(r"Zebra Crossings|Still Read"))
    page.go_back()
    with page.expect_download() as dl:
        page.locator("a.import-download").click()
    assert open(dl.value.path(), encoding="utf-8").read() == bib.read_text(encoding="utf-8")
