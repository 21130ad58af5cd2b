"""The export record: one paper with its survey context, as every writer receives it."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Person:
    family: str
    given: str = ""

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}".strip()

    @property
    def corporate(self) -> bool:
        return not self.given


@dataclass(slots=True)
class Term:
    """A phase, challenge or direction of a paper (slug for machines, label for people)."""

    slug: str
    label: str
    phase: str = ""  # for challenges and directions: the slug of their phase


@dataclass(slots=True)
class ExportRecord:
    citekey: str
    entry_type: str = "misc"
    title: str = ""
    authors: list[Person] = field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    url: str | None = None
    abstract: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # original raw (LaTeX) field values
    phases: list[Term] = field(default_factory=list)
    challenges: list[Term] = field(default_factory=list)
    directions: list[Term] = field(default_factory=list)
    note: str = ""  # reading-list note
    status: str = ""  # reading-list read status (to-read | reading | read)

    def raw(self, name: str) -> str:
        v = self.fields.get(name)
        return "" if v is None else str(v)
