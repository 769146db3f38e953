"""DataCollatorForContentMasking: what is masked, how much, how it is corrupted, and reproducibility."""
from __future__ import annotations

import re

import pytest
import torch
from datasets import Dataset
from spacy.lang.en.stop_words import STOP_WORDS
from transformers import DataCollatorForLanguageModeling

from greennlp.masking import DataCollatorForContentMasking, add_content_word_mask


@pytest.fixture(scope="module")
def tagged(wordpiece_tokenizer, lexical_tagger, make_sentences):
    texts = make_sentences(400, seed=7)
    ds = add_content_word_mask(Dataset.from_dict({"text": texts}), wordpiece_tokenizer, lexical_tagger,
                               keep_offsets=True)
    return texts, list(ds)


def _batches(rows, size=32):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def test_only_content_words_are_ever_masked(tagged, wordpiece_tokenizer):
    texts, rows = tagged
    collator = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.5, budget="matched", seed=0)
    n_masked = 0
    for _ in range(5):  # 5 epochs x 13 batches, different draws each time
        for start, batch_rows in zip(range(0, len(rows), 32), _batches(rows), strict=True):
            labels = collator(batch_rows)["labels"]
            for i, row in enumerate(batch_rows):
                text = texts[start + i]
                words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\w+|[^\w\s]", text)]
                for position in (labels[i] != -100).nonzero().flatten().tolist():
                    n_masked += 1
                    start_char, end_char = row["offset_mapping"][position]
                    hit = [w for s, e, w in words if s < end_char and e > start_char]
                    assert hit and all(w.isalnum() and w.lower() not in STOP_WORDS for w in hit), (text, hit)
                    assert labels[i, position] == row["input_ids"][position]
    assert n_masked > 5000


def test_whole_words_are_masked_together(tagged, wordpiece_tokenizer):
    _, rows = tagged
    collator = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.3, seed=1)
    split_words = 0
    for batch_rows in _batches(rows):
        selected = collator(batch_rows)["labels"] != -100
        for i, row in enumerate(batch_rows):
            groups: dict[int, set[bool]] = {}
            for position, (word, flag) in enumerate(zip(row["word_ids"], row["content_word_mask"], strict=True)):
                if flag:
                    groups.setdefault(word, set()).add(bool(selected[i, position]))
            split_words += sum(len(g) > 1 for g in groups.values())
    assert split_words == 0
    tokenwise = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.3, seed=1, whole_words=False)
    labels = tokenwise(rows[:64])["labels"]
    assert (labels != -100).any()


def _rates(collator, rows, repeats):
    masked = content = maskable = 0
    for _ in range(repeats):
        for batch_rows in _batches(rows, 64):
            batch = collator(batch_rows)
            selected = batch["labels"] != -100
            masked += int(selected.sum())
            content += sum(sum(r["content_word_mask"]) for r in batch_rows)
            maskable += sum(len(r["input_ids"]) - sum(r["special_tokens_mask"]) for r in batch_rows)
    return masked, content, maskable


def test_budgets_hold_statistically(tagged, wordpiece_tokenizer):
    _, rows = tagged
    masked, content, maskable = _rates(
        DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.15, budget="matched", seed=0), rows, 6)
    assert abs(masked / maskable - 0.15) < 0.01  # same expected count as random masking at 15%
    assert 0.3 < content / maskable < 0.9
    masked, content, _ = _rates(
        DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.15, budget="content", seed=0), rows, 6)
    assert abs(masked / content - 0.15) < 0.015  # 15% of content tokens
    masked, _, maskable = _rates(DataCollatorForContentMasking(wordpiece_tokenizer, strategy="random",
                                                               mlm_probability=0.15, seed=0), rows, 6)
    assert abs(masked / maskable - 0.15) < 0.01  # the HF baseline for comparison


