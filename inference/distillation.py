"""Knowledge distillation (Hinton et al. 2015) as a ``Trainer``: a student learns from a fine-tuned teacher's
softened logits and from the labels."""
from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer


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
    """
    log_student = nn.functional.log_softmax(student_logits.float() / temperature, dim=-1)
    log_teacher = nn.functional.log_softmax(teacher_logits.float() / temperature, dim=-1)
    soft = nn.functional.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature**2
    if labels is None:
        return soft
    labels = labels.view(-1)
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
        A fine-tuned classifier with the same labels as the student.
    temperature:
        Softmax temperature of both models in the soft term (> 0); higher shows the student more of the
        teacher's ranking of the wrong classes.
    alpha:
        Weight of the soft term in ``[0, 1]``; ``1 - alpha`` goes to the cross-entropy with the labels.

    Examples
    --------
    >>> trainer = DistillationTrainer(model=student, teacher=teacher, temperature=2.0, alpha=0.5, args=args,
    ...                               train_dataset=tokenized_train, data_collator=collator)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(self, *args, teacher: PreTrainedModel, temperature: float = 2.0, alpha: float = 0.5, **kwargs):
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0; got {temperature!r}.")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha weighs the teacher's soft labels and must be in [0, 1]; got {alpha!r}.")
        super().__init__(*args, **kwargs)
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
