"""Pure BibTeX codec: parse, normalise, identify. No database, no disk."""

from app.bibtex.parse import BibEntry, BibProblem, ParseResult, parse_bibtex
from app.bibtex.record import PaperRecord, to_record

__all__ = ["BibEntry", "BibProblem", "ParseResult", "PaperRecord", "parse_bibtex", "to_record"]
