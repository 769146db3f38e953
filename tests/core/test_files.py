"""greennlp._files: atomic writes that never touch the umask and clean up after killed writes; folder locks."""
from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from greennlp._files import FolderInUseError, atomic_write, exclusive_folder, write_json


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