def test_80_10_10_replacement(tagged, wordpiece_tokenizer):
    _, rows = tagged
    collator = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.6, seed=3)
    mask_id = wordpiece_tokenizer.mask_token_id
    counts = {"mask": 0, "same": 0, "other": 0}
    for _ in range(3):
        for batch_rows in _batches(rows, 64):
            batch = collator(batch_rows)
            selected = batch["labels"] != -100
            inputs, labels = batch["input_ids"][selected], batch["labels"][selected]
            counts["mask"] += int((inputs == mask_id).sum())
            counts["same"] += int((inputs == labels).sum())
            counts["other"] += int(((inputs != mask_id) & (inputs != labels)).sum())
    total = sum(counts.values())
    assert total > 10000
    assert abs(counts["mask"] / total - 0.8) < 0.02
    # a random replacement draws the original token with probability 1/vocab, so "same" is a bit above 10%
    assert abs(counts["same"] / total - 0.1) < 0.02 and abs(counts["other"] / total - 0.1) < 0.02
    only_mask = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.6, mask_replace_prob=1.0,
                                              random_replace_prob=0.0)
    batch = only_mask(rows[:64])
    assert torch.all(batch["input_ids"][batch["labels"] != -100] == mask_id)


def test_positions_and_corruption_on_the_device_equal_the_cpus(tagged, wordpiece_tokenizer, device):
    """select_positions and corrupt take tensors on any device; the draws come from the collator's CPU generator,
    so a seed gives the same masks on a GPU as on the CPU."""
    _, rows = tagged
    rows = rows[:16]

    def column(name, fill):
        return torch.nn.utils.rnn.pad_sequence([torch.tensor(row[name]) for row in rows], batch_first=True,
                                               padding_value=fill)

    input_ids = column("input_ids", wordpiece_tokenizer.pad_token_id)
    special = torch.isin(input_ids, torch.tensor(wordpiece_tokenizer.all_special_ids))
    maskable = column("attention_mask", 0).bool() & ~special
    content, word_ids = column("content_word_mask", 0).bool(), column("word_ids", -1)

    def mask_on(where):
        collator = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.3, seed=0)
        collator.create_rng()
        selected = collator.select_positions(maskable.to(where), content.to(where), word_ids.to(where))
        inputs, labels = collator.corrupt(input_ids.clone().to(where), selected)
        assert selected.device.type == inputs.device.type == labels.device.type == torch.device(where).type
        return selected.cpu(), inputs.cpu(), labels.cpu()

    for expected, found in zip(mask_on("cpu"), mask_on(device), strict=True):
        assert torch.equal(expected, found)
    assert mask_on(device)[0].any()


def test_seeds_make_batches_reproducible(tagged, wordpiece_tokenizer):
    _, rows = tagged

    def run(seed):
        collator = DataCollatorForContentMasking(wordpiece_tokenizer, budget="matched", seed=seed)
        return [collator(b) for b in list(_batches(rows))[:4]]

    first, again, other = run(5), run(5), run(6)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])
    assert any(not torch.equal(a["labels"], c["labels"]) for a, c in zip(first, other, strict=True))
    torch.manual_seed(11)
    unseeded = DataCollatorForContentMasking(wordpiece_tokenizer)(rows[:32])["labels"]
    torch.manual_seed(11)
    assert torch.equal(unseeded, DataCollatorForContentMasking(wordpiece_tokenizer)(rows[:32])["labels"])


def test_edge_rows_padding_and_fallback(wordpiece_tokenizer, lexical_tagger):
    texts = ["", "It is what it is, is it not?", "tiger 😀 eats\xa0carrot", "Der Hund läuft.",
             " ".join(["the tiger eats the carrot"] * 100)]
    rows = list(add_content_word_mask(Dataset.from_dict({"text": texts}), wordpiece_tokenizer, lexical_tagger,
                                      max_length=32))
    collator = DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=0.5, pad_to_multiple_of=8, seed=0)
    fallback_masked = 0
    for _ in range(20):
        batch = collator(rows)
        assert batch["input_ids"].shape == (5, 32) and batch["labels"].shape == (5, 32)
        labels = batch["labels"]
        assert torch.all(labels[0] == -100)  # empty text: only special tokens and padding
        assert torch.all(labels[:, 0] == -100)  # [CLS] never masked
        assert torch.all(labels[batch["attention_mask"] == 0] == -100)  # padding never masked
        fallback_masked += int((labels[1] != -100).sum())  # no content word -> random masking
    assert fallback_masked > 0
    short = collator(rows[:2])
    assert short["input_ids"].shape[1] % 8 == 0


