"""Every real-world file in ../shared/corpora/bibtex parses, and every entry is accounted for."""

import json
from pathlib import Path

import pytest

from app.bibtex.parse import parse_bytes
from app.bibtex.record import to_record
from app.config import PROJECT_ROOT

CORPUS = Path(PROJECT_ROOT).parent / "shared" / "corpora" / "bibtex"
pytestmark = pytest.mark.skipif(
    not (CORPUS / "measured.json").exists(),
    reason=f"the shared BibTeX corpus is not at {CORPUS} (it lives beside the repository)",
)


def _measured() -> list[dict]:
    if not (CORPUS / "measured.json").exists():
        return []
    return json.loads((CORPUS / "measured.json").read_text())


@pytest.mark.parametrize("item", _measured(), ids=lambda m: m["path"].split("/")[-1])
def test_every_entry_block_is_accounted_for(item):
    path = CORPUS / item["path"]
    r = parse_bytes(path.read_bytes())
    bp = item["bp"]
    # bibtexparser's entry-like blocks: parsed entries + failed blocks + duplicate-key blocks.
    expected = bp["entries"] + bp["failed"] + bp["duplicates"]
    assert r.total == expected, [str(p) for p in r.failed + r.skipped]
    # we never keep fewer than bibtexparser (@xdata containers are skipped, not lost)
    assert len(r.entries) + len(r.skipped) >= bp["entries"]
    for entry in r.entries:
        rec = to_record(entry)
        assert rec.citekey and rec.title
        assert "\x00" not in rec.raw_bibtex and "\x00" not in rec.title


def test_all_bib_files_are_listed_in_measured():
    listed = {m["path"] for m in _measured()}
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.bib")}
    assert on_disk <= listed
