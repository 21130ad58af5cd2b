"""Markdown reading list, grouped by phase then challenge (GitHub-flavoured)."""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.bibtex.writers.record import ExportRecord, Term

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
STATUS_LABEL = {"to-read": "to read", "reading": "reading", "read": "read"}


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _url(value: str | None) -> str | None:
    v = (value or "").strip()
    if not v.lower().startswith(("http://", "https://")):
        return None
    return v.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _authors(rec: ExportRecord, limit: int = 8) -> str:
    names = [p.display for p in rec.authors]
    if len(names) > limit:
        names = names[: limit - 1] + ["et al."]
    return ", ".join(names)


def entry_markdown(rec: ExportRecord) -> str:
    title = md_escape(rec.title or rec.citekey)
    meta = []
    if rec.authors:
        meta.append(md_escape(_authors(rec)))
    if rec.year:
        meta.append(f"({rec.year})")
    head = f"- **{title}**"
    if meta:
        head += " — " + " ".join(meta)
    if rec.venue:
        head += f". *{md_escape(rec.venue)}*"
    links = []
    if rec.doi:
        links.append(f"[DOI]({_url('https://doi.org/' + rec.doi)})")
    if rec.arxiv_id:
        links.append(f"[arXiv](https://arxiv.org/abs/{rec.arxiv_id})")
    url = _url(rec.url)
    if url and not (rec.arxiv_id and "arxiv.org" in url):
        links.append(f"[Link]({url})")
    tail = [f"`{rec.citekey.replace('`', '')}`"] + links
    if rec.status:
        tail.append(f"status: {STATUS_LABEL.get(rec.status, md_escape(rec.status))}")
    lines = [head, "  " + " · ".join(tail)]
    if rec.note:
        lines += ["  > " + md_escape(line) for line in rec.note.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


@dataclass
class Group:
    phase: Term | None
    challenge: Term | None
    records: Iterable[ExportRecord] = field(default_factory=list)


def iter_markdown_groups(
    groups: Iterable[Group], *, title: str = "Reading list", intro: str = ""
) -> Iterator[str]:
    """Headings are written only for groups that have papers (groups may be lazy iterables)."""
    yield f"# {md_escape(title)}\n\n"
    if intro:
        yield "\n".join(md_escape(p) for p in intro.split("\n\n")) + "\n\n"
    last_phase: object = object()
    wrote = False
    for g in groups:
        started = False
        for rec in g.records:
            if not started:
                key = g.phase.slug if g.phase else None
                if key != last_phase:
                    name = g.phase.label if g.phase else "Not placed in a phase"
                    yield f"## {md_escape(name)}\n\n"
                    last_phase = key
                if g.phase is not None:
                    sub = g.challenge.label if g.challenge else "Other papers in this phase"
                    yield f"### {md_escape(sub)}\n\n"
                started = True
                wrote = True
            yield entry_markdown(rec)
        if started:
            yield "\n"
    if not wrote:
        yield "_No papers._\n"


def group_records(
    records: Iterable[ExportRecord], phase_order: list[str] | None = None
) -> list[Group]:
    """Group in memory (for small lists): each paper under each of its phases and challenges."""
    phases: dict[str, Term] = {}
    buckets: dict[tuple[str | None, str | None], list[ExportRecord]] = {}
    challenges: dict[str, Term] = {}
    for rec in records:
        if not rec.phases:
            buckets.setdefault((None, None), []).append(rec)
        for p in rec.phases:
            phases.setdefault(p.slug, p)
            mine = [c for c in rec.challenges if c.phase == p.slug]
            for c in mine:
                challenges.setdefault(c.slug, c)
                buckets.setdefault((p.slug, c.slug), []).append(rec)
            if not mine:
                buckets.setdefault((p.slug, None), []).append(rec)
    order = list(phase_order or []) + [s for s in phases if s not in (phase_order or [])]
    out: list[Group] = []
    for ps in order:
        if ps not in phases:
            continue
        for (bp, bc), recs in buckets.items():
            if bp == ps and bc is not None:
                out.append(Group(phases[ps], challenges[bc], recs))
        if (ps, None) in buckets:
            out.append(Group(phases[ps], None, buckets[(ps, None)]))
    if (None, None) in buckets:
        out.append(Group(None, None, buckets[(None, None)]))
    return out


def iter_markdown(records: Iterable[ExportRecord], **kw) -> Iterator[str]:
    return iter_markdown_groups(group_records(records), **kw)


def write_markdown(records: Iterable[ExportRecord], **kw) -> str:
    return "".join(iter_markdown(records, **kw))
