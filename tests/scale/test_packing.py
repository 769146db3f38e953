"""ContentWordPacker: N tasks pack the same blocks as one, the blocks equal add_content_word_mask's columns cut into
blocks, and the shards pretrain through scripts/pretrain_mlm.py."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from datasets import Dataset
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader

from greennlp.encoders import train_wordpiece_tokenizer
from greennlp.masking import ContentWordTagger, DataCollatorForContentMasking, add_content_word_mask
from greennlp.scale import ContentWordPacker, PackedBlockWriter, load_packed_shards

from .conftest import REPO, write_jsonl_folder

SEQ_LEN = 64
COLUMNS = ["input_ids", "attention_mask", "special_tokens_mask", "content_word_mask", "word_ids"]


@pytest.fixture(scope="module")
def corpus(documents) -> list[str]:
    return [text for text in documents if text][:60]


@pytest.fixture(scope="module")
def tokenizer_folder(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    train_wordpiece_tokenizer(corpus, vocab_size=400, model_max_length=10**9).save_pretrained(folder)
    return folder


def pack(raw, out, logs, tokenizer_folder, tasks: int, workers: int, **packer_kwargs) -> Dataset:
    pipeline = [JsonlReader(str(raw)), ContentWordPacker(str(tokenizer_folder), seq_len=SEQ_LEN, **packer_kwargs),
                PackedBlockWriter(str(out))]
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logs), start_method="fork").run()
    return load_packed_shards(out, cache_dir=out.parent / f"{out.name}-cache")


@pytest.fixture(scope="module")
def packed(corpus, tokenizer_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("packing")
    write_jsonl_folder(root / "raw", corpus, n_files=3)
    one = pack(root / "raw", root / "one", root / "logs-one", tokenizer_folder, tasks=1, workers=1)
    three = pack(root / "raw", root / "three", root / "logs-three", tokenizer_folder, tasks=3, workers=2)
    return root, one, three


def test_n_tasks_pack_the_same_blocks_as_one(packed):
    _, one, three = packed
    assert len(one) > 20
    assert sorted(one.column_names) == sorted(COLUMNS)
    assert one.to_dict() == three.to_dict()  # same blocks in the same (id-sorted) order


def test_blocks_are_add_content_word_mask_cut_into_blocks(packed, corpus, tokenizer_folder):
    from greennlp.encoders import load_tokenizer

    _, one, _ = packed
    tokenizer = load_tokenizer(tokenizer_folder, model_max_length=10**9)
    expected = {column: [] for column in COLUMNS}
    for file_index in range(3):  # one file at a time: packing restarts at each input file
        texts = corpus[file_index::3]
        tagged = add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, ContentWordTagger("blank"),
                                       max_length=None, progress=False)
        joined = {column: [x for row in tagged[column] for x in row] for column in COLUMNS if column in tagged.column_names}
        for start in range(0, len(joined["input_ids"]) - SEQ_LEN + 1, SEQ_LEN):
            for column, values in joined.items():
                expected[column].append(values[start:start + SEQ_LEN])
            expected["attention_mask"][-1] = [1] * SEQ_LEN
    assert one["input_ids"] == expected["input_ids"]
    assert one["content_word_mask"] == expected["content_word_mask"]
    assert one["word_ids"] == expected["word_ids"]
    assert one["special_tokens_mask"] == expected["special_tokens_mask"]
    assert 0.1 < sum(map(sum, one["content_word_mask"])) / (len(one) * SEQ_LEN) < 0.9


def test_shards_feed_the_content_collator(packed, tokenizer_folder):
    from greennlp.encoders import load_tokenizer

    _, one, _ = packed
    collator = DataCollatorForContentMasking(load_tokenizer(tokenizer_folder), seed=0)
    batch = collator([one[i] for i in range(4)])
    assert batch["input_ids"].shape == (4, SEQ_LEN)
    masked = batch["labels"] != -100
    assert masked.any()
    content = batch.get("content_word_mask")
    if content is not None:
        assert bool(content[masked].all())


def test_pretrain_mlm_trains_on_the_shards(packed, tokenizer_folder, tmp_path, monkeypatch):
    root, _, _ = packed
    spec = importlib.util.spec_from_file_location("pretrain_mlm", REPO / "scripts" / "pretrain_mlm.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", [
        "pretrain_mlm.py", "--packed-shards", str(root / "three"), "--tokenizer", str(tokenizer_folder),
        "--size", "tiny", "--steps", "2", "--batch-size", "4", "--log-every", "1", "--checkpoints", "1.0",
        "--output-dir", str(out), "--cache-dir", str(tmp_path / "cache"), "--threads", "1"])
    script.main()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [1, 2]
    assert all(record["masked_tokens"] > 0 for record in log)
    assert (out / "step-2").is_dir()


def test_keep_offsets_adds_the_column(corpus, tokenizer_folder, tmp_path):
    write_jsonl_folder(tmp_path / "raw", corpus[:6], n_files=1)
    blocks = pack(tmp_path / "raw", tmp_path / "out", tmp_path / "logs", tokenizer_folder, tasks=1, workers=1,
                  keep_offsets=True)
    assert "offset_mapping" in blocks.column_names
    assert len(blocks[0]["offset_mapping"]) == SEQ_LEN


def test_refuses_bad_settings():
    with pytest.raises(ValueError, match="seq_len"):
        ContentWordPacker("tokenizer", seq_len=1)
    with pytest.raises(TypeError, match="tagger"):
        ContentWordPacker("tokenizer", tagger=3)


def test_a_failed_task_leaves_no_shard_and_its_rerun_writes_all(corpus, tokenizer_folder, tmp_path):
    from datatrove.data import Document

    from greennlp.encoders import load_tokenizer

    texts = corpus[:12]

    def documents(fail_at: int | None = None):
        for i, text in enumerate(texts):
            if i == fail_at:
                raise RuntimeError("the task died")
            yield Document(text=text, id=str(i), metadata={"file_path": "part-0.jsonl"})

    def run_task(fail_at: int | None = None) -> None:
        packer = ContentWordPacker(str(tokenizer_folder), seq_len=SEQ_LEN, batch_size=2)
        writer = PackedBlockWriter(str(tmp_path / "packed"), batch_size=2)  # small batches: written before the end
        for _ in writer.run(packer.run(documents(fail_at), rank=0), rank=0):
            pass

    with pytest.raises(RuntimeError, match="the task died"):
        run_task(fail_at=9)
    assert not list((tmp_path / "packed").rglob("*.parquet"))
    with pytest.raises(FileNotFoundError, match="no \\*.parquet shards"):
        load_packed_shards(tmp_path / "packed")
    # a killed run leaves a file without its footer in the task's hidden folder: readers skip it, the rerun clears it
    killed = tmp_path / "packed" / ".partial" / "00000" / "000_00000.parquet"
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"PAR1 half a shard")
    run_task()
    assert [path.name for path in (tmp_path / "packed").rglob("*.parquet")] == ["000_00000.parquet"]
    blocks = load_packed_shards(tmp_path / "packed", cache_dir=tmp_path / "cache")
    tokenizer = load_tokenizer(tokenizer_folder, model_max_length=10**9)
    tagged = add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, ContentWordTagger("blank"),
                                   max_length=None, progress=False)
    tokens = sum(len(ids) for ids in tagged["input_ids"])
    assert len(blocks) == tokens // SEQ_LEN  # every block of all 12 documents

