import numpy as np
import pytest
import torch

from greennlp.encoders import load_tokenizer
from greennlp.fewshot import InContextClassifier, PatternClassifier, sample_k_shot

SENTIMENT = {0: "bad", 1: "good"}


@pytest.mark.parametrize("epochs", [0, 1])
def test_pattern_round_trip_zero_and_few_shot(epochs, tiny_bert_path, tiny_train, tiny_test, device):
    templates = ["{text} It was {mask}.", "{mask} : {text}"]
    model = PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, templates=templates, num_epochs=epochs,
                              learning_rate=1e-3, seed=0, bf16=False, device=device).fit(tiny_train)
    assert model.model_.device.type == torch.device(device).type
    probabilities = model.predict_proba(tiny_test["text"])
    assert probabilities.shape == (len(tiny_test), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert set(model.predict(tiny_test["text"])) <= {0, 1}
    assert (model.num_trainable_parameters_ > 0) == (epochs > 0)
    again = PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, templates=templates, num_epochs=epochs,
                              learning_rate=1e-3, seed=0, bf16=False, device=device).fit(tiny_train)
    # bit for bit on the CPU; a GPU's backward pass may add up in another order
    np.testing.assert_allclose(again.predict_proba(tiny_test["text"]), probabilities,
                               atol=1e-5 if device == "cpu" else 1e-4)


def test_pattern_zero_shot_without_data_matches_zero_epochs(tiny_bert_path, tiny_train, tiny_test):
    zero = PatternClassifier(tiny_bert_path, verbalizer={0: ["bad", "dull"], 1: "good"}).fit(None)
    assert zero.classes_.tolist() == [0, 1] and zero.num_trainable_parameters_ == 0
    no_epochs = PatternClassifier(tiny_bert_path, verbalizer={0: ["bad", "dull"], 1: "good"}, num_epochs=0)
    np.testing.assert_allclose(
        zero.predict_proba(tiny_test["text"]), no_epochs.fit(tiny_train).predict_proba(tiny_test["text"]), atol=1e-6
    )


def test_pattern_input_keeps_mask_and_template_when_text_is_long(tiny_bert_path):
    model = PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, max_length=16).fit(None)
    ids = model.encode("the film " * 50)
    tokenizer = model.tokenizer_
    assert len(ids) == 16 and ids.count(tokenizer.mask_token_id) == 1
    tail = tokenizer(" It was", add_special_tokens=False)["input_ids"] + [tokenizer.mask_token_id]
    tail += tokenizer(".", add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    assert ids[-len(tail) :] == tail and ids[0] == tokenizer.cls_token_id


def test_pattern_full_vocabulary_head_gives_the_same_scores(tiny_bert_path, tiny_test, device):
    model = PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, device=device).fit(None)
    fast = model._class_logits(tiny_test["text"][:4], 0)
    batch = model.tokenizer_.pad({"input_ids": [model.encode(t) for t in tiny_test["text"][:4]]}, return_tensors="pt")
    batch = batch.to(device)
    logits = model.model_(**batch).logits[batch["input_ids"] == model.tokenizer_.mask_token_id]
    expected = logits[:, [model.label_ids_[0][0][0], model.label_ids_[0][1][0]]]
    np.testing.assert_allclose(fast.detach().cpu().numpy(), expected.detach().cpu().numpy(), atol=1e-4)


def test_templates_without_mask_or_text_are_rejected(tiny_bert_path):
    with pytest.raises(ValueError, match=r"has no \{mask\} slot.*\{text\} It was \{mask\}"):
        PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, templates="{text} It was [MASK].").fit(None)
    with pytest.raises(ValueError, match=r"has no \{text\} slot"):
        PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, templates="It was {mask}.").fit(None)
    with pytest.raises(ValueError, match="unknown slot"):
        PatternClassifier(tiny_bert_path, verbalizer=SENTIMENT, templates="{text} {mask} {label}").fit(None)
    with pytest.raises(ValueError, match="verbalizer is required"):
        PatternClassifier(tiny_bert_path).fit(None)


def test_multi_token_label_word_is_rejected_with_its_pieces(tiny_bert_path):
    with pytest.raises(ValueError, match=r"'magnificent' \(label 1\) is not a single token.*tokenizes to \["):
        PatternClassifier(tiny_bert_path, verbalizer={0: "bad", 1: "magnificent"}).fit(None)


