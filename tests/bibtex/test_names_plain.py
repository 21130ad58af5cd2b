"""Plain names (no braces, no LaTeX) take a shortcut that must give the same Name."""

import random

import pytest

import app.bibtex.names as names

SAMPLES = [
    "Smith, John",
    "John Smith",
    "van der Berg, Piet",
    "Piet van der Berg",
    "Ludwig van Beethoven",
    "de la Fontaine, Jean",
    "Smith, Jr, John",
    "Smith, Jr., John Q.",
    "Jean-Pierre Dupont",
    "O'Neil, Cathy",
    "Müller, Jörg",
    "A. B. Clark",
    "Clark",
    "von Neumann",
    "  Spaced   Out ,  Person  ",
    "a b c d",
    "Smith,",
    ", John",
    "Smith, , John",
    "x, y, z, w",
    "ǅemal Bijedić",
]


def _general(raw: str) -> names.Name:
    """The general path (braces and LaTeX handled), forced."""

    class Always:
        def search(self, _s):
            return True

    saved = names._NEEDS_DECODING
    names._NEEDS_DECODING = Always()
    try:
        return names._parse_name(raw)
    finally:
        names._NEEDS_DECODING = saved


@pytest.mark.parametrize("raw", SAMPLES)
def test_plain_names_match_the_general_parser(raw):
    got = names._parse_name(raw)
    want = _general(raw)
    assert got == want and got.display == want.display and got.full_family == want.full_family


def test_random_plain_names_match_the_general_parser():
    r = random.Random(7)
    alphabet = ["a", "B", "van", "der", " ", ",", "  ", "Jr", "é", "ß", "-", "x.", "\t", "1"]
    for _ in range(5000):
        raw = "".join(r.choice(alphabet) for _ in range(r.randint(1, 8)))
        if not raw.strip():
            continue
        try:
            want = _general(raw)
        except Exception as exc:  # the general parser's own failures stay the same
            with pytest.raises(type(exc)):
                names._parse_name(raw)
            continue
        assert names._parse_name(raw) == want, raw


def test_cached_display_and_folded_key():
    n = names.parse_name("Müller, Jörg")
    assert n.display == "Jörg Müller" and n.full_family == "Müller"
    assert n.folded == "jorg muller"
    assert n == names.Name(given="Jörg", family="Müller")  # the cache is not part of equality
    assert hash(n) == hash(names.Name(given="Jörg", family="Müller"))
