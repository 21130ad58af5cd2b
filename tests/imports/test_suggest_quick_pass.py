"""suggest() scores only the phases that can pass (a quick sum first): the suggestions must be
exactly those of scoring every phase and challenge, as it did before."""

from collections import Counter

from sqlmodel import Session

from app.services.suggest import (
    CHALLENGE_MIN,
    CHALLENGE_WORDS,
    PHASE_RELATIVE,
    Suggester,
    Suggestion,
    Target,
    _total,
    load_examples,
    load_suggester,
    terms,
)


def exhaustive(sg: Suggester, text: str):
    """The previous implementation: every target scored, then filtered."""
    q = sg._query(text)
    found: dict = {}
    for w, qv in q.items():
        for key, v in sg.postings.get(w, ()):
            found.setdefault(key, []).append((qv * v, w))
    ranked = []
    for t in sg.phases:
        score, words = _total(found.get(("p", t.key), []))
        ranked.append(Suggestion(t.key, t.slug, t.label, round(score, 4), words))
    ranked.sort(key=lambda s: -s.score)
    if not ranked or ranked[0].score <= 0:
        return [], []
    best = ranked[0].score
    phases = [s for s in ranked if s.score >= best * PHASE_RELATIVE and s.score > 0][:3]
    keys = {s.key for s in phases}
    challenges = []
    for t in sg.challenges:
        if t.phase_key not in keys or not found.get(("c", t.key)):
            continue
        score, words = _total(found[("c", t.key)])
        if score >= CHALLENGE_MIN and len(words) >= CHALLENGE_WORDS:
            challenges.append(Suggestion(t.key, t.slug, t.label, round(score, 4), words))
    challenges.sort(key=lambda s: -s.score)
    return phases, challenges[:3]


TEXTS = [
    "",
    "nothing relevant here at all",
    "Requirements elicitation with stakeholders: interviews and workshops",
    "Automated test generation and regression testing of machine learning pipelines",
    "Code review, refactoring and maintenance of large code bases with language models",
    "Security vulnerabilities detection in deployed software; requirements and testing",
]


def test_quick_pass_gives_the_same_suggestions_on_the_survey(engine, mini):
    with Session(engine) as s:
        sg = load_suggester(s)
        examples = load_examples(s)
    assert sg is not None
    texts = TEXTS + [text for _, text, _, _ in examples]
    for text in texts:
        assert sg.suggest(text) == exhaustive(sg, text), text


def test_phases_at_the_relative_threshold_after_rounding_are_kept():
    # Two phases whose scores sit at the 60% threshold once rounded to four places.
    a = Target(1, "a", "A", [("alpha beta gamma delta", 1.0)])
    b = Target(2, "b", "B", [("alpha epsilon zeta eta theta iota", 1.0)])
    sg = Suggester([a, b], [])
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota"]
    seen = Counter()
    for i in range(400):
        words = [vocab[(i * 7 + j * 3) % len(vocab)] for j in range(1 + i % 9)]
        text = " ".join(words)
        got = sg.suggest(text)
        assert got == exhaustive(sg, text), text
        seen[len(got[0])] += 1
    assert seen[2] > 0 and seen[1] > 0  # both one and two phases suggested somewhere
    assert terms("Testing tests tested") == ["test", "test", "test"]


def test_terms_of_ascii_text_skip_folding_but_find_the_same_words():
    import random

    from app.bibtex.identifiers import fold
    from app.services.suggest import _WORD

    r = random.Random(5)
    alphabet = [chr(c) for c in range(32, 127)] + ["\n", "\t", "_"]
    for _ in range(3000):
        text = "".join(r.choice(alphabet) for _ in range(r.randint(0, 60)))
        assert _WORD.findall(text.lower()) == _WORD.findall(fold(text)), text
    assert terms("Re-Testing: LLM-based TESTS, tested_here") == terms(
        "re testing llm based tests tested_here"
    )
    assert terms("Müller's Übersetzung") == ["muller", "ubersetzung"]