def test_leading_space_label_words(tiny_roberta_path):
    tokenizer = load_tokenizer(tiny_roberta_path)
    assert len(tokenizer(" great", add_special_tokens=False)["input_ids"]) == 1
    assert len(tokenizer("great", add_special_tokens=False)["input_ids"]) > 1
    # after a space "great" is the single token "Ġgreat": accepted
    model = PatternClassifier(tiny_roberta_path, verbalizer={0: "awful", 1: "great"}).fit(None)
    assert tokenizer.convert_ids_to_tokens(model.label_ids_[0][1]) == ["Ġgreat"]
    assert model.predict_proba(["the film was it"]).shape == (1, 2)
    # with no space before the slot it would be split: rejected, and the message says how to fix it
    with pytest.raises(ValueError, match="no space before it.*put a space before \\{mask\\}"):
        PatternClassifier(tiny_roberta_path, verbalizer={0: "awful", 1: "great"}, templates="{text} It was:{mask}").fit(None)


def test_labels_outside_the_verbalizer_are_rejected(tiny_bert_path, tiny_train):
    with pytest.raises(ValueError, match=r"Labels \[1\].*no label words"):
        PatternClassifier(tiny_bert_path, verbalizer={0: "bad", 2: "good"}).fit(tiny_train)


ICL = {"verbalizer": {0: "negative", 1: "positive"}}


@pytest.mark.parametrize("calibrate", [False, True])
def test_in_context_round_trip(calibrate, tiny_gpt2_path, tiny_train, tiny_test, device):
    train = sample_k_shot(tiny_train, 2, seed=0)
    model = InContextClassifier(tiny_gpt2_path, num_demonstrations=2, calibrate=calibrate, device=device,
                                **ICL).fit(train)
    assert model.model_.device.type == torch.device(device).type
    probabilities = model.predict_proba(tiny_test["text"][:6])
    assert probabilities.shape == (6, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert set(model.predict(tiny_test["text"][:6])) <= {0, 1}
    assert model.num_trainable_parameters_ == 0
    assert sorted(label for _, label in model.demonstrations_) == [0, 1]
    again = InContextClassifier(tiny_gpt2_path, num_demonstrations=2, calibrate=calibrate, device=device,
                                **ICL).fit(train)
    np.testing.assert_allclose(again.predict_proba(tiny_test["text"][:6]), probabilities, atol=1e-6)
    if calibrate:
        assert model.calibration_.shape == (2,) and np.isclose(model.calibration_.sum(), 1.0)


def test_in_context_scores_are_label_log_likelihoods(tiny_gpt2_path, tiny_train, device):
    model = InContextClassifier(tiny_gpt2_path, num_demonstrations=2, device=device, **ICL).fit(tiny_train)
    prompt, _ = model.build_prompt("a good film")
    scores = model._log_likelihoods(["a good film"])[0]
    for c, label_ids in enumerate(model.label_ids_):
        with torch.no_grad():
            logits = model.model_(input_ids=torch.tensor([prompt + label_ids], device=device)).logits[0]
        log_probs = torch.log_softmax(logits, -1)
        expected = sum(float(log_probs[len(prompt) - 1 + j, token]) for j, token in enumerate(label_ids))
        assert scores[c] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("overflow", ["drop", "truncate"])
def test_in_context_prompts_never_exceed_the_context(overflow, tiny_gpt2_path, tiny_train, caplog):
    model = InContextClassifier(tiny_gpt2_path, num_demonstrations=8, overflow=overflow, **ICL).fit(tiny_train)
    assert model.context_length_ == 64
    longest_label = max(len(ids) for ids in model.label_ids_)
    for text in ["good", "the film was a good one " * 3, "the plot " * 80]:
        ids, report = model.build_prompt(text)
        assert len(ids) + longest_label <= 64
        if overflow == "drop":  # texts are cut only once every demonstration is gone
            assert report["cut_tokens"] == 0 or report["dropped"] == 8
        else:  # demonstrations are dropped only once their texts are cut
            assert report["dropped"] == 0 or report["cut_tokens"] > 0
    with caplog.at_level("WARNING"):
        model.predict(["the plot " * 80])
    assert "exceeded the context of 64 tokens" in caplog.text
    key = "demonstrations_dropped" if overflow == "drop" else "tokens_cut"
    assert model.prompt_report_[key] > 0


def test_in_context_template_errors(tiny_gpt2_path, tiny_train):
    with pytest.raises(ValueError, match="must end with its \\{label\\} slot"):
        InContextClassifier(tiny_gpt2_path, template="{label}: {text}", **ICL).fit(tiny_train)
    with pytest.raises(ValueError, match="overflow must be one of"):
        InContextClassifier(tiny_gpt2_path, overflow="wrap", **ICL).fit(tiny_train)
