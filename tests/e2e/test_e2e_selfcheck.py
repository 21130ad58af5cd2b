"""The watchers themselves can fail: planted problems are caught."""

import pytest
from browser_kit import PHONE, Watcher, assert_no_horizontal_overflow


def test_watcher_catches_console_errors_exceptions_and_bad_requests(browser, server):
    watcher = Watcher()
    context = browser.new_context(base_url=server.url)
    context.on("page", watcher.attach)
    page = context.new_page()
    page.route("**/planted-failure", lambda route: route.abort("connectionrefused"))
    page.goto("/")
    page.evaluate("() => console.error('planted')")
    page.evaluate("() => setTimeout(() => { throw new Error('boom'); })")
    page.evaluate("() => fetch('/static/no-such-file.css').catch(() => {})")
    page.evaluate("() => fetch('/planted-failure').catch(() => {})")
    page.wait_for_timeout(300)
    context.close()
    text = "\n".join(watcher.problems)
    assert "planted" in text
    assert "boom" in text
    assert "HTTP 404" in text and "no-such-file.css" in text
    assert "request failed" in text and "planted-failure" in text
    with pytest.raises(AssertionError):
        watcher.check()


def test_overflow_check_catches_a_wide_element(make_page):
    page = make_page(viewport=PHONE)
    page.goto("/")
    assert_no_horizontal_overflow(page)
    page.evaluate(
        "() => document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<p style=\"white-space:nowrap\">' + 'x'.repeat(200) + '</p>')"
    )
    with pytest.raises(AssertionError):
        assert_no_horizontal_overflow(page)
