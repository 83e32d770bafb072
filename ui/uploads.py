"""The page's uploads before they reach the corpus folder: why one is refused, and its temporary copies gone.

Gradio writes an upload to its upload folder (GRADIO_TEMP_DIR, or <tmp>/gradio) as <hash>/<name>, then copies it
to <other hash>/<name> for the event that receives it. Neither copy is ever needed again once the file is
stored in the corpus folder or refused, and Gradio keeps both until the server stops: here both are removed
as soon as the page is done with the file, whatever the outcome.

    refusal(name, size, types, max_mb) -> the reason a file is refused ("" when it is not)
    discard(path)                       remove Gradio's copies of an upload (only inside its upload folder)
"""

from __future__ import annotations

import filecmp
import logging
import os
from pathlib import Path

log = logging.getLogger("rag.ui.uploads")


def refusal(name: str, size: int, types: tuple[str, ...], max_mb: float) -> str:
    """Why `name` (a bare file name) is not added, in the words the page shows; "" when it may be."""
    if name.startswith("."):
        return (f"refused `{name}`: a hidden file (its name starts with “.”); hidden files are never indexed, so "
                "it is not added")
    suffix = Path(name).suffix.lower()
    if suffix not in types:
        kind = f"“{suffix}” files are" if suffix else "files without an extension are"
        return f"refused `{name}`: {kind} not indexed; only {', '.join(types)} files are"
    if size > max_mb * 2**20:
        return f"refused `{name}`: {size / 2**20:.1f} MB is over the {max_mb:g} MB limit"
    return ""


def upload_folder() -> Path:
    """Where Gradio keeps uploads (gradio.utils.get_upload_folder, read the same way)."""
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def discard(path: Path) -> None:
    """Remove Gradio's copies of the upload at `path`: the file itself and, in the other hash folders of the
    upload folder, the same name holding the same bytes; each hash folder that is left empty goes too. Nothing
    outside the upload folder is touched (a path from anywhere else is left alone)."""
    root = upload_folder()
    try:
        path = Path(path).resolve()
    except OSError:
        return
    if path.parent.parent != root:
        return
    copies = [path]
    try:
        size = path.stat().st_size
        for folder in root.iterdir():
            twin = folder / path.name
            if folder != path.parent and twin.is_file() and not twin.is_symlink() and twin.stat().st_size == size \
                    and filecmp.cmp(twin, path, shallow=False):
                copies.append(twin)
    except OSError as e:
        log.warning("could not look for the copies of %s: %s", path.name, e)
    for copy in copies:
        try:
            copy.unlink(missing_ok=True)
            copy.parent.rmdir()  # only when empty
        except OSError:
            pass
