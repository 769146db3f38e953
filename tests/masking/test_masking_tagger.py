"""ContentWordTagger: strategies, the lexical fallback, the letter-or-digit rule and bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import spacy

from greennlp.masking import ContentWordTagger
from greennlp.masking import tagger as tagger_module


def tiny_pos_pipeline():
    """A blank English pipeline whose attribute_ruler assigns POS, standing in for a trained tagger."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    pos = {"tiger": "NOUN", "carrot": "NOUN", "eats": "VERB", "big": "ADJ", "quickly": "ADV", "%": "NOUN",
           "-": "ADJ", "the": "DET", "a": "DET", "is": "AUX", "very": "ADV", "ran": "VERB", "made": "VERB",
           "she": "PRON", "paris": "PROPN", "3": "NUM"}
    for word, tag in pos.items():
        ruler.add([[{"LOWER": word}]], {"POS": tag})
    return nlp


def test_lexical_strategy_drops_stop_words_and_punctuation(lexical_tagger):
    assert lexical_tagger.strategy_ == "lexical"
    words = lexical_tagger.content_words(["The tiger is eating the carrot, very quickly!", "It is what it is."])
    assert words == [["tiger", "eating", "carrot", "quickly"], []]


def test_pos_strategy_uses_tags_and_still_needs_a_letter_or_digit():
    tagger = ContentWordTagger(tiny_pos_pipeline(), strategy="pos")
    words = tagger.content_words(["The big tiger eats a carrot - 3 % quickly in Paris", "she made it"])
    # "-" (ADJ) and "%" (NOUN) have no letter or digit; "made" is a verb but a stop word; "in" has no POS.
    assert words == [["big", "tiger", "eats", "carrot", "3", "quickly", "Paris"], []]
    assert tagger.strategy_ == "pos"


def test_content_pos_is_configurable():
    tagger = ContentWordTagger(tiny_pos_pipeline(), content_pos=("NOUN",), strategy="pos")
    assert tagger.content_words(["The big tiger eats a carrot"]) == [["tiger", "carrot"]]
    keep_stops = ContentWordTagger(tiny_pos_pipeline(), exclude_stop_words=False, strategy="pos")
    assert keep_stops.content_words(["she made it very quickly"]) == [["made", "very", "quickly"]]


def test_function_tags_are_refused():
    with pytest.raises(ValueError, match="function-word tags"):
        ContentWordTagger(spacy.blank("en"), content_pos=("NOUN", "DET")).load()
    with pytest.raises(ValueError, match="unknown universal POS"):
        ContentWordTagger(spacy.blank("en"), content_pos=("NOUNS",)).load()
    with pytest.raises(ValueError, match="strategy"):
        ContentWordTagger(spacy.blank("en"), strategy="magic").load()


def test_missing_pipeline_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(tagger_module, "_warned_fallback", set())
    with pytest.warns(UserWarning, match="not installed.*spacy download") as record:
        first = ContentWordTagger("no_such_pipeline_xyz").load()
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = ContentWordTagger("no_such_pipeline_xyz").load()  # no second warning
    assert first.strategy_ == second.strategy_ == "lexical"
    assert first.content_words(["the tiger"]) == [["tiger"]]


def test_blank_on_purpose_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tagger = ContentWordTagger("blank", lang="de").load()
    assert tagger.strategy_ == "lexical" and tagger.nlp_.lang == "de"
    assert tagger.content_words(["Der Hund und die Katze"]) == [["Hund", "Katze"]]


def test_only_pos_components_stay_enabled():
    nlp = tiny_pos_pipeline()
    nlp.add_pipe("sentencizer")
    tagger = ContentWordTagger(nlp).load()
    assert tagger.nlp_.pipe_names == ["attribute_ruler"]
    assert tagger.strategy_ == "lexical"  # no tagger/morphologizer: auto picks the lexical rule


def test_word_spans_are_sorted_offsets_without_whitespace(lexical_tagger):
    text = "big\xa0tiger  runs\n\nfast 😀"
    (spans,) = list(lexical_tagger.word_spans([text]))
    assert spans.dtype == np.int64 and spans.shape[1] == 3
    assert [text[s:e] for s, e, _ in spans] == ["big", "tiger", "runs", "fast", "😀"]
    assert spans[:, 2].tolist() == [1, 1, 1, 1, 0]  # the emoji has no letter or digit
    assert np.all(np.diff(spans[:, 0]) > 0)


def test_non_strings_get_a_clear_error(lexical_tagger):
    with pytest.raises(TypeError, match="expects strings.*NoneType"):
        list(lexical_tagger.word_spans(["fine", None]))


GLUED = ["Support responded!Their engineers took weeks,(many calls) to fix it.",
         "Bought it on 8/15/06, it runs 24/7: see http://example.com for the manual."]


def test_content_words_stop_at_punctuation_inside_a_spacy_token(lexical_tagger):
    """spaCy keeps "responded!Their", "weeks,(many", "8/15/06", "24/7" and "http://example.com" as single tokens;
    each run of letters and digits in them is a word of its own, checked on its own ("Their", "many": stop words)."""
    assert lexical_tagger.content_words(GLUED) == [
        ["Support", "responded", "engineers", "took", "weeks", "calls", "fix"],
        ["Bought", "8", "15", "06", "runs", "24", "7", "http", "example", "com", "manual"],
    ]
    for text, spans in zip(GLUED, lexical_tagger.word_spans(GLUED), strict=True):
        covered = "".join(text[start:end] for start, end, is_content in spans if is_content)
        assert covered.isalnum()  # no punctuation inside any content word's span
    # contractions glued by punctuation are split as spaCy splits them, so their stop words stay function words
    assert lexical_tagger.content_words(["Combs)don't care, PPV'd it,/>I've so-bad-it's-funny"]) == \
        [["Combs", "care", "PPV", "bad", "funny"]]


def test_marks_belong_to_the_word(lexical_tagger):
    # Devanagari vowel signs and viramas are marks, not punctuation: the word keeps them
    assert lexical_tagger.content_words(["हिन्दी भाषा"]) == [["हिन्दी", "भाषा"]]
