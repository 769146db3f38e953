"""DistillationTrainer and keep_layers on BERT-tiny."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import to_device

from greennlp.encoders import load_encoder
from greennlp.encoders.data import PaddingCollator
from greennlp.inference import DistillationTrainer, keep_layers
from greennlp.inference.distillation import distillation_loss


def test_loss_combines_soft_and_hard_terms(device):
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0]], device=device)
    teacher = torch.tensor([[3.0, -1.0], [0.5, 0.0]], device=device)
    labels = torch.tensor([0, 1], device=device)
    hard = torch.nn.functional.cross_entropy(student, labels)
    soft = distillation_loss(student, teacher, labels, temperature=2.0, alpha=1.0)
    torch.testing.assert_close(distillation_loss(student, teacher, labels, temperature=2.0, alpha=0.0), hard)
    torch.testing.assert_close(distillation_loss(student, teacher, None, temperature=2.0), soft)
    torch.testing.assert_close(distillation_loss(student, teacher, labels, temperature=2.0, alpha=0.3),
                               0.3 * soft + 0.7 * hard)
    expected = 4 * torch.nn.functional.kl_div(torch.log_softmax(student / 2, -1), torch.softmax(teacher / 2, -1),
                                              reduction="batchmean")
    torch.testing.assert_close(soft, expected)



def test_unlabelled_rows_get_only_the_soft_term(device):
    """Rows labelled -100 (unlabelled transfer sentences) weigh like labelled ones but have no hard term."""
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5], [-1.0, 1.0]], device=device)
    teacher = torch.tensor([[3.0, -1.0], [0.5, 0.0], [2.0, 0.0], [0.0, 0.0]], device=device)
    labels = torch.tensor([0, -100, 1, -100], device=device)
    per_row = [distillation_loss(student[i:i + 1], teacher[i:i + 1],
                                 None if labels[i] == -100 else labels[i:i + 1], temperature=2.0, alpha=0.3)
               if labels[i] != -100 else
               0.3 * distillation_loss(student[i:i + 1], teacher[i:i + 1], None, temperature=2.0)
               for i in range(4)]
    torch.testing.assert_close(distillation_loss(student, teacher, labels, temperature=2.0, alpha=0.3),
                               torch.stack(per_row).mean())
    unlabelled = torch.full((4,), -100, device=device)
    loss = distillation_loss(student, teacher, unlabelled, temperature=2.0, alpha=0.3)
    assert torch.isfinite(loss)  # a batch with no label at all is not NaN
    torch.testing.assert_close(loss, 0.3 * distillation_loss(student, teacher, None, temperature=2.0))

def test_distillation_trainer_trains_a_student_from_a_teacher(tiny_tokenizer, tokenized, tmp_path, train_args, device):
    train, dev = tokenized
    teacher = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=1)
    student = keep_layers(teacher, [0])
    trainer = DistillationTrainer(model=student, teacher=teacher, temperature=2.0, alpha=0.5,
                                  args=train_args(tmp_path, max_steps=15, use_cpu=device == "cpu"), train_dataset=train,
                                  data_collator=PaddingCollator(tiny_tokenizer))
    batch = to_device(trainer.data_collator([train[i] for i in range(16)]), device)
    with torch.no_grad():
        before = float(trainer.compute_loss(student.eval(), batch))
    trainer.train()
    with torch.no_grad():
        after = float(trainer.compute_loss(student.eval(), batch))
    assert after < before
    assert all(not p.requires_grad for p in teacher.parameters())
    assert next(teacher.parameters()).device.type == torch.device(device).type  # moved to the student
    with pytest.raises(ValueError, match="alpha"):
        DistillationTrainer(model=student, teacher=teacher, alpha=2.0, args=train_args(tmp_path))


def test_keep_layers_copies_and_runs_the_kept_layers(tiny_tokenizer, tokenized, device):
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device).eval()
    pruned = keep_layers(model, [1]).eval()
    assert pruned.config.num_hidden_layers == 1 and model.config.num_hidden_layers == 2
    assert len(model.bert.encoder.layer) == 2
    torch.testing.assert_close(pruned.bert.encoder.layer[0].output.dense.weight,
                               model.bert.encoder.layer[1].output.dense.weight)
    batch = to_device(PaddingCollator(tiny_tokenizer)([tokenized[1][i] for i in range(4)]), device)
    batch.pop("labels")
    with torch.no_grad():
        assert np.isfinite(pruned(**batch).logits.cpu().numpy()).all()
        full = keep_layers(model, [0, 1])(**batch).logits
        torch.testing.assert_close(full, model(**batch).logits)
    with pytest.raises(ValueError, match="increasing"):
        keep_layers(model, [1, 0])
    with pytest.raises(ValueError, match="increasing"):
        keep_layers(model, [2])


# --- no silent wrong results (reliability issue, part A) -------------------------------------------------------
def test_temperature_and_alpha_must_be_finite_and_in_range(tiny_tokenizer, tokenized, tmp_path, train_args):
    logits = torch.tensor([[2.0, -1.0], [0.0, 1.0]])
    for temperature in (float("inf"), float("nan"), 0.0, -1.0, True, "2"):
        with pytest.raises(ValueError, match="temperature"):
            distillation_loss(logits, logits, None, temperature=temperature)
    for alpha in (float("nan"), -0.1, 1.5, float("inf"), True):
        with pytest.raises(ValueError, match="alpha"):
            distillation_loss(logits, logits, None, alpha=alpha)
    assert float(distillation_loss(logits, logits, None, temperature=np.float32(3.0), alpha=np.float64(1.0))) == 0.0

    teacher = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=1)
    student = keep_layers(teacher, [0])
    for temperature in (float("inf"), float("nan"), 0.0):
        with pytest.raises(ValueError, match=r"temperature must be a finite number > 0"):
            DistillationTrainer(model=student, teacher=teacher, temperature=temperature, args=train_args(tmp_path))
    for alpha in (float("nan"), -0.1, 1.5):
        with pytest.raises(ValueError, match=r"alpha .* in \[0, 1\]"):
            DistillationTrainer(model=student, teacher=teacher, alpha=alpha, args=train_args(tmp_path))


def test_teacher_and_student_must_have_the_same_number_of_labels(tiny_tokenizer, tokenized, tmp_path, train_args):
    teacher = load_encoder("tiny", num_labels=3, tokenizer=tiny_tokenizer, seed=1)
    student = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=2)
    with pytest.raises(ValueError, match=r"teacher has 3 labels.*student 2"):
        DistillationTrainer(model=student, teacher=teacher, args=train_args(tmp_path), train_dataset=tokenized[0],
                            data_collator=PaddingCollator(tiny_tokenizer))


def test_labels_out_of_range_in_distillation_name_the_value_and_num_labels(tiny_tokenizer, tokenized, tmp_path,
                                                                         train_args):
    logits = torch.tensor([[2.0, -1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"labels holds 7.*num_labels=2"):
        distillation_loss(logits, logits, torch.tensor([0, 7]))
    with pytest.raises(ValueError, match=r"labels holds -3"):
        distillation_loss(logits, logits, torch.tensor([-3, -100]))
    teacher = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=1)
    bad = tokenized[0].select(range(32)).map(lambda row, i: {"labels": 7 if i == 9 else row["labels"]},
                                             with_indices=True)
    with pytest.raises(ValueError, match=r"'labels' holds 7.*num_labels=2"):
        DistillationTrainer(model=keep_layers(teacher, [0]), teacher=teacher, args=train_args(tmp_path),
                            train_dataset=bad, data_collator=PaddingCollator(tiny_tokenizer))


def test_keep_layers_refuses_layers_that_are_not_whole_numbers(tiny_tokenizer):
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    for layers in ([0.9, 1.2], [0, 1.0], [True], ["0"]):
        with pytest.raises(ValueError, match="0-based layer indices"):
            keep_layers(model, layers)
    assert keep_layers(model, np.array([0, 1])).config.num_hidden_layers == 2
