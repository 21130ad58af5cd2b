"""Phase and challenge suggestions for imported papers: scored keyword evidence.

Each phase gets a weighted bag of words from the survey's own text (phase name and summary,
its challenges' and directions' titles and descriptions) plus the titles and abstracts of the
papers already classified under it. An imported paper's title, abstract and keywords are
compared with each profile (TF-IDF cosine); the best phase is suggested, and others that score
close to it. A challenge is suggested only inside a suggested phase and only when its own
evidence is strong. Every suggestion carries its score and the words that matched, and nothing
is committed as fact: links are stored with origin `suggested` for a person to accept.

Pure computation over plain values; `load_suggester(session)` reads the taxonomy once.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select
from sqlmodel import Session

from app.bibtex.identifiers import fold

STOP = frozenset(
    """a an and are as at be been being by can could do does for from has have how in into is
    it its may more most not of on or our over such than that the their them these this those
    to under use used using via was we were what when which while who will with within without
    new based towards toward study approach approaches paper papers work method methods model
    models large language llm llms survey results show propose proposed also one two its
    evaluation system systems""".split()
)
_WORD = re.compile(r"[a-z][a-z0-9]+")
PHASE_RELATIVE = 0.6  # other phases within this fraction of the best are suggested too
CHALLENGE_MIN = 0.12  # a challenge needs at least this cosine (strong evidence) ...
CHALLENGE_WORDS = 2  # ... and at least this many distinct matched words
_MARGIN = 2e-4  # above the rounding to 4 places of a score and the best (and summation order)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A tiny suffix stripper: enough to match `testing`/`tests`/`tested` with `test`."""
    for suffix in ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ers", "ed", "es"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_TERM_OF: dict[str, str] = {}  # word -> its term, "" for a stop word or a short one
_TERM_MEMO_MAX = 200_000


def _term(word: str) -> str:
    term = stem(word) if word not in STOP and len(word) > 2 else ""
    if len(_TERM_OF) >= _TERM_MEMO_MAX:
        _TERM_OF.clear()
    _TERM_OF[word] = term
    return term


def terms(text: str) -> list[str]:
    memo = _TERM_OF
    out = []
    # For ASCII text, folding is lower-casing plus turning punctuation into spaces, which
    # separates the same words: the words of the lower-cased text are the same.
    folded = text.lower() if text.isascii() else fold(text)
    for w in _WORD.findall(folded):
        term = memo.get(w)
        if term is None:
            term = _term(w)
        if term:
            out.append(term)
    return out


@dataclass
class Target:
    """A phase or a challenge: its slug, label and the text that describes it."""

    key: int
    slug: str
    label: str
    text: list[tuple[str, float]]  # (text, weight)
    phase_key: int | None = None  # for challenges


@dataclass
class Suggestion:
    key: int
    slug: str
    label: str
    score: float
    words: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"slug": self.slug, "name": self.label, "score": self.score, "words": self.words}


