"""The read -> QualityFilter -> write pipeline runs unchanged on datatrove's RayPipelineExecutor (a local Ray
instance with 2 CPUs) and keeps the same documents as on the LocalPipelineExecutor."""
from __future__ import annotations

import pytest
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from greennlp.scale import QualityFilter

from .conftest import read_jsonl_folder, write_jsonl_folder

ray = pytest.importorskip("ray")


def clean(executor, raw, out, **options) -> list[dict]:
    pipeline = [JsonlReader(str(raw)), QualityFilter(exclusion_writer=JsonlWriter(str(out / "removed"))),
                JsonlWriter(str(out / "kept"))]
    executor(pipeline, tasks=3, workers=2, logging_dir=str(out / "logs"), **options).run()
    return read_jsonl_folder(out / "kept"), read_jsonl_folder(out / "removed")


def test_ray_executor_keeps_what_the_local_executor_keeps(documents, tmp_path):
    from datatrove.executor import RayPipelineExecutor

    write_jsonl_folder(tmp_path / "raw", documents, n_files=3)
    local_kept, local_removed = clean(LocalPipelineExecutor, tmp_path / "raw", tmp_path / "local",
                                      start_method="fork")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray_kept, ray_removed = clean(RayPipelineExecutor, tmp_path / "raw", tmp_path / "ray", cpus_per_task=1,
                                      mem_per_cpu_gb=0.5)
    finally:
        ray.shutdown()
    assert len(local_kept) > len(documents) // 2
    assert sorted(row["id"] for row in ray_kept) == sorted(row["id"] for row in local_kept)
    assert {row["id"]: row["text"] for row in ray_kept} == {row["id"]: row["text"] for row in local_kept}
    assert {row["id"]: row["metadata"]["filter_reason"] for row in ray_removed} == \
        {row["id"]: row["metadata"]["filter_reason"] for row in local_removed}
    assert (tmp_path / "ray" / "logs" / "stats.json").is_file()  # every task completed
