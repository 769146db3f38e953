"""Word-to-subword alignment by offsets across tokenizer families, and add_content_word_mask on datasets."""
from __future__ import annotations

import re

import numpy as np
import pytest
from datasets import Dataset, IterableDataset
from spacy.lang.en.stop_words import STOP_WORDS
from transformers import PreTrainedTokenizer

from greennlp.masking import add_content_word_mask
from greennlp.masking.alignment import align_words_to_tokens

EDGE_TEXTS = ["", "It is what it is.", "Der Hund läuft schnell über die Straße.", "big\xa0tiger runs", "tiger 😀 eats 🐯",
              "   ", "..."]


def test_align_handles_straddling_tokens_and_specials():
    spans = np.array([[0, 3, 1], [4, 7, 0], [7, 8, 0]])  # "cat" content, "and" function, "." punctuation
    offsets = [(0, 0), (0, 2), (2, 3), (3, 5), (5, 8), (0, 0)]
    content, words = align_words_to_tokens(offsets, spans, [1, 0, 0, 0, 0, 1])
    assert content.tolist() == [0, 1, 1, 0, 0, 0]  # (3, 5) straddles "cat" and "and": not content
    assert words.tolist() == [-1, 0, 0, 1, 2, -1]
    assert align_words_to_tokens([], spans)[0].shape == (0,)
    assert align_words_to_tokens([(0, 0), (0, 0)], np.zeros((0, 3), dtype=np.int64))[1].tolist() == [-1, -1]


def _regex_words(text):
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\w+|[^\w\s]", text)]


def test_content_tokens_rebuild_the_content_words(family_tokenizer, lexical_tagger, corpus):
    """For every family, grouping content tokens by word id gives back exactly the tagger's content words."""
    texts = corpus[:60] + EDGE_TEXTS
    ds = add_content_word_mask(Dataset.from_dict({"text": texts}), family_tokenizer, lexical_tagger,
                               keep_offsets=True)
    expected = lexical_tagger.content_words(texts)
    for row, text, want in zip(ds, texts, expected, strict=True):
        assert len(row["content_word_mask"]) == len(row["input_ids"]) == len(row["word_ids"])
        pieces: dict[int, list[tuple[int, int]]] = {}
        for (start, end), flag, word in zip(row["offset_mapping"], row["content_word_mask"], row["word_ids"], strict=True):
            if flag:
                pieces.setdefault(word, []).append((start, end))
        rebuilt = [text[min(s for s, _ in p):max(e for _, e in p)].strip() for p in pieces.values()]
        assert rebuilt == want, (family_tokenizer.__class__, text)
        for special, flag, word in zip(row["special_tokens_mask"], row["content_word_mask"], row["word_ids"], strict=True):
            if special:
                assert flag == 0 and word == -1


def test_no_function_word_token_is_content(family_tokenizer, lexical_tagger, corpus):
    ds = add_content_word_mask(Dataset.from_dict({"text": corpus}), family_tokenizer, lexical_tagger,
                               keep_offsets=True)
    n_content = 0
    for row, text in zip(ds, corpus, strict=True):
        words = _regex_words(text)
        for (start, end), flag in zip(row["offset_mapping"], row["content_word_mask"], strict=True):
            if not flag:
                continue
            n_content += 1
            overlapping = [w for s, e, w in words if s < end and e > start]
            assert overlapping and all(w.lower() not in STOP_WORDS and w.isalnum() for w in overlapping), text
    assert n_content > 500


def test_edge_cases_truncation_and_columns(wordpiece_tokenizer, lexical_tagger):
    long_text = " ".join(["tiger eats the carrot"] * 200)
    ds = Dataset.from_dict({"text": EDGE_TEXTS + [long_text], "label": list(range(len(EDGE_TEXTS) + 1))})
    out = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, max_length=16)
    assert {"text", "label", "input_ids", "attention_mask", "special_tokens_mask", "content_word_mask",
            "word_ids"} <= set(out.column_names) and "offset_mapping" not in out.column_names
    rows = list(out)
    assert rows[0]["content_word_mask"] == [0, 0]  # "" -> [CLS] [SEP]
    assert sum(rows[1]["content_word_mask"]) == 0  # no content word
    assert sum(rows[2]["content_word_mask"]) > 0  # German text: tagged by the English rules, no crash
    content_words = {w for w, f in zip(rows[3]["word_ids"], rows[3]["content_word_mask"], strict=True) if f}
    assert len(content_words) == 3  # NBSP separates "big" and "tiger"
    assert len(rows[-1]["input_ids"]) == 16 and rows[-1]["special_tokens_mask"][-1] == 1
    dropped = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, remove_columns=["text"])
    assert "text" not in dropped.column_names
    untruncated = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, max_length=None)
    assert len(untruncated[-1]["input_ids"]) > 16


