"""The update pages of a large report: one directory of them per publish, beside index.html.

A report with more than `view.INLINE_DETAILS_MAX` updates keeps each row short and
puts the update's whole row, timeline and decision log on a page of its own,
`details/<run>-<digest>/<n>.html` (the n-th update of the page, numbered from 0: a
short name, as the page links each one), next to a copy of the report's stylesheet.

- A directory is written whole under a temporary name, each file flushed to disk,
  and renamed into place before index.html names it: a page never links to an update
  page that is not there yet, after a crash too.
- Its name carries a digest of its contents, so a publish never changes a directory a
  page already links to: publishing the same report again finds it there and writes
  nothing, and any other publish writes a new one.
- After index.html is replaced, the directories of all but the two newest publishes
  are removed: a reader with the previous page still open can open its updates.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from phased_updater.atomic_write import STALE_AFTER_SECONDS

DIRECTORY = "details"
STYLESHEET = "report.css"
KEPT = 2  # this publish's directory and the one before it
_TEMPORARY = ".partial-"
# What `serve` hands out from under details/: an update page or the stylesheet of a
# publish's directory, and nothing else (no temporary, no listing).
_SERVED = re.compile(r"details/[0-9]+-[0-9a-f]{12}/([0-9]{1,9}\.html|report\.css)")


def is_served(relative: str) -> bool:
    """Whether `relative` (a path under the report directory) names an update page."""
    return _SERVED.fullmatch(relative) is not None


def directory_name(run_id: int, pages: Mapping[str, str], stylesheet: str) -> str:
    """`<run>-<digest>`: the same contents always get the same name, others another."""
    digest = hashlib.sha256(stylesheet.encode("utf-8"))
    for name in sorted(pages):
        digest.update(b"\0" + name.encode("utf-8") + b"\0" + pages[name].encode("utf-8"))
    return f"{run_id}-{digest.hexdigest()[:12]}"


def page_names(anchors: Sequence[str]) -> dict[str, str]:
    """The file name of each update's page, by its anchor."""
    return {anchor: f"{index}.html" for index, anchor in enumerate(anchors)}


def write(
    report_dir: Path,
    name: str,
    pages: Mapping[str, str],
    stylesheet: str,
    meanwhile: Callable[[], None] = lambda: None,
) -> Path:
    """Write directory `name` of update pages (text by file name) whole; return its path.

    `meanwhile` runs in this thread while another flushes the files to disk (it waits
    on the disk without the GIL: see _Flush), before the directory is renamed into
    place; it runs once whatever happens, unless the files could not even be written.
    """
    parent = report_dir / DIRECTORY
    target = parent / name
    if target.is_dir():
        meanwhile()
        return target  # the same contents, published before
    parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=parent, prefix=f"{_TEMPORARY}{name}."))
    try:
        paths = [partial / STYLESHEET, *(partial / file_name for file_name in pages)]
        for path, text in zip(paths, [stylesheet, *pages.values()], strict=True):
            path.write_bytes(text.encode("utf-8"))
        flushing = _Flush(paths)
        flushing.start()
        try:
            meanwhile()
        finally:
            flushing.join()
        if flushing.error is not None:
            raise flushing.error
        partial.chmod(0o755)
        try:
            os.replace(partial, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(partial, ignore_errors=True)  # another publish of the same
        _sync_directory(parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


class _Flush(threading.Thread):
    """The files of `paths`, all on disk, after all are written: the kernel writes them
    back together.

    One syncfs(2) of their filesystem where the C library has it: a single system call,
    which waits on the disk without the GIL. An fsync of each file would take the GIL
    back 2,000 times, each time waiting for the thread that renders the JSON to let
    go of it. Without syncfs (or if it fails), each file is fsync'ed.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__(name="flush update pages", daemon=True)
        self.paths = paths
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            if self.paths and _syncfs(self.paths[0].parent):
                return
            for path in self.paths:
                descriptor = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
        except OSError as error:
            self.error = error


def _syncfs(directory: Path) -> bool:
    """syncfs(2) of the filesystem `directory` is on; False when it cannot be had."""
    function = getattr(_libc(), "syncfs", None)
    if function is None:
        return False
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # It reports a failure to write back since Linux 5.8; on older kernels, and
        # for any other error, the fsyncs follow.
        return bool(function(descriptor) == 0)
    finally:
        os.close(descriptor)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def prune(report_dir: Path, keep: str | None, now: float | None = None) -> list[str]:
    """Remove all but the newest directories (always `keep`); return the names removed.

    Also removes what a writer killed mid-way left, once it is STALE_AFTER_SECONDS old.
    """
    parent = report_dir / DIRECTORY
    if not parent.is_dir():
        return []
    moment = time.time() if now is None else now
    published, removed = [], []
    for entry in parent.iterdir():
        try:
            info = entry.lstat()
        except OSError:
            continue
        if entry.name.startswith(_TEMPORARY):
            if moment - info.st_mtime > STALE_AFTER_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        elif entry.is_dir() and not entry.is_symlink() and _published(entry.name):
            published.append((entry.name == keep, info.st_mtime, entry.name))
    published.sort(reverse=True)  # `keep` first, then newest first
    for _, _, name in published[KEPT:]:
        shutil.rmtree(parent / name, ignore_errors=True)
        removed.append(name)
    return removed


def _published(name: str) -> bool:
    return re.fullmatch(r"[0-9]+-[0-9a-f]{12}", name) is not None


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
