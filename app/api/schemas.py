"""Response models of the JSON API (/api/v1); shapes follow DESIGN.md section 5."""

from pydantic import BaseModel


class FacetOption(BaseModel):
    value: str
    label: str
    count: int
    selected: bool = False


class PhaseRef(BaseModel):
    slug: str
    name: str
    survey: str | None = None  # set only for a phase of a survey other than the default one


class LinkRef(BaseModel):
    slug: str
    title: str
    origin: str | None = None
    survey: str | None = None  # set only for an item of a survey other than the default one


class SurveyOut(BaseModel):
    slug: str
    title: str
    year: int | None
    url: str | None
    default: bool
    phase_count: int
    challenge_count: int
    direction_count: int
    paper_count: int


class ChallengeOut(BaseModel):
    slug: str
    title: str
    description: str
    source: str
    phase: str
    paper_count: int = 0
    directions: list[str] = []
    retired: bool = False


class DirectionOut(BaseModel):
    slug: str
    title: str
    description: str
    source: str
    phase: str
    paper_count: int = 0
    challenges: list[str] = []
    retired: bool = False


class PhaseOut(BaseModel):
    slug: str
    name: str
    position: int
    summary: str
    challenge_count: int
    direction_count: int
    paper_count: int


class PhaseDetailOut(PhaseOut):
    challenges: list[ChallengeOut]
    directions: list[DirectionOut]


class PaperItemOut(BaseModel):
    citekey: str
    title: str
    authors: list[str]
    year: int | None
    venue: str | None
    entry_type: str
    doi: str | None
    arxiv_id: str | None
    url: str | None
    phases: list[PhaseRef]
    challenges: list[LinkRef]
    directions: list[LinkRef]


class PaperPageOut(BaseModel):
    items: list[PaperItemOut]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[FacetOption]]


class PaperDetailOut(PaperItemOut):
    abstract: str
    fields: dict[str, str]
    raw_bibtex: str
    tags: list[str]
    aliases: list[str]


class ChallengeDetailOut(ChallengeOut):
    papers: list[PaperItemOut]


class DirectionDetailOut(DirectionOut):
    papers: list[PaperItemOut]


class Health(BaseModel):
    status: str
    database: str
    papers: int
