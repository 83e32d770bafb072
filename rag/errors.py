"""Every error the library raises on purpose. The CLI prints them as one line; the UI shows them."""


class RagError(Exception):
    """Base class: a problem the user can act on; its message is a single line."""


class InputError(RagError):
    """The question or an argument is unusable (empty, wrong type, ...)."""


class CorpusError(RagError):
    """The corpus folder is missing, empty or holds nothing indexable."""


class ModelError(RagError):
    """A model named in models.txt is missing, corrupted or cannot be fetched."""


class IndexStoreError(RagError):
    """The index directory cannot be read or written."""


class IndexWriteError(IndexStoreError):
    """The index folder cannot be written (read-only, full); the previous index is untouched."""


class Cancelled(RagError):
    """The question was cancelled (the chat's Cancel button, or an API client that went away)."""


class Unavailable(RagError):
    """The server cannot take a question right now; trying again later may work."""


class QueueFull(Unavailable):
    """Too many questions are already waiting for the model."""


class IndexRebuilding(Unavailable):
    """The index is being rebuilt; questions are refused until it is live again."""


class SkipFile(Exception):
    """One file of the corpus cannot be indexed (encrypted, no text, corrupt...): it is skipped with this one-line
    reason and the rest of the folder is indexed. Not a RagError: it never reaches the user as a failure."""
