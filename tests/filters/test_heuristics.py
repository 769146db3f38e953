"""Quality rules on hand-written documents that each rule should keep or drop, and the dataset wrappers."""
import pytest
from datasets import Dataset, IterableDataset

from greennlp.filters import QualityRule, annotate_quality, clean_corpus, default_rules, drop_summary
from greennlp.filters.cleaning import drop_reasons
from greennlp.filters.heuristics import (  # the rules themselves are private: default_rules builds them by name
    AlphabeticWords,
    BulletLines,
    EllipsisLines,
    FoulWords,
    LeftoverMarkup,
    MeanWordLength,
    StopWords,
    SymbolRatio,
    WordCount,
)
from greennlp.filters.repetition import RepeatedLines, RepeatedNGrams

PROSE = (
    "The committee met on Tuesday to discuss the budget for the coming year. Members agreed that the library "
    "should have longer opening hours, and that the funds for the new reading room would come from savings "
    "in other departments. A final vote is expected next month, after the public has had a chance to comment "
    "on the proposal and to suggest changes of its own."
)


def test_prose_passes_every_default_rule():
    for rule in default_rules():
        assert rule(PROSE), rule.name
    assert drop_reasons(PROSE) == ""
    assert drop_reasons("too short") == "word_count"
    assert drop_reasons("too short", all_reasons=True) == "word_count,stop_words"


def test_word_count_bounds_are_inclusive():
    rule = WordCount(min_words=3, max_words=5)
    assert not rule("one two")
    assert rule("one two three")
    assert rule("one two three four five")
    assert not rule("one two three four five six")
    # punctuation-only tokens (tokenized text) are not words
    assert not rule("one , two .")
    with pytest.raises(ValueError, match="min_words <= max_words"):
        WordCount(min_words=10, max_words=5)


def test_mean_word_length():
    rule = MeanWordLength()  # Gopher: 3 to 10 characters
    assert rule("cats and dogs play")
    assert not rule("a b c d e f g")
    assert not rule("pneumonoultramicroscopic supercalifragilistic")
    assert not rule("")


def test_alphabetic_words_threshold_is_respected():
    four_of_five = "alpha beta gamma delta 12345"
    assert AlphabeticWords(min_fraction=0.8)(four_of_five)
    assert not AlphabeticWords(min_fraction=0.81)(four_of_five)
    assert not AlphabeticWords()("1 2 3 4 5 6 7 8 9 word")
    with pytest.raises(ValueError, match="lie in \\[0, 1\\]"):
        AlphabeticWords(min_fraction=1.5)


def test_symbol_ratio_counts_hashes_and_ellipses_once():
    rule = SymbolRatio(max_ratio=0.1)
    assert rule("one two three four five six seven eight nine ten #")  # 1 symbol / 11 words
    assert not rule("#tag #tag #tag some words here")
    # "..." counts once, not as three dots or as an ellipsis plus dots
    assert rule("so it goes ... and then it went on and on for a long while")
    assert not rule("wait ... what ... no ... yes")


def test_ellipsis_and_bullet_lines():
    assert not EllipsisLines()("first line trails off...\nsecond line too…\na full line.")
    assert EllipsisLines()("first line trails off...\nsecond is fine.\nthird is fine.\nfourth is fine.")
    assert not BulletLines()("- one\n- two\n* three")
    assert BulletLines()("Shopping list:\n- one\n- two\n- three\n- four\n- five\n- six\n- seven\n- eight\n- nine")
    assert not BulletLines(max_fraction=0.5)("Intro:\n- one\n- two")
    # documents of one or two lines are not line lists (min_lines=3); min_lines=1 is Gopher's rule as published
    assert EllipsisLines()("A single review line that trails off...") and BulletLines()("- a one-line review")
    assert not EllipsisLines(min_lines=1)("A single review line that trails off...")


def test_repeated_lines_and_paragraphs():
    rule = RepeatedLines()
    assert not rule("Click here to subscribe.\nClick here to subscribe.\nClick here to subscribe.\nNews today.")
    assert rule("Line one is here.\nLine two is different.\nLine three as well.\nLine four too.")
    # one repeated line in four is 0.25 of lines (< 0.30) but a large share of the characters (> 0.20)
    assert not rule("A long repeated line with many characters.\nshort\nA long repeated line with many characters."
                    "\nok")
    assert RepeatedLines(max_line_char_fraction=0.5)(
        "A long repeated line with many characters.\nshort\nA long repeated line with many characters.\nok")


def test_repeated_ngrams_top_and_duplicate():
    rule = RepeatedNGrams()
    assert rule(PROSE)
    assert not rule("buy now buy now buy now buy now and save money today")  # top 2-gram dominates
    spam = "the quick brown fox jumps over the lazy dog " * 3 + "and then the story ends here with nothing else"
    assert not rule(spam)  # duplicate 5..10-grams
    assert RepeatedNGrams(top={}, duplicate={})(spam)
    with pytest.raises(ValueError, match="positive integers"):
        RepeatedNGrams(top={0: 0.1})


