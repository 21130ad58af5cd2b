"""Export writers: pure functions from ExportRecords to text chunks (no database, no disk).

Every writer is a generator of text chunks so that large exports stream.
"""

from dataclasses import dataclass

from app.bibtex.writers.bibtex import iter_biblatex, iter_bibtex, write_biblatex, write_bibtex
from app.bibtex.writers.context import context_terms, read_context
from app.bibtex.writers.csljson import iter_csljson, to_csl, write_csljson
from app.bibtex.writers.markdown import Group, iter_markdown_groups, write_markdown
from app.bibtex.writers.record import ExportRecord, Person, Term
from app.bibtex.writers.ris import iter_ris, write_ris
from app.bibtex.writers.tabular import iter_csv, neutralise, write_csv


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    media_type: str
    extension: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("bibtex", "BibTeX", "application/x-bibtex; charset=utf-8", "bib"),
        Format("biblatex", "BibLaTeX", "application/x-bibtex; charset=utf-8", "bib"),
        Format("csljson", "CSL-JSON", "application/vnd.citationstyles.csl+json", "json"),
        Format("ris", "RIS", "application/x-research-info-systems; charset=utf-8", "ris"),
        Format("csv", "CSV", "text/csv; charset=utf-8", "csv"),
        Format("markdown", "Markdown", "text/markdown; charset=utf-8", "md"),
    )
}

__all__ = [
    "FORMATS",
    "ExportRecord",
    "Format",
    "Group",
    "Person",
    "Term",
    "context_terms",
    "iter_biblatex",
    "iter_bibtex",
    "iter_csljson",
    "iter_csv",
    "iter_markdown_groups",
    "iter_ris",
    "neutralise",
    "read_context",
    "to_csl",
    "write_biblatex",
    "write_bibtex",
    "write_csljson",
    "write_csv",
    "write_markdown",
    "write_ris",
]
