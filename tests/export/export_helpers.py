"""Build ExportRecords straight from BibTeX text (pure, no database)."""

from pathlib import Path

from app.bibtex import parse_bibtex, to_record
from app.bibtex.writers import ExportRecord, Person, Term

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bibtex"


def records_from_bib(text: str, links: dict | None = None) -> list[ExportRecord]:
    out = []
    for entry in parse_bibtex(text).entries:
        r = to_record(entry)
        out.append(
            ExportRecord(
                citekey=r.citekey,
                entry_type=r.entry_type,
                title=r.title,
                authors=[
                    Person(n.display, "") if n.corporate else Person(n.full_family, n.given)
                    for n in r.authors
                ],
                year=r.year,
                venue=r.venue,
                doi=r.doi,
                arxiv_id=r.arxiv_id,
                url=r.url,
                abstract=r.abstract,
                fields=dict(r.fields),
                **((links or {}).get(r.citekey, {})),
            )
        )
    return out


def term(slug, label=None, phase=""):
    return Term(slug, label or slug.replace("-", " ").title(), phase)


def corpus_files(max_bytes: int = 600_000) -> list[Path]:
    return sorted(p for p in CORPORA.rglob("*.bib") if p.stat().st_size <= max_bytes)


def read_any(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "utf-16", "cp1252", "latin-1"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        return text
    return data.decode("latin-1")
