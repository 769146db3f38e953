"""A 2-process DDP run on CPU (gloo): records gathered across ranks, each example once per epoch."""
import os
import socket
import subprocess
import sys
from pathlib import Path

from greennlp.datamaps import DataMap

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as probe:  # a fixed port collides when two test runs share the machine
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_ddp_records_every_example_once(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE.parents[1]), str(HERE.parent), str(HERE)] + sys.path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               str(HERE / "ddp_worker.py"), str(tmp_path)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data_map = DataMap.load(tmp_path / "map")
    assert data_map.metadata["epochs"] == [0, 1]
    assert len(data_map.table) == 45
    assert (data_map.table["observations"] == 2).all()
    assert data_map.table.index.is_unique
    # rank 1 never writes: exactly one metadata file and one file per epoch
    assert sorted(p.name for p in (tmp_path / "map" / "dynamics").iterdir()) == ["epoch_000.parquet", "epoch_001.parquet"]