def test_leftover_markup():
    rule = LeftoverMarkup()
    assert not rule("<div class='nav'><a href='/'>Home</a></div> " + PROSE)
    assert not rule("Lorem ipsum dolor sit amet, " + PROSE)
    assert not rule("function f() { return 1; } " + PROSE)
    assert rule("WikiText keeps <unk> placeholders , which are not HTML . " + PROSE)
    assert rule("Tom &amp; Jerry " + PROSE)  # one entity in ~60 words is below 0.02 per word
    assert LeftoverMarkup(characters=())("a set {1, 2} " + PROSE)
    assert rule(PROSE.replace(". ", ".<br /><br />"))  # paragraph breaks written in HTML are not a markup page
    assert rule("Wall St. #39;s rally: Procter amp; Gamble and AT&amp;T rose. " + PROSE)  # broken entities
    assert not rule("<style>p { color: red }</style> " + PROSE)
    assert not rule("<script>track()</script> " + PROSE)


def test_stop_words_english_and_other_languages():
    assert StopWords()(PROSE)
    assert not StopWords()("Der Ausschuss traf sich am Dienstag, um den Haushalt zu besprechen.")
    assert StopWords(language="de")("Der Ausschuss traf sich am Dienstag, um den Haushalt zu besprechen.")
    assert not StopWords(min_fraction=0.9)(PROSE)
    with pytest.raises(ValueError, match="no stop-word list"):
        StopWords(language="xx-not-a-language")


def test_foul_words_needs_a_list_and_counts_words(tmp_path):
    with pytest.raises(ValueError, match="needs a word list"):
        FoulWords()
    rule = FoulWords(words={"darn", "heck"})
    assert not rule("Well, darn! That was close.")
    assert rule(PROSE)
    assert FoulWords(words={"darn"}, max_count=1)("darn it")
    path = tmp_path / "words.txt"
    path.write_text("Blast\nfor crying out loud\n", encoding="utf-8")
    from_file = FoulWords(words_file=path)
    assert not from_file("Oh blast.")
    assert not from_file("Oh, for crying out loud, stop.")


DOCS = [PROSE, "too short", "<p>" * 40 + PROSE, "12345 67890 24680 13579 " * 15, PROSE.replace("Tuesday", "Monday")]


def test_annotate_clean_and_summarise():
    ds = Dataset.from_dict({"text": DOCS, "id": list(range(len(DOCS)))})
    annotated = annotate_quality(ds)
    assert list(annotated["drop_reason"]) == ["", "word_count", "markup", "alphabetic_words", ""]
    assert ds.column_names == ["text", "id"]  # input untouched
    cleaned = clean_corpus(ds)
    assert list(cleaned["id"]) == [0, 4] and cleaned.column_names == ["text", "id"]
    summary = drop_summary(annotated)
    assert summary.loc["kept", "documents"] == 2
    assert summary.loc["word_count", "documents"] == 1
    assert summary["share"].sum() == pytest.approx(1.0)
    every = annotate_quality(ds, all_reasons=True)
    assert set(every["drop_reason"][3].split(",")) >= {"alphabetic_words", "repeated_ngrams"}


def test_num_proc_gives_the_same_answer():
    ds = Dataset.from_dict({"text": DOCS * 4})
    parallel = annotate_quality(ds, num_proc=2, batch_size=3)
    assert list(parallel["drop_reason"]) == list(annotate_quality(ds)["drop_reason"])


def test_iterable_dataset_works_lazily():
    iterable = IterableDataset.from_generator(lambda: ({"text": t} for t in DOCS))
    five_words = default_rules(only=["word_count"], word_count={"min_words": 5})
    annotated = annotate_quality(iterable, rules=five_words)
    assert [row["drop_reason"] for row in annotated] == ["", "word_count", "", "", ""]
    assert [row["text"] for row in clean_corpus(iterable, rules=five_words)] == \
        [DOCS[0], DOCS[2], DOCS[3], DOCS[4]]
    assert drop_summary(annotated).loc["word_count", "documents"] == 1
    with pytest.raises(ValueError, match="num_proc works with a Dataset only"):
        annotate_quality(iterable, num_proc=2)


def test_clear_errors():
    ds = Dataset.from_dict({"body": ["x"]})
    with pytest.raises(ValueError, match="text_column='text' is not a column"):
        annotate_quality(ds)
    with pytest.raises(TypeError, match="QualityRule"):
        annotate_quality(ds, text_column="body", rules=["word_count"])
    with pytest.raises(ValueError, match="unique"):
        annotate_quality(ds, text_column="body", rules=[WordCount(), WordCount(min_words=3)])
    with pytest.raises(TypeError, match="Dataset.from_dict"):
        annotate_quality(["a list"])
    with pytest.raises(ValueError, match="run annotate_quality"):
        drop_summary(ds)


