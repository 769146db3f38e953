"""The project's one set of file writers: every file greennlp writes goes through :func:`atomic_write`, so a crash
never leaves half a file under the final name and a reader never sees one. Private: users get files, not writers.

One signature each, target path first: ``atomic_write(path, write)``, ``write_json(path, data)``,
``write_parquet(path, frame)``, ``write_text(path, text)``, ``save_figure(path, figure)``.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

__all__ = ["FolderInUseError", "atomic_write", "exclusive_folder", "remove_stale_temporaries", "save_figure",
           "write_json", "write_parquet", "write_text"]

LOCK_FILE = ".greennlp.lock"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` in the target folder, then rename over ``path``: readers never see half a
    file and a crash leaves the previous version (the temporary file is removed). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# The name of the temporary file atomic_write writes ``<name>`` through: ".<name>.<8 random chars><suffix>", the
# random part as tempfile.mkstemp draws it and the suffix that of <name>.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}(?P<suffix>(?:\.[^.]*)?)")


def _temporary_target(name: str) -> str | None:
    """The target whose temporary file ``name`` is, or None when ``name`` is no atomic_write temporary."""
    match = _TEMPORARY.fullmatch(name)
    if match is None or name == LOCK_FILE or Path(match["name"]).suffix != match["suffix"]:
        return None
    return match["name"]


def _remove_temporaries(path: Path) -> None:
    """Delete temporary files that an earlier, killed write of ``path`` left behind (one writer per folder makes
    any such file stale by the time the next write of the same target starts)."""
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if _temporary_target(entry.name) == path.name and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Delete every temporary file that killed :func:`atomic_write` calls left in ``folder`` (and, with
    ``recursive``, in its subfolders): hidden files named ``.<name>.<8 random characters><suffix of name>``.
    Returns what was removed, sorted.

    Call it while this process alone writes the folder (inside :func:`exclusive_folder`, e.g. when a writer starts
    or starts afresh with ``overwrite=True``): a temporary file of a live writer in another process would go too.
    Nothing else is touched: lock files, the user's hidden files and the finished files stay.
    """
    removed = []
    folders = [Path(folder)]
    while folders:
        current = folders.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    folders.append(Path(entry.path))
            elif _temporary_target(entry.name) is not None and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
    return sorted(removed)


class FolderInUseError(RuntimeError):
    """Another live process writes into this output folder."""


@contextlib.contextmanager
def exclusive_folder(folder: str | os.PathLike, owner: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) while the block runs: one writer per folder.

    Fails at once with :class:`FolderInUseError` when another live process holds it. The lock is an OS file lock
    (``filelock``), released by the kernel when its process dies, so a killed run leaves no stale lock behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUseError(
            f"{owner}: another process is writing into {str(folder)!r} (it holds {LOCK_FILE}). Wait for it to "
            "finish, or give this run its own output folder.") from None
    try:
        yield folder
    finally:
        lock.release()


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only be read by setting it, which would
    briefly give files that other threads create at that moment no permission mask at all)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    probe = Path(tempfile.mkdtemp())  # portable fallback: the mode a fresh file gets tells the umask
    try:
        file = probe / "probe"
        file.touch(mode=0o666)
        return 0o666 & ~file.stat().st_mode & 0o777
    finally:
        for child in probe.iterdir():
            child.unlink()
        probe.rmdir()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON (keys in insertion order, a trailing newline) to ``path`` atomically.

    >>> import json, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_json(Path(folder) / "run" / "result.json", {"accuracy": 0.9})
    ...     json.loads(path.read_text())
    {'accuracy': 0.9}
    """

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, default=str)
            handle.write("\n")

    return atomic_write(path, write)


def write_parquet(path: str | os.PathLike, frame) -> Path:
    """Write a pandas DataFrame to Parquet at ``path`` atomically (the index is kept only when it has a name)."""
    return atomic_write(path, lambda temporary: frame.to_parquet(temporary, index=frame.index.name is not None))


def save_figure(path: str | os.PathLike, figure, *, dpi: int = 120) -> Path:
    """Save a matplotlib ``Figure`` atomically; the format follows the suffix of ``path`` (``.png``, ``.svg``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda temporary: figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=fmt))