def test_baselines_read_the_same_dataset(tagged, wordpiece_tokenizer):
    _, rows = tagged
    random_collator = DataCollatorForContentMasking(wordpiece_tokenizer, strategy="random", seed=0)
    assert not random_collator.whole_word_mask
    batch = random_collator(rows[:16])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    reference = DataCollatorForLanguageModeling(wordpiece_tokenizer, seed=0)(
        [{"input_ids": row["input_ids"]} for row in rows[:16]])
    assert torch.equal(batch["labels"], reference["labels"])  # the HF collator unchanged, on the same draws
    with pytest.warns(UserWarning):
        whole = DataCollatorForContentMasking(wordpiece_tokenizer, strategy="whole-word", seed=0)
    assert whole.whole_word_mask and (whole(rows[:16])["labels"] != -100).any()
    assert DataCollatorForContentMasking(wordpiece_tokenizer).strategy == "content"


def test_clear_errors(wordpiece_tokenizer):
    plain = [dict(wordpiece_tokenizer("the tiger")) for _ in range(2)]
    with pytest.raises(ValueError, match="content_word_mask.*remove_unused_columns=False"):
        DataCollatorForContentMasking(wordpiece_tokenizer)(plain)
    with pytest.raises(ValueError, match="budget"):
        DataCollatorForContentMasking(wordpiece_tokenizer, budget="half")
    with pytest.raises(ValueError, match="whole_words"):
        DataCollatorForContentMasking(wordpiece_tokenizer, whole_word_mask=True)
    with pytest.raises(ValueError, match=r"strategy='span'\); choose one of \('random', 'whole-word', 'content'\)"):
        DataCollatorForContentMasking(wordpiece_tokenizer, strategy="span")
    with pytest.raises(ValueError, match="mask_replace_prob"):
        DataCollatorForContentMasking(wordpiece_tokenizer, mask_replace_prob=0.9, random_replace_prob=0.2)


def test_trainer_runs_with_the_collator(tagged, wordpiece_tokenizer, tmp_path, device):
    from transformers import Trainer, TrainingArguments

    from greennlp.encoders import load_encoder

    _, rows = tagged
    dataset = Dataset.from_list(rows[:64]).remove_columns(["offset_mapping"])
    model = load_encoder("tiny", task="mlm", tokenizer=wordpiece_tokenizer, seed=0)
    args = TrainingArguments(str(tmp_path), max_steps=3, per_device_train_batch_size=16, use_cpu=device == "cpu",
                             report_to="none", save_strategy="no", remove_unused_columns=False, logging_steps=1)
    collator = DataCollatorForContentMasking(wordpiece_tokenizer, budget="matched", seed=0)
    result = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator).train()
    assert result.global_step == 3 and 0 < result.training_loss < 20


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_matches_tokenizer_pad(tagged, wordpiece_tokenizer, side):
    _, rows = tagged
    tokenizer = wordpiece_tokenizer
    original_side = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        collator = DataCollatorForContentMasking(tokenizer, mlm_probability=0.5, pad_to_multiple_of=8, seed=0)
        batch = collator(rows[:16])
        reference = tokenizer.pad([{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows[:16]],
                                  return_tensors="pt", pad_to_multiple_of=8)
    finally:
        tokenizer.padding_side = original_side
    unmasked = torch.where(batch["labels"] != -100, batch["labels"], batch["input_ids"])  # undo the corruption
    assert torch.equal(unmasked, reference["input_ids"])
    assert torch.equal(batch["attention_mask"], reference["attention_mask"])
    assert torch.all(batch["labels"][reference["attention_mask"] == 0] == -100)


def test_one_default_budget_and_probability_checks(wordpiece_tokenizer):
    assert DataCollatorForContentMasking(wordpiece_tokenizer).budget == "matched"
    for bad in (0.0, -0.1, 1.5, float("nan"), None, "0.15"):
        for budget in ("matched", "content"):  # nan used to mask 80% of tokens ("matched") or none ("content")
            with pytest.raises(ValueError, match=r"mlm_probability must be a number in \(0, 1\]"):
                DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=bad, budget=budget)
        for strategy in ("random", "whole-word"):
            with pytest.raises(ValueError, match="mlm_probability"):
                DataCollatorForContentMasking(wordpiece_tokenizer, strategy=strategy, mlm_probability=bad)
    assert DataCollatorForContentMasking(wordpiece_tokenizer, mlm_probability=1).mlm_probability == 1.0