@pytest.mark.parametrize("text", ["-" * 400_000, "\U0001F600" * 200_000, "<" * 200_000, "a " + "_" * 400_000])
def test_rules_take_linear_time_on_long_symbol_runs(text):
    """One long line of symbols (real in web dumps) must not stall a worker: the word patterns used to backtrack
    quadratically (16,000 dashes took 3.4 s)."""
    import time

    from greennlp.filters.heuristics import DocumentStats

    start = time.perf_counter()
    doc = DocumentStats(text)
    decisions = [rule.keeps(doc) for rule in default_rules()]
    assert time.perf_counter() - start < 2.0
    assert not all(decisions)


def test_word_splitting_matches_the_whitespace_word_definition():
    from greennlp.filters.heuristics import DocumentStats

    doc = DocumentStats("state-of-the-art --- 42 ... _x_ é\u00a0b -")
    assert doc.content_words == ["state-of-the-art", "42", "_x_", "é", "b"]
    # 2 of 5 words hold a letter
    assert AlphabeticWords(min_fraction=0.4)("state-of-the-art --- 42 ... _x_")
    assert not AlphabeticWords(min_fraction=0.5)("state-of-the-art --- 42 ... _x_")


@pytest.mark.parametrize("text", ["-" * 1_000_000, "\U0001F600" * 250_000, "\U0001F600" * 1_000_000],
                         ids=["1MB-dashes", "1MB-emoji", "4MB-emoji"])
def test_a_megabyte_line_through_annotate_quality_takes_well_under_a_second(text):
    """Every default rule (all_reasons=True runs them all) on one megabyte-long line: linear time, not quadratic
    (the old word pattern took 3.4 s on 16,000 dashes and would take hours on a megabyte)."""
    import time

    ds = Dataset.from_dict({"text": [text]})
    start = time.perf_counter()
    reasons = annotate_quality(ds, all_reasons=True)["drop_reason"]
    assert time.perf_counter() - start < 2.0
    assert "word_count" in reasons[0]


@pytest.mark.parametrize("values, kind", [([b"some bytes here", b"more"], "binary"), ([3, 7], "int64")])
def test_a_text_column_of_bytes_or_numbers_is_refused_with_the_column_and_the_fix(values, kind):
    fix = r"\.decode\('utf-8'\)" if kind == "binary" else "text_column="
    ds = Dataset.from_dict({"body": values})
    with pytest.raises(TypeError, match=rf"column 'body' holds {kind} values, not text.*{fix}"):
        annotate_quality(ds, text_column="body")
    with pytest.raises(TypeError, match=rf"column 'body' holds {kind} values"):
        clean_corpus(ds, text_column="body")
    # a stream without declared features: the first bad row is named
    stream = IterableDataset.from_generator(lambda: ({"body": value} for value in ["a text", *values]))
    with pytest.raises(TypeError, match=rf"row 1 of column 'body' holds a {type(values[0]).__name__}.*{fix}"):
        list(annotate_quality(stream, text_column="body"))
    with pytest.raises(TypeError, match="quality rules take text"):
        drop_reasons(values[0])
    # a missing text is an empty document, as before
    missing = Dataset.from_dict({"text": [None, PROSE]})
    assert list(annotate_quality(missing)["drop_reason"]) == ["word_count", ""]


def test_default_rules_are_configured_by_name():
    names = [rule.name for rule in default_rules()]
    assert names == ["word_count", "mean_word_length", "alphabetic_words", "symbol_ratio", "ellipsis_lines",
                     "bullet_lines", "markup", "stop_words", "repeated_lines", "repeated_ngrams"]
    configured = default_rules(word_count={"min_words": 3, "max_words": 5}, markup={"code_tags": False},
                               repeated_ngrams=False, foul_words={"words": {"darn"}})
    assert [rule.name for rule in configured] == [*names[:-1], "foul_words"]
    assert configured[0] == WordCount(min_words=3, max_words=5) and configured[6] == LeftoverMarkup(code_tags=False)
    assert not configured[-1]("darn it") and configured[-1]("fine")
    assert default_rules(language="de")[7] == StopWords(language="de")
    only = default_rules(only=("repeated_lines", "word_count"), word_count=True)
    assert [type(rule) for rule in only] == [RepeatedLines, WordCount]
    assert all(isinstance(rule, QualityRule) for rule in configured)


def test_default_rules_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"\['word_cnt'\], which are not rules; the rules are \['word_count'"):
        default_rules(word_cnt={"min_words": 3})
    with pytest.raises(ValueError, match=r"word_count=\{'minimum': 3\}.*the options of 'word_count' are "
                                         r"\['min_words', 'max_words'\]"):
        default_rules(word_count={"minimum": 3})
    with pytest.raises(ValueError, match="min_words <= max_words"):
        default_rules(word_count={"min_words": 10, "max_words": 5})
    with pytest.raises(ValueError, match="give the rule's options as a dict"):
        default_rules(word_count=5)
    with pytest.raises(ValueError, match=r"only=\('markup',\) leaves out"):
        default_rules(only=("markup",), word_count={"min_words": 3})
    with pytest.raises(ValueError, match="name rules among"):
        default_rules(only=("gopher",))
    with pytest.raises(ValueError, match="needs a word list"):
        default_rules(foul_words=True)
