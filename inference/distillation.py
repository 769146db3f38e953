"""Knowledge distillation (Hinton et al. 2015) as a ``Trainer``: a student learns from a fine-tuned teacher's
softened logits and from the labels."""
from __future__ import annotations

import math

import torch
from datasets import Dataset
from torch import nn
from transformers import PreTrainedModel, Trainer

from ._checks import check_label_tensor, class_ids, is_number


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels)``, averaged over the batch,
    where ``_T`` is the softmax at temperature ``T`` (the ``T^2`` keeps the soft term's gradients on the scale of
    the hard one). Without labels the loss is the soft term alone.

    A row labelled ``-100`` (the label ``transformers`` ignores) has no hard term: it adds only
    ``alpha * soft`` to the batch mean. So unlabelled transfer sentences can be mixed with the labelled training
    set, the recipe for small students (Turc et al. 2019, "Well-Read Students Learn Better"): the teacher labels
    what nobody labelled.

    >>> import torch
    >>> logits = torch.tensor([[2.0, -1.0]])
    >>> float(distillation_loss(logits, logits, None))   # a student equal to its teacher: nothing to learn
    0.0
    >>> float(distillation_loss(logits, logits, torch.tensor([-100])))   # unlabelled: the soft term only
    0.0

    Raises ``ValueError`` for a ``temperature`` that is not a finite number > 0 (an infinite one makes every
    gradient NaN), an ``alpha`` outside ``[0, 1]``, logits of different shapes (a teacher with other labels) and
    a label that is neither a class id of the logits nor -100.
    """
    _check_settings(temperature, alpha)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"The student's logits {tuple(student_logits.shape)} and the teacher's "
                         f"{tuple(teacher_logits.shape)} differ: distillation needs two models with the same labels.")
    log_student = nn.functional.log_softmax(student_logits.float() / temperature, dim=-1)
    log_teacher = nn.functional.log_softmax(teacher_logits.float() / temperature, dim=-1)
    soft = nn.functional.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature**2
    if labels is None:
        return soft
    labels = labels.view(-1)
    check_label_tensor(labels, student_logits.shape[-1])
    # summed over the labelled rows and divided by the whole batch: each row weighs the same, labelled or not
    hard = nn.functional.cross_entropy(student_logits.float(), labels, ignore_index=-100, reduction="sum")
    return alpha * soft + (1 - alpha) * hard / labels.numel()


class DistillationTrainer(Trainer):
    """A ``Trainer`` whose loss is :func:`distillation_loss` between the model (the student) and ``teacher``.

    The teacher runs in eval mode without gradients on the same batch (so it must share the student's tokenizer);
    every other argument is the ``Trainer``'s. A student can be a miniature size or the first layers of the teacher
    (:func:`keep_layers`).

    Parameters
    ----------
    teacher:
        A fine-tuned classifier with the same labels as the student (the same ``config.num_labels``).
    temperature:
        Softmax temperature of both models in the soft term (a finite number > 0); higher shows the student more
        of the teacher's ranking of the wrong classes.
    alpha:
        Weight of the soft term in ``[0, 1]``; ``1 - alpha`` goes to the cross-entropy with the labels.

    Raises
    ------
    ValueError
        At construction, for a bad ``temperature`` or ``alpha``, a teacher whose number of labels differs from the
        student's, and a ``datasets.Dataset`` train set whose ``labels`` (or ``label``) column holds a value that
        is neither a class id of the student nor -100.

    Examples
    --------
    >>> trainer = DistillationTrainer(model=student, teacher=teacher, temperature=2.0, alpha=0.5, args=args,
    ...                               train_dataset=tokenized_train, data_collator=collator)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP

    Runnable with BERT-tiny built from a config as the teacher (in practice a fine-tuned classifier) and its
    first layer as the student:

    >>> import tempfile
    >>> from greennlp.encoders import efficient_training_args, load_encoder, tokenize_dataset, train_wordpiece_tokenizer
    >>> from greennlp.encoders.data import PaddingCollator
    >>> from greennlp.inference import keep_layers
    >>> data = Dataset.from_dict({"text": [f"a {word} film" for word in ("good", "great", "bad", "dull")] * 4,
    ...                           "label": [1, 1, 0, 0] * 4})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> teacher = load_encoder("tiny", tokenizer=tokenizer, seed=0)
    >>> student = keep_layers(teacher, [0])
    >>> student.config.num_hidden_layers, teacher.config.num_hidden_layers
    (1, 2)
    >>> run = tempfile.TemporaryDirectory()
    >>> args = efficient_training_args(run.name, num_train_epochs=1, per_device_train_batch_size=8,
    ...                                logging_strategy="no", disable_tqdm=True)
    >>> trainer = DistillationTrainer(model=student, teacher=teacher, temperature=2.0, alpha=0.5, args=args,
    ...                               train_dataset=tokenize_dataset(data, tokenizer),
    ...                               data_collator=PaddingCollator(tokenizer))
    >>> trainer.train().global_step                       # 16 examples in batches of 8; the Trainer prints its metrics
    {'train_runtime': ...}
    2
    >>> all(not parameter.requires_grad for parameter in trainer.teacher.parameters())   # the teacher stays frozen
    True
    >>> run.cleanup()
    """

    def __init__(self, *args, teacher: PreTrainedModel, temperature: float = 2.0, alpha: float = 0.5, **kwargs):
        _check_settings(temperature, alpha)
        super().__init__(*args, **kwargs)
        student_labels = getattr(getattr(self.model, "config", None), "num_labels", None)
        teacher_labels = getattr(getattr(teacher, "config", None), "num_labels", None)
        if student_labels is not None and teacher_labels is not None and student_labels != teacher_labels:
            raise ValueError(
                f"The teacher has {teacher_labels} labels and the student {student_labels}: distillation compares "
                f"their probabilities class by class. Give the student num_labels={teacher_labels} (e.g. "
                f"load_encoder(..., num_labels={teacher_labels})), or use a teacher fine-tuned on the student's labels."
            )
        if student_labels is not None and isinstance(self.train_dataset, Dataset):
            for column in ("labels", "label"):  # the Trainer's name, and the one its collators rename
                if column in self.train_dataset.column_names:
                    class_ids(self.train_dataset, column, student_labels, caller="DistillationTrainer",
                              unlabelled="allow")
                    break
        self.teacher = teacher.eval()
        self.temperature = temperature
        self.alpha = alpha
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.get("labels")
        model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        outputs = model(**model_inputs)
        device = outputs.logits.device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)
        with torch.no_grad():
            teacher_logits = self.teacher(**model_inputs).logits
        loss = distillation_loss(outputs.logits, teacher_logits, labels, temperature=self.temperature, alpha=self.alpha)
        return (loss, outputs) if return_outputs else loss


def _check_settings(temperature: float, alpha: float) -> None:
    if not is_number(temperature) or not math.isfinite(temperature) or not temperature > 0:
        raise ValueError(f"temperature must be a finite number > 0 (e.g. 2; higher softens both models' "
                         f"probabilities more); got {temperature!r}.")
    if not is_number(alpha) or not 0 <= alpha <= 1:  # NaN fails the comparison
        raise ValueError(f"alpha weighs the teacher's soft labels and must be a number in [0, 1]; got {alpha!r}.")
