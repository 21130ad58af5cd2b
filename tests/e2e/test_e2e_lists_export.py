"""Export the filtered list and read the downloaded file; build a reading list, reorder, reload."""

import csv
import io
import re

import pytest
from browser_kit import save_screenshot, wait_htmx_idle
from playwright.sync_api import expect

FILTERED = "/papers?phase=evaluation&type=inproceedings"
USER, PASSWORD = "e2e-editor", "e2e-password-42"


def _needs(page, watcher, path: str) -> None:
    watcher.expected_status.update({401, 403, 404})
    status = page.request.get(path, max_redirects=0).status
    watcher.expected_status.difference_update({401, 403, 404})
    if status == 404:
        pytest.skip(f"no {path} in this build")


@pytest.fixture(scope="module")
def editor(server):
    """An editor account, created with the CLI as an operator would."""
    done = server.cli("user", "create", USER, "--password", PASSWORD, check=False)
    assert done.returncode == 0 or "exists" in (done.stdout + done.stderr), done.stderr
    return USER


def sign_in(page) -> None:
    page.goto("/login?next=/lists")
    page.locator("input[name=username]").fill(USER)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.auth-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/lists$"))


def _titles(page) -> list[str]:
    return page.locator("#list-items .paper-title").all_inner_texts()


def test_export_downloads_exactly_the_filtered_view(page, watcher):
    _needs(page, watcher, "/export?format=bibtex")
    page.goto(FILTERED)
    total = int(re.match(r"\d+", page.locator("#results-h").inner_text()).group())
    first_href = page.locator("ol.paper-list .paper-title").first.get_attribute("href")

    page.locator(".export-menu > summary").first.click()
    with page.expect_download() as dl:
        page.locator(".export-menu a[data-format=bibtex]").first.click()
    text = open(dl.value.path(), encoding="utf-8").read()
    assert dl.value.suggested_filename.endswith((".bib", ".bibtex"))
    assert len(re.findall(r"^@\w+\{", text, re.M)) == total
    assert first_href.rsplit("/", 1)[1] in text

    csv_link = page.locator(".export-menu a[data-format=csv]").first
    if not csv_link.is_visible():
        page.locator(".export-menu > summary").first.click()
    with page.expect_download() as dl:
        csv_link.click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8-sig").read())))
    assert len(rows) == total


def test_build_a_reading_list_reorder_and_reload(page, watcher, editor):
    _needs(page, watcher, "/lists")
    sign_in(page)
    page.goto(FILTERED + "&year_from=2024&year_to=2024")
    page.locator("a.save-view").click()
    expect(page).to_have_url(re.compile(r"/lists/new\?"))
    page.locator("input[name=name]").fill("E2E reading list")
    page.locator("input[name=kind][value=snapshot]").check()
    page.locator("form.list-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/lists/[\w-]+$"))
    expect(page.locator("h1")).to_have_text("E2E reading list")
    before = _titles(page)
    assert len(before) >= 3

    page.locator("#list-items .list-item").nth(1).locator("button.move-up").click()
    wait_htmx_idle(page)
    after = _titles(page)
    assert after == [before[1], before[0], *before[2:]]

    page.reload()
    assert _titles(page) == after, "the new order is stored, not just shown"
    save_screenshot(page, "list")

    page.goto("/lists")
    expect(page.locator("main a", has_text="E2E reading list").first).to_be_visible()


def test_nojs_reading_list_create_and_reorder(make_page, watcher, editor):
    page = make_page(java_script_enabled=False)
    _needs(page, watcher, "/lists")
    sign_in(page)
    page.goto(FILTERED + "&year_from=2023&year_to=2023")
    page.locator("a.save-view").click()
    page.locator("input[name=name]").fill("No-JS list")
    page.locator("input[name=kind][value=snapshot]").check()
    page.locator("form.list-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("No-JS list")
    before = _titles(page)
    assert len(before) >= 2
    page.locator("#list-items .list-item").first.locator("button.move-down").click()
    expect(page.locator("#list-items .paper-title").first).to_have_text(before[1])
    page.reload()
    assert _titles(page) == [before[1], before[0], *before[2:]]