def test_streaming_dataset_gives_the_same_rows(wordpiece_tokenizer, lexical_tagger, corpus):
    texts = corpus[:20]
    eager = add_content_word_mask(Dataset.from_dict({"text": texts}), wordpiece_tokenizer, lexical_tagger)
    stream = IterableDataset.from_generator(lambda: ({"text": t} for t in texts))
    streamed = list(add_content_word_mask(stream, wordpiece_tokenizer, lexical_tagger, batch_size=7))
    assert [r["content_word_mask"] for r in streamed] == eager["content_word_mask"]


class WhitespaceTokenizer(PreTrainedTokenizer):
    """A slow (pure Python) tokenizer: no offset mappings."""

    def __init__(self, **kwargs):
        self.vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[MASK]", "a", "tiger"])}
        super().__init__(pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]", **kwargs)

    def get_vocab(self):
        return dict(self.vocab)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def _tokenize(self, text):
        return text.split()

    def _convert_token_to_id(self, token):
        return self.vocab.get(token, 1)

    def _convert_id_to_token(self, index):
        return list(self.vocab)[index]


def test_clear_errors(wordpiece_tokenizer, lexical_tagger, tmp_path):
    ds = Dataset.from_dict({"sentence": ["a tiger"]})
    with pytest.raises(ValueError, match="text_column"):
        add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger)
    slow = WhitespaceTokenizer()
    assert not slow.is_fast
    with pytest.raises(ValueError, match="slow tokenizer.*use_fast=True"):
        add_content_word_mask(ds, slow, lexical_tagger, text_column="sentence")


def test_cache_fingerprint_is_stable_and_follows_settings(wordpiece_tokenizer, lexical_tagger, corpus):
    ds = Dataset.from_dict({"text": corpus[:10]})
    first = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger)
    again = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger)
    shorter = add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, max_length=8)
    assert first._fingerprint == again._fingerprint != shorter._fingerprint


def test_missing_text_names_the_column_and_row(wordpiece_tokenizer, lexical_tagger):
    ds = Dataset.from_dict({"sentence": ["a tiger", "eats", None, "carrots"]})
    with pytest.raises(ValueError, match=r"row 2 of column 'sentence' is None"):
        add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, text_column="sentence", batch_size=3,
                              progress=False)
    numbers = Dataset.from_dict({"text": [3, 7]})
    with pytest.raises(TypeError, match=r"row 0 of column 'text' holds a int, not a string"):
        add_content_word_mask(numbers, wordpiece_tokenizer, lexical_tagger, progress=False)


def test_progress_bar_can_be_hidden_without_changing_the_global_setting(wordpiece_tokenizer, lexical_tagger,
                                                                        corpus, capsys):
    import datasets

    ds = Dataset.from_dict({"text": corpus[:10]})
    assert datasets.is_progress_bar_enabled()
    add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, max_length=20, progress=False)
    assert "Tagging content words" not in capsys.readouterr().err
    assert datasets.is_progress_bar_enabled()  # restored
    add_content_word_mask(ds, wordpiece_tokenizer, lexical_tagger, max_length=24, progress=True)
    assert "Tagging content words" in capsys.readouterr().err
    assert lexical_tagger.content_words(["a tiger eats"], progress=True) == [["tiger", "eats"]]
    assert "Tagging content words" in capsys.readouterr().err


def test_punctuation_glued_between_words_is_never_content(lexical_tagger, corpus):
    """Real reviews glue words with punctuation ("responded!Their"); a byte-level BPE splits the punctuation into
    tokens of its own, and none of them may be flagged as content."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    texts = ["Support responded!Their engineers took weeks,(many calls) to fix it.",
             "Bought it on 8/15/06, it runs 24/7: see http://example.com for the manual."]
    bpe = ByteLevelBPETokenizer(add_prefix_space=True)
    bpe.train_from_iterator(texts * 5 + corpus, vocab_size=400, special_tokens=["<s>", "</s>", "<pad>", "<mask>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", mask_token="<mask>")
    ds = add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, lexical_tagger, keep_offsets=True,
                               progress=False)
    for text, row, want in zip(texts, ds, lexical_tagger.content_words(texts), strict=True):
        flagged = [text[start:end].strip() for (start, end), flag in
                   zip(row["offset_mapping"], row["content_word_mask"], strict=True) if flag]
        assert flagged and all(piece.isalnum() for piece in flagged), flagged
        assert not {"Their", "many", "!", ",(", "/", "://", ":"} & set(flagged)
        pieces: dict[int, list[tuple[int, int]]] = {}
        for (start, end), flag, word in zip(row["offset_mapping"], row["content_word_mask"], row["word_ids"],
                                            strict=True):
            if flag:
                pieces.setdefault(word, []).append((start, end))
        assert [text[min(s for s, _ in p):max(e for _, e in p)].strip() for p in pieces.values()] == want
