"""Load and validate a survey description (survey.yaml + papers.bib) into plain values.

Pure: text in, values out, so every validation rule is easy to test. Errors name the file, the
line and what is wrong, and all of them are collected before anything is reported.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.bibtex import PaperRecord, parse_bibtex, to_record
from app.bibtex.record import split_list

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SOURCES = ("survey", "editorial")
LINK_FIELDS = ("phases", "challenges", "directions")
# The link fields annotate the shipped .bib for this knowledge base; they are not bibliographic
# data, so they are taken out of the raw entry that users copy and export.
_LINK_FIELD_LINE = re.compile(
    r"^[ \t]*(?:phases|challenges|directions)[ \t]*=[ \t]*\{[^{}]*\}[ \t]*,?[ \t]*\r?\n",
    re.I | re.M,
)


@dataclass
class TaxonomyProblem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or '?'}: {self.message}"


class TaxonomyError(Exception):
    """One or more problems in a survey description; str() lists them all."""

    def __init__(self, problems: list[TaxonomyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ItemSpec:
    slug: str
    title: str
    description: str
    source: str
    line: int
    addresses: list[str] = field(default_factory=list)
    retired: bool = False


@dataclass
class PhaseSpec:
    slug: str
    name: str
    summary: str
    line: int
    challenges: list[ItemSpec] = field(default_factory=list)
    directions: list[ItemSpec] = field(default_factory=list)


@dataclass
class SurveySpec:
    slug: str
    title: str
    citekey: str | None
    authors: list[str]
    year: int | None
    url: str | None
    description: str
    citation: str
    phases: list[PhaseSpec] = field(default_factory=list)


@dataclass
class SurveyPaper:
    record: PaperRecord
    phases: list[str]
    challenges: list[str]
    directions: list[str]


@dataclass
class SurveyBundle:
    spec: SurveySpec
    papers: list[SurveyPaper]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the 1-based line of every mapping under '__line__'."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_survey_yaml(text: str, filename: str = "survey.yaml") -> SurveySpec:
    """Validate survey.yaml text and return the spec, or raise TaxonomyError."""
    problems: list[TaxonomyProblem] = []

    def bad(line, msg):
        problems.append(TaxonomyProblem(filename, line, msg))

    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise TaxonomyError(
            [TaxonomyProblem(filename, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    if not isinstance(doc, dict):
        raise TaxonomyError([TaxonomyProblem(filename, 1, "expected a mapping at the top level")])

    def text_of(m: dict, key: str, required=True) -> str:
        v = m.get(key)
        if v is None or (isinstance(v, str) and not v.strip()):
            if required:
                bad(m.get("__line__"), f"missing '{key}'")
            return ""
        if not isinstance(v, str | int | float):
            bad(m.get("__line__"), f"'{key}' must be text")
            return ""
        return " ".join(str(v).split())

    meta = doc.get("survey")
    if not isinstance(meta, dict):
        raise TaxonomyError([TaxonomyProblem(filename, 1, "missing 'survey' section")])
    slug = text_of(meta, "slug")
    if slug and not SLUG_RE.match(slug):
        bad(meta["__line__"], f"survey slug '{slug}' must be lowercase words joined by hyphens")
    authors = meta.get("authors") or []
    if not isinstance(authors, list):
        bad(meta["__line__"], "'authors' must be a list")
        authors = []
    year = meta.get("year")
    spec = SurveySpec(
        slug=slug,
        title=text_of(meta, "title"),
        citekey=text_of(meta, "citekey", required=False) or None,
        authors=[str(a) for a in authors],
        year=int(year) if isinstance(year, int) else None,
        url=text_of(meta, "url", required=False) or None,
        description=text_of(meta, "description", required=False),
        citation=text_of(meta, "citation", required=False),
    )
    if not spec.citation:
        names = ", ".join(spec.authors)
        spec.citation = f"{names}. {spec.title}. {spec.year or ''}".strip(". ")

    phases = doc.get("phases")
    if not isinstance(phases, list) or not phases:
        bad(doc.get("__line__"), "'phases' must be a non-empty list")
        phases = []
    taken: dict[str, int] = {}
    phase_slugs: set[str] = set()

    def item(m, kind: str, phase_line: int) -> ItemSpec | None:
        if not isinstance(m, dict):
            bad(phase_line, f"each {kind} must be a mapping")
            return None
        line = m["__line__"]
        s = text_of(m, "slug")
        if s and not SLUG_RE.match(s):
            bad(line, f"{kind} slug '{s}' must be lowercase words joined by hyphens")
        if s in taken:
            bad(line, f"slug '{s}' is already used on line {taken[s]}")
        elif s:
            taken[s] = line
        source = text_of(m, "source") or "survey"
        if source not in SOURCES:
            bad(line, f"{kind} '{s}': source must be 'survey' or 'editorial', not '{source}'")
        addresses = m.get("addresses") or []
        if not isinstance(addresses, list):
            bad(line, f"{kind} '{s}': 'addresses' must be a list of challenge slugs")
            addresses = []
        return ItemSpec(
            slug=s,
            title=text_of(m, "title"),
            description=text_of(m, "description"),
            source=source,
            line=line,
            addresses=[str(a) for a in addresses],
            retired=m.get("retired") is True,
        )

    for p in phases:
        if not isinstance(p, dict):
            bad(doc.get("__line__"), "each phase must be a mapping")
            continue
        line = p["__line__"]
        ps = text_of(p, "slug")
        if ps and not SLUG_RE.match(ps):
            bad(line, f"phase slug '{ps}' must be lowercase words joined by hyphens")
        if ps in phase_slugs:
            bad(line, f"phase slug '{ps}' appears twice")
        phase_slugs.add(ps)
        phase = PhaseSpec(ps, text_of(p, "name"), text_of(p, "summary", required=False), line)
        for key, target in (("challenges", phase.challenges), ("directions", phase.directions)):
            items = p.get(key) or []
            if not isinstance(items, list):
                bad(line, f"phase '{ps}': '{key}' must be a list")
                continue
            for m in items:
                it = item(m, key[:-1], line)
                if it:
                    target.append(it)
        own = {c.slug for c in phase.challenges}
        for d in phase.directions:
            for a in d.addresses:
                if a not in own:
                    bad(d.line, f"direction '{d.slug}' addresses '{a}', not a challenge of '{ps}'")
        spec.phases.append(phase)
    if problems:
        raise TaxonomyError(problems)
    return spec


def parse_survey_papers(spec: SurveySpec, text: str, filename: str = "papers.bib") -> list:
    """Parse the survey's .bib and check its phases/challenges/directions fields."""
    problems: list[TaxonomyProblem] = []
    result = parse_bibtex(text)
    for f in result.failed:
        problems.append(TaxonomyProblem(filename, f.line, f"entry {f.key or '?'}: {f.reason}"))
    phase_of: dict[str, dict[str, str]] = {"phases": {}, "challenges": {}, "directions": {}}
    for p in spec.phases:
        phase_of["phases"][p.slug] = p.slug
        for c in p.challenges:
            phase_of["challenges"][c.slug] = p.slug
        for d in p.directions:
            phase_of["directions"][d.slug] = p.slug
    papers: list[SurveyPaper] = []
    for entry in result.entries:
        links = {k: split_list(entry.fields.pop(k, "")) for k in LINK_FIELDS}
        if not links["phases"]:
            problems.append(
                TaxonomyProblem(filename, entry.line, f"entry {entry.key}: no 'phases' field")
            )
        for kind, slugs in links.items():
            for s in slugs:
                if s not in phase_of[kind]:
                    problems.append(
                        TaxonomyProblem(
                            filename, entry.line, f"entry {entry.key}: unknown {kind[:-1]} '{s}'"
                        )
                    )
                elif kind != "phases" and phase_of[kind][s] not in links["phases"]:
                    problems.append(
                        TaxonomyProblem(
                            filename,
                            entry.line,
                            f"entry {entry.key}: {kind[:-1]} '{s}' belongs to phase "
                            f"'{phase_of[kind][s]}', which the entry does not list",
                        )
                    )
        entry.raw = _strip_link_fields(entry.raw)
        papers.append(SurveyPaper(to_record(entry), **links))
    if spec.citekey and spec.citekey not in {p.record.citekey for p in papers}:
        problems.append(
            TaxonomyProblem(filename, None, f"the survey's own entry '{spec.citekey}' is missing")
        )
    if problems:
        raise TaxonomyError(problems)
    return papers


def _strip_link_fields(raw: str) -> str:
    text = _LINK_FIELD_LINE.sub("", raw)
    # A link field that was the last one leaves a trailing comma before the closing brace.
    return re.sub(r",(\s*)\}\s*$", r"\1}", text)


def read_survey_dir(path: Path) -> SurveyBundle:
    """Read `survey.yaml` and `papers.bib` from a survey folder (or a survey.yaml path)."""
    path = Path(path)
    yaml_path = path if path.is_file() else path / "survey.yaml"
    bib_path = yaml_path.with_name("papers.bib")
    if not yaml_path.exists():
        raise TaxonomyError([TaxonomyProblem(str(yaml_path), None, "file not found")])
    spec = parse_survey_yaml(yaml_path.read_text(encoding="utf-8"), str(yaml_path))
    papers: list[SurveyPaper] = []
    if bib_path.exists():
        papers = parse_survey_papers(spec, bib_path.read_text(encoding="utf-8"), str(bib_path))
    return SurveyBundle(spec, papers)
