"""The paper filter shared by /papers, the JSON API, exports and saved lists."""

from dataclasses import dataclass, field, fields
from urllib.parse import urlencode

SORTS = {
    "year": "Newest first",
    "oldest": "Oldest first",
    "title": "Title A-Z",
    "added": "Recently added",
}
MULTI = ("phase", "challenge", "direction", "venue", "type", "tag")


@dataclass
class PaperFilters:
    phase: list[str] = field(default_factory=list)
    challenge: list[str] = field(default_factory=list)
    direction: list[str] = field(default_factory=list)
    venue: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    q: str = ""
    # The survey whose phase/challenge/direction slugs the filter means (None: the default
    # survey, see browse.default_survey); naming one also restricts the list to its papers.
    survey: str | None = None

    @classmethod
    def from_params(cls, params) -> "PaperFilters":
        """Build from a multi-dict of query parameters; bad numbers are ignored, not fatal."""

        def many(name: str) -> list[str]:
            values = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
            if isinstance(values, str):
                values = [values]
            out: list[str] = []
            for v in values:
                for part in str(v).split(","):
                    part = part.strip()
                    if part and part not in out:
                        out.append(part[:300])
            return out

        def year(name: str) -> int | None:
            v = params.get(name)
            try:
                y = int(str(v).strip())
            except (TypeError, ValueError):
                return None
            return y if 0 < y < 10000 else None

        q = params.get("q") or ""
        survey = params.get("survey") or None
        if isinstance(survey, list | tuple):
            survey = survey[0] if survey else None
        return cls(
            **{m: many(m) for m in MULTI},
            year_from=year("year_from"),
            year_to=year("year_to"),
            q=str(q).strip()[:500],
            survey=(str(survey).strip()[:80] or None) if survey else None,
        )

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def pairs(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for m in MULTI:
            out += [(m, v) for v in getattr(self, m)]
        if self.year_from is not None:
            out.append(("year_from", str(self.year_from)))
        if self.year_to is not None:
            out.append(("year_to", str(self.year_to)))
        if self.q:
            out.append(("q", self.q))
        if self.survey:
            out.append(("survey", self.survey))
        return out

    def query(self, **extra) -> str:
        """Query string for these filters plus extra params (None drops a key)."""
        pairs = [p for p in self.pairs() if p[0] not in extra]
        pairs += [(k, str(v)) for k, v in extra.items() if v not in (None, "")]
        return urlencode(pairs)

    def toggle(self, name: str, value: str) -> str:
        """Query string with `value` added to or removed from facet `name` (page reset)."""
        current = list(getattr(self, name))
        if value in current:
            current.remove(value)
        else:
            current.append(value)
        pairs = [p for p in self.pairs() if p[0] != name] + [(name, v) for v in current]
        return urlencode(pairs)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", [])}