class Suggester:
    def __init__(
        self,
        phases: list[Target],
        challenges: list[Target],
        examples: list[tuple[str, set[int], set[int]]] = (),
    ) -> None:
        """examples: (text, phase keys, challenge keys) of papers already classified."""
        self.phases = phases
        self.challenges = challenges
        self.examples = list(examples)
        self._fit()

    def _fit(self) -> None:
        bags: dict[tuple[str, int], Counter] = {}
        for kind, targets in (("p", self.phases), ("c", self.challenges)):
            for t in targets:
                bag = Counter()
                for text, weight in t.text:
                    for w in terms(text):
                        bag[w] += weight
                bags[(kind, t.key)] = bag
        for text, pks, cks in self.examples:
            words = Counter(terms(text))
            total = sum(words.values()) or 1
            for k in pks:
                if ("p", k) in bags:
                    for w, n in words.items():
                        bags[("p", k)][w] += n / total * 4
            for k in cks:
                if ("c", k) in bags:
                    for w, n in words.items():
                        bags[("c", k)][w] += n / total * 2
        df = Counter()
        for bag in bags.values():
            df.update(bag.keys())
        n = len(bags) or 1
        self.idf = {w: math.log(1 + n / d) for w, d in df.items()}
        self.vectors: dict[tuple[str, int], dict[str, float]] = {}
        for k, bag in bags.items():
            vec = {w: (1 + math.log(c)) * self.idf[w] for w, c in bag.items() if c > 0}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            self.vectors[k] = {w: v / norm for w, v in vec.items()}
        # Inverted: word -> [(target, weight)], so a query visits only the targets that share
        # one of its words (computed once per import, not per entry).
        self.postings: dict[str, list[tuple[tuple[str, int], float]]] = {}
        for k, vec in self.vectors.items():
            for w, v in vec.items():
                self.postings.setdefault(w, []).append((k, v))
        # The same for the phases only, by position in self.phases: the quick pass of suggest.
        position = {("p", t.key): i for i, t in enumerate(self.phases)}
        self.phase_postings: dict[str, list[tuple[int, float]]] = {}
        for w, post in self.postings.items():
            mine = [(position[k], v) for k, v in post if k in position]
            if mine:
                self.phase_postings[w] = mine
        # And for each phase, its challenges' words: word -> [(index in self.challenges, w)].
        self.challenge_postings: dict[int | None, dict[str, list[tuple[int, float]]]] = {}
        for i, t in enumerate(self.challenges):
            mine_c = self.challenge_postings.setdefault(t.phase_key, {})
            for w, v in self.vectors.get(("c", t.key), {}).items():
                mine_c.setdefault(w, []).append((i, v))

    def _query(self, text: str) -> dict[str, float]:
        counts = Counter(terms(text))
        vec = {w: (1 + math.log(c)) * self.idf[w] for w, c in counts.items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    def _score(self, q: dict[str, float], key: tuple[str, int]) -> tuple[float, list[str]]:
        vec = self.vectors.get(key, {})
        contrib = [(q[w] * vec[w], w) for w in q if w in vec]
        return _total(contrib)

    def _contribution(self, q: dict[str, float], key: tuple[str, int]) -> list:
        """[(q[w] * weight, w)] of one target, for the words it shares with the query."""
        vec = self.vectors.get(key, {})
        return [(qv * vec[w], w) for w, qv in q.items() if w in vec]

    def rank_phases(self, text: str) -> list[Suggestion]:
        q = self._query(text)
        out = []
        for t in self.phases:
            score, words = self._score(q, ("p", t.key))
            out.append(Suggestion(t.key, t.slug, t.label, round(score, 4), words))
        out.sort(key=lambda s: -s.score)
        return out

    def suggest(self, text: str) -> tuple[list[Suggestion], list[Suggestion]]:
        """(phases, challenges) worth suggesting for a paper with this text."""
        q = self._query(text)
        # A quick (unsorted) sum per phase finds the phases that can pass; only those get the
        # exact score (summed largest first) and their words, as do the challenges of the
        # phases suggested. The sums differ by rounding only, far less than the margin, so
        # the suggestions are the same as scoring every target.
        quick = [0.0] * len(self.phases)
        touched = False
        postings = self.phase_postings
        for w, qv in q.items():
            post = postings.get(w)
            if post:
                touched = True
                for i, v in post:
                    quick[i] += qv * v
        if not touched or max(quick) <= 0:
            return [], []
        cutoff = max(quick) * PHASE_RELATIVE - _MARGIN
        ranked = []
        for t, fast in zip(self.phases, quick, strict=True):
            if fast > 0 and fast >= cutoff:
                score, words = _total(self._contribution(q, ("p", t.key)))
                ranked.append(Suggestion(t.key, t.slug, t.label, round(score, 4), words))
        ranked.sort(key=lambda s: -s.score)
        if not ranked or ranked[0].score <= 0:
            return [], []
        best = ranked[0].score
        phases = [s for s in ranked if s.score >= best * PHASE_RELATIVE and s.score > 0][:3]
        keys = {s.key for s in phases}
        # The challenges of those phases: a quick sum and word count each; only those that can
        # reach CHALLENGE_MIN with CHALLENGE_WORDS words are scored exactly.
        c_quick: dict[int, float] = {}
        c_words: dict[int, int] = {}
        for key in keys:
            c_postings = self.challenge_postings.get(key)
            if not c_postings:
                continue
            for w, qv in q.items():
                post = c_postings.get(w)
                if post:
                    for i, v in post:
                        c_quick[i] = c_quick.get(i, 0.0) + qv * v
                        c_words[i] = c_words.get(i, 0) + 1
        challenges = []
        for i, t in enumerate(self.challenges):
            if (
                i not in c_quick
                or c_words[i] < CHALLENGE_WORDS
                or c_quick[i] < CHALLENGE_MIN - _MARGIN
            ):
                continue  # no shared word, too few, or too weak: never strong evidence
            score, words = _total(self._contribution(q, ("c", t.key)))
            if score >= CHALLENGE_MIN and len(words) >= CHALLENGE_WORDS:
                challenges.append(Suggestion(t.key, t.slug, t.label, round(score, 4), words))
        challenges.sort(key=lambda s: -s.score)
        return phases, challenges[:3]


def _total(contrib: list[tuple[float, str]]) -> tuple[float, list[str]]:
    """(score, the six words that contributed most); summed largest first."""
    contrib.sort(reverse=True)
    return sum(c for c, _ in contrib), [w for _, w in contrib[:6]]


def paper_text(title: str, abstract: str = "", keywords: list[str] | None = None) -> str:
    return " ".join([title, title, abstract or "", " ".join(keywords or [])])


def load_targets(session: Session) -> tuple[list[Target], list[Target]]:
    from app.models import Challenge, Direction, Phase

    phases = session.exec(select(Phase).order_by(Phase.survey_id, Phase.position)).scalars().all()
    chall = session.exec(select(Challenge).where(Challenge.retired == False)).scalars().all()  # noqa: E712
    dirs = session.exec(select(Direction).where(Direction.retired == False)).scalars().all()  # noqa: E712
    ptargets = {
        p.id: Target(
            p.id, p.slug, p.name, [(p.name, 3.0), (p.slug.replace("-", " "), 2.0), (p.summary, 1.0)]
        )
        for p in phases
    }
    ctargets = []
    for c in chall:
        if c.phase_id in ptargets:
            ptargets[c.phase_id].text += [(c.title, 2.0), (c.description, 1.0)]
        ctargets.append(
            Target(c.id, c.slug, c.title, [(c.title, 3.0), (c.description, 1.0)], c.phase_id)
        )
    for d in dirs:
        if d.phase_id in ptargets:
            ptargets[d.phase_id].text += [(d.title, 1.0), (d.description, 0.5)]
    return list(ptargets.values()), ctargets


def load_examples(session: Session) -> list[tuple[int, str, set[int], set[int]]]:
    """(paper id, title+abstract, phase ids, challenge ids) of papers with non-suggested links."""
    from app.models import Paper, PaperChallenge, PaperPhase

    links: dict[int, tuple[set[int], set[int]]] = {}
    for pid, ph in session.exec(
        select(PaperPhase.paper_id, PaperPhase.phase_id).where(PaperPhase.origin != "suggested")
    ).all():
        links.setdefault(pid, (set(), set()))[0].add(ph)
    for pid, ch in session.exec(
        select(PaperChallenge.paper_id, PaperChallenge.challenge_id).where(
            PaperChallenge.origin != "suggested"
        )
    ).all():
        links.setdefault(pid, (set(), set()))[1].add(ch)
    if not links:
        return []
    out = []
    rows = session.exec(select(Paper.id, Paper.title, Paper.abstract)).all()
    for pid, title, abstract in rows:
        if pid in links:
            out.append((pid, paper_text(title, abstract), *links[pid]))
    return out


def load_suggester(session: Session) -> Suggester | None:
    phases, challenges = load_targets(session)
    if not phases:
        return None
    examples = [(t, p, c) for _, t, p, c in load_examples(session)]
    return Suggester(phases, challenges, examples)
