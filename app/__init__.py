"""surveykb: a self-hosted knowledge base for a research survey."""

__version__ = "0.1.0"
