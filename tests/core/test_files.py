"""greennlp._files: atomic writes that never touch the umask and clean up after killed writes; folder locks."""
from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import threading

import pytest

from greennlp._files import (
    FolderInUseError,
    atomic_write,
    exclusive_folder,
    remove_stale_temporaries,
    write_json,
    write_parquet,
)


def test_atomic_write_keeps_old_file_on_failure_and_gives_usual_permissions(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        atomic_write(path, lambda temporary: (open(temporary, "w").write("half"), (_ for _ in ()).throw(RuntimeError())))
    assert path.read_text().startswith("{") and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_umask_is_never_changed(tmp_path, monkeypatch):
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    write_json(tmp_path / "a.json", {})
    assert calls == []


def test_next_write_removes_temporaries_of_a_killed_write(tmp_path):
    (tmp_path / ".epoch_000.parquet.abcd1234.parquet").write_bytes(b"partial")
    (tmp_path / ".other.json.abcd1234.json").write_bytes(b"partial")
    atomic_write(tmp_path / "epoch_000.parquet", lambda temporary: open(temporary, "wb").write(b"PAR1"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abcd1234.json", "epoch_000.parquet"]


def test_threads_creating_files_during_atomic_writes_get_the_usual_permissions(tmp_path):
    """os.umask can only be read by setting it: a writer that did so gave files created by other threads at that
    moment no permission mask (world-writable)."""
    mask = os.umask(0o022)
    os.umask(mask)
    expected_file, expected_folder = 0o666 & ~mask, 0o777 & ~mask
    stop, modes = threading.Event(), []

    def create() -> None:
        i = 0
        while not stop.is_set():
            file, folder = tmp_path / "other" / f"f{i}", tmp_path / "other" / f"d{i}"
            file.touch()
            folder.mkdir()
            modes.append((stat.S_IMODE(file.stat().st_mode), stat.S_IMODE(folder.stat().st_mode)))
            i += 1

    (tmp_path / "other").mkdir()
    thread = threading.Thread(target=create)
    thread.start()
    try:
        for i in range(300):
            write_json(tmp_path / "out" / f"{i % 3}.json", {"i": i})
    finally:
        stop.set()
        thread.join()
    assert modes and set(modes) == {(expected_file, expected_folder)}
    assert os.umask(mask) == mask  # unchanged


KILLED_WRITE = """
import os, signal, sys
from greennlp._files import atomic_write

def write(temporary):
    with open(temporary, "wb") as handle:
        handle.write(b"partial" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)

atomic_write(sys.argv[1], write)
"""


def test_remove_stale_temporaries_cleans_what_killed_writes_left(tmp_path):
    """A write killed by SIGKILL leaves its hidden temporary file; starting afresh on the folder removes every
    such file, and nothing else."""
    write_parquet(tmp_path / "epoch_000.parquet", __import__("pandas").DataFrame({"a": [1]}))
    for name in ("epoch_000.parquet", "epoch_001.parquet", "metadata.json", "README"):
        killed = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(tmp_path / name)], check=False)
        assert killed.returncode == -9
    temporaries = sorted(p for p in tmp_path.iterdir() if p.name.startswith(".epoch_") or p.name.startswith(".meta")
                         or p.name.startswith(".README"))
    assert len(temporaries) == 4
    (tmp_path / ".notes").write_text("the user's own hidden file")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".x.json.abcd1234.json").write_text("not this folder's")
    with exclusive_folder(tmp_path, "test"):
        assert remove_stale_temporaries(tmp_path) == temporaries
    assert sorted(p.name for p in tmp_path.iterdir()) == [".greennlp.lock", ".notes", "epoch_000.parquet", "sub"]
    assert (tmp_path / "sub" / ".x.json.abcd1234.json").exists()  # subfolders only when asked
    assert remove_stale_temporaries(tmp_path, recursive=True) == [tmp_path / "sub" / ".x.json.abcd1234.json"]
    assert remove_stale_temporaries(tmp_path) == [] and remove_stale_temporaries(tmp_path / "missing") == []


def _hold(folder: str, ready, release) -> None:
    with exclusive_folder(folder, "holder"):
        ready.set()
        release.wait(30)


def test_one_writer_per_folder_and_no_stale_lock(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(30)
    with pytest.raises(FolderInUseError, match="another process is writing"):
        with exclusive_folder(tmp_path, "second"):
            pass
    holder.kill()  # a killed holder leaves no stale lock
    holder.join(30)
    with exclusive_folder(tmp_path, "third") as folder:
        assert folder == tmp_path
