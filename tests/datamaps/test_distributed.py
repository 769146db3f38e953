"""A 2-process DDP run on CPU (gloo): records gathered across ranks, each example once per epoch."""
import os
import subprocess
import sys
from pathlib import Path

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


def test_two_process_ddp_records_every_example_once(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE.parents[1]), str(HERE.parent), str(HERE)] + sys.path)}
    log_dir = tmp_path / "logs"
    # --standalone: torchrun binds its rendezvous store to a free port itself (no probed port another process can
    # take in between); --redirects 3: each rank's stdout and stderr go to its own file under log_dir.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               f"--log-dir={log_dir}", "--redirects=3", str(HERE / "ddp_worker.py"), str(tmp_path)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:] + "\n" + worker_logs(log_dir))
    data_map = DataMap.load(tmp_path / "map")
    assert data_map.metadata["epochs"] == [0, 1]
    assert len(data_map.table) == 45
    assert (data_map.table["observations"] == 2).all()
    assert data_map.table.index.is_unique
    # rank 1 never writes: exactly one metadata file and one file per epoch
    assert sorted(p.name for p in (tmp_path / "map" / "dynamics").iterdir()) == ["epoch_000.parquet", "epoch_001.parquet"]
