"""Imports postpone full garbage-collector passes only while they run."""

import gc
import threading

import pytest

from app.errors import BadRequest
from app.services import imports

NEW = "@article{gcpaper2024, title = {Collecting Garbage Politely}, year = {2024}}\n"


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_thresholds_come_back_after_an_import_and_after_a_failed_one(thresholds, mini, do_import):
    seen = []
    real_plan = imports.plan_import

    def spy(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real_plan(*args, **kwargs)

    imports.plan_import = spy
    try:
        rep = do_import(NEW)
    finally:
        imports.plan_import = real_plan
    assert [a["citekey"] for a in rep.added] == ["gcpaper2024"]
    assert seen and seen[0][2] >= imports.FULL_GC_EVERY  # postponed while it ran
    assert gc.get_threshold() == thresholds
    with pytest.raises(BadRequest):
        do_import("no entries here")
    assert gc.get_threshold() == thresholds


def test_overlapping_imports_restore_the_setting_once_the_last_ends(thresholds):
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    during: list[tuple[int, int, int]] = []

    def first():
        with imports.few_full_collections():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    t = threading.Thread(target=first)
    t.start()
    a_in.wait(5)
    with imports.few_full_collections():
        b_in.set()
        a_out.wait(5)
        during.append(gc.get_threshold())  # the first one ended; this one still runs
    t.join(5)
    assert during[0][2] >= imports.FULL_GC_EVERY
    assert gc.get_threshold() == thresholds
