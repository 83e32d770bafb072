"""The page's uploads before they reach the corpus folder: why one is refused, and its temporary copies gone.

Gradio writes an upload to its upload folder (GRADIO_TEMP_DIR, or <tmp>/gradio) as <hash>/<name>, then copies it
to <other hash>/<name> for the event that receives it. Neither copy is ever needed again once the file is
stored in the corpus folder or refused, and Gradio keeps both until the server stops: here both are removed
as soon as the page is done with the file, whatever the outcome.

    refusal(name, size, types, max_mb) -> the reason a file is refused ("" when it is not)
    discard(path)                       remove Gradio's copies of an upload (only inside its upload folder)
    write_into(folder, name, src)       store an upload in the corpus folder atomically, never through a link
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
import stat
import tempfile
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


class UploadRefused(Exception):
    """An upload that is not written, with the reason the page shows."""


REPLACE_LABEL = "Replace files of the same name"


def write_into(folder: Path, name: str, src: Path, replace: bool = False) -> str:
    """Copy `src` to folder/name atomically; "added" or "replaced".

    The bytes go to a new temporary file in `folder` (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW), flushed to disk,
    then take the name in one step: a link that fails if the name exists (no replace), or a rename that
    replaces the name itself. A name that is a symlink, or anything but a regular file, is refused: nothing is
    ever written through a link, and a rename never follows one."""
    target = folder / name
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if stat.S_ISLNK(existing.st_mode):
            raise UploadRefused(f"refused `{name}`: that name is a symbolic link in the corpus folder; nothing is written through it")
        if not stat.S_ISREG(existing.st_mode):
            raise UploadRefused(f"refused `{name}`: that name is not a regular file in the corpus folder")
        if not replace:
            raise UploadRefused(f"refused `{name}`: a file of that name is already in the corpus and was not replaced: tick “{REPLACE_LABEL}” "
                                "and add it again to replace it")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        if existing is None:
            try:
                os.link(tmp, target)  # fails with EEXIST if the name appeared meanwhile (even as a symlink)
            except FileExistsError:
                raise UploadRefused(f"`{name}` appeared in the corpus meanwhile and was not replaced") from None
            except OSError:  # a file system without hard links: check again, then rename
                if os.path.lexists(target):
                    raise UploadRefused(f"`{name}` appeared in the corpus meanwhile and was not replaced") from None
                os.rename(tmp, target)
            return "added"
        os.replace(tmp, target)
        return "replaced"
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
