"""A 2-process DDP run on CPU (gloo): records gathered across ranks, each example once per epoch."""
import os
import subprocess
import sys
import time
from pathlib import Path

from greennlp._files import exclusive_folder
from greennlp.datamaps import DataMap

HERE = Path(__file__).parent


def worker_logs(log_dir: Path, tail: int = 4000) -> str:
    """Each rank's own stdout and stderr (torchrun --log-dir/--redirects), for the assertion message: a rank that
    dies in C++ (SIGABRT) says why only there, not in torchrun's summary."""
    parts = []
    for path in sorted(log_dir.rglob("*.log")):
        text = path.read_text(errors="replace")
        if text.strip():
            parts.append(f"--- {path.relative_to(log_dir)} ---\n{text[-tail:]}")
    return "\n".join(parts) or f"(no worker logs under {log_dir})"


def run_two_processes(tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE.parents[1]), str(HERE.parent), str(HERE)] + sys.path)}
    # --standalone: torchrun binds its rendezvous store to a free port itself (no probed port another process can
    # take in between); --redirects 3: each rank's stdout and stderr go to its own file under tmp_path/logs.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               f"--log-dir={tmp_path / 'logs'}", "--redirects=3", str(HERE / "ddp_worker.py"), str(tmp_path)]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout)


def test_two_process_ddp_records_every_example_once(tmp_path):
    log_dir = tmp_path / "logs"
    result = run_two_processes(tmp_path)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:] + "\n" + worker_logs(log_dir))
    data_map = DataMap.load(tmp_path / "map")
    assert data_map.metadata["epochs"] == [0, 1]
    assert len(data_map.table) == 45
    assert (data_map.table["observations"] == 2).all()
    assert data_map.table.index.is_unique
    # rank 1 never writes: exactly one metadata file and one file per epoch
    assert sorted(p.name for p in (tmp_path / "map" / "dynamics").iterdir()) == ["epoch_000.parquet", "epoch_001.parquet"]


def test_a_rank_that_cannot_start_stops_every_rank(tmp_path):
    """Rank 0 cannot take the map folder (another process writes into it): without telling rank 1, rank 1 would
    wait at the first gradient sync for the process group's timeout (30 minutes)."""
    started = time.perf_counter()
    with exclusive_folder(tmp_path / "map", owner="another run"):
        result = run_two_processes(tmp_path, timeout=300)
    logs = worker_logs(tmp_path / "logs")
    assert result.returncode != 0, logs
    assert time.perf_counter() - started < 240
    assert "another process is writing into" in logs  # rank 0's own error, in its log


def _agree(rank: int, store_path: str, world: int, outcomes) -> None:
    import torch.distributed as dist

    from greennlp.datamaps.recorder import raise_if_any_rank_failed

    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world)
    try:
        raise_if_any_rank_failed(OSError("disk full") if rank == 0 else None, "on_train_begin")
        outcomes[rank] = "went on"
    except Exception as error:  # noqa: BLE001 - the test reports what each rank raised
        outcomes[rank] = f"{type(error).__name__}: {error}"
    finally:
        dist.destroy_process_group()


def test_every_rank_hears_of_a_failure_at_start(tmp_path):
    """Without a launcher that kills the other ranks (torchrun does), a rank that raised alone would leave the
    others at the first gradient sync until the process group's timeout: every rank must raise."""
    import torch.multiprocessing as mp

    outcomes = mp.Manager().dict()
    mp.spawn(_agree, args=(str(tmp_path / "store"), 2, outcomes), nprocs=2, join=True)
    assert outcomes[0] == "OSError: disk full"
    assert outcomes[1].startswith("DataMapError: DataMapCallback failed at on_train_begin on rank 0 (OSError: disk")
