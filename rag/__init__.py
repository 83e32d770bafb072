"""Local, offline question answering over a folder of documents, with citations."""

__version__ = "0.1.0"
