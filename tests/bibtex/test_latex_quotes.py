"""TeX double quotes become typographic quotes in display text (seen in the shipped data)."""

from app.bibtex.latex import latex_to_unicode


def test_tex_double_quotes_become_curly_quotes():
    assert (
        latex_to_unicode("``Do Anything Now'': jailbreaks")
        == "\u201cDo Anything Now\u201d: jailbreaks"
    )


def test_single_quotes_and_apostrophes_are_kept():
    assert latex_to_unicode("A Pretrainer's Guide") == "A Pretrainer's Guide"
