"""The default cleaning chain on real clean text and on generated junk: it must keep clean documents and drop junk.

Clean documents are read in place from the shared data folder (skipped when absent): long IMDB reviews (the
test split, several paragraphs joined by "<br /><br />"), WikiText-2 articles cut into documents of two to three
paragraphs, CR product-review sentences grouped into reviews, and IMDB reviews with the broken entities of
news dumps (" #39;s", " amp;", "&amp;"), the damage AG News carries. Junk is generated here, 13 kinds, one for
each thing the chain is meant to catch.

Run as a script to print the keep and catch rates and the rules that drop clean text:

    HF_HUB_OFFLINE=1 .venv/bin/python tests/filters/test_clean_text.py
"""
from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from greennlp.filters import default_rules
from greennlp.filters.cleaning import drop_reasons
from greennlp.filters.heuristics import BulletLines, EllipsisLines, LeftoverMarkup

SENTENCES = [
    "The committee met on Tuesday to discuss the budget for the coming year.",
    "Members agreed that the library should have longer opening hours.",
    "The funds for the new reading room would come from savings in other departments.",
    "A final vote is expected next month, after the public has had a chance to comment.",
    "The river flooded the lower town twice in the last decade, and the council wants a new wall.",
    "Engineers say that the work will take two years and that the road must close for six months.",
    "Local shops are worried that they will lose customers while the bridge is being rebuilt.",
    "The school has added a second language course, which is popular with the older students.",
    "Farmers in the valley reported a good harvest, although the dry summer hurt the late crops.",
    "The museum will open a new wing with paintings that have been kept in storage for years.",
]
GERMAN = ("Der Ausschuss traf sich am Dienstag , um den Haushalt für das kommende Jahr zu besprechen . Die "
          "Mitglieder waren sich einig , dass die Bibliothek längere Öffnungszeiten haben sollte und dass die "
          "Mittel für den neuen Lesesaal aus Einsparungen in anderen Abteilungen kommen würden . Eine endgültige "
          "Abstimmung wird im nächsten Monat erwartet , nachdem die Öffentlichkeit Gelegenheit hatte , sich zu "
          "äußern und eigene Änderungen vorzuschlagen . Der Fluss hat die Unterstadt zweimal überflutet").split()


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(sentences))


def _words(rng: random.Random, count: int) -> list[str]:
    pool = " ".join(SENTENCES).replace(",", "").replace(".", "").lower().split()
    return [rng.choice(pool) for _ in range(count)]


def junk_documents(per_kind: int = 30, seed: int = 0) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs: ``per_kind`` generated documents for each of 13 kinds of junk."""
    rng = random.Random(seed)
    makers = {
        "too_short": lambda: _prose(rng, 1)[: rng.randint(10, 60)],
        "number_table": lambda: "\n".join(" ".join(str(rng.randint(0, 99999)) for _ in range(6))
                                          for _ in range(rng.randint(12, 30))),
        "symbol_soup": lambda: " ".join(rng.choice(["@@", "|", "--", "==", "%%", "=>", "::", "+", "~~"])
                                        for _ in range(rng.randint(60, 200))) + " " + _prose(rng, 1),
        "long_tokens": lambda: " ".join("".join(_words(rng, rng.randint(3, 5))) for _ in range(rng.randint(60, 120)))
        + " the and of",
        "hashtags": lambda: _prose(rng, 4) + " " + " ".join(f"#{w}" for w in _words(rng, rng.randint(20, 40))),
        "teaser_list": lambda: "\n".join(_prose(rng, 1)[:-1] + "..." for _ in range(rng.randint(5, 15))),
        "bullet_list": lambda: "\n".join(f"{rng.choice(['-', '*', '•'])} {_prose(rng, 1)}"
                                         for _ in range(rng.randint(5, 15))),
        "markup_page": lambda: "".join(f"<div class='item'><a href='/p/{i}'><span>{' '.join(_words(rng, 4))}</span>"
                                       f"</a></div>\n" for i in range(rng.randint(5, 15))) + _prose(rng, 4),
        "lorem_ipsum": lambda: "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + _prose(rng, 5),
        "code": lambda: _prose(rng, 4) + "\nfunction init(options) { var x = options.x || 0; return x + 1; }",
        "other_language": lambda: " ".join(rng.sample(GERMAN, len(GERMAN))),
        "repeated_lines": lambda: "\n".join([_prose(rng, 1)] * rng.randint(4, 10) + [_prose(rng, 2)]),
        "spam_ngrams": lambda: " ".join(["buy cheap watches now and save"] * rng.randint(10, 20)) + " " + _prose(rng, 1),
    }
    return [(kind, make()) for kind, make in makers.items() for _ in range(per_kind)]


def _imdb(data: Path, count: int, offset: int = 0) -> list[str]:
    """Long IMDB reviews (at least 150 words) from the test split, a fixed random sample."""
    with gzip.open(data / "imdb" / "test.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    long_reviews = [text for text in texts if len(text.split()) >= 150]
    random.Random(0).shuffle(long_reviews)
    return long_reviews[offset:offset + count]


def _detokenize(line: str) -> str:
    """Undo WikiText's tokenization (" , ", " @-@ ", " @.@ "), which the raw Wikipedia text did not have: the
    rules are meant for running text, and Gopher's alphabetic-words test counts a lone "," as a word."""
    for before, after in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" n't", "n't"), (" 's", "'s"),
                          ("( ", "("), (" )", ")"), (" ,", ","), (" .", "."), (" ;", ";"), (" :", ":")):
        line = line.replace(before, after)
    return line


def _wikitext(data: Path, count: int) -> list[str]:
    """WikiText-2 validation articles cut into documents of two to three consecutive paragraphs (detokenized),
    of at least 50 words: shorter ones fall under Gopher's 50-word minimum, a deliberate published rule."""
    documents, paragraphs = [], []
    rng = random.Random(0)
    size = rng.choice((2, 3))
    for line in (data / "wikitext2" / "valid.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("= ") and not line.startswith("= = "):  # a new article: start a new document
            paragraphs = []
        if not line or line.startswith("="):
            continue
        paragraphs.append(_detokenize(line))
        if len(paragraphs) == size:
            document = "\n\n".join(paragraphs)
            if len(document.split()) >= 50:
                documents.append(document)
            paragraphs, size = [], rng.choice((2, 3))
    return documents[:count]


def _cr(data: Path, count: int, sentences: int = 8) -> list[str]:
    """CR product-review sentences (lowercased, tokenized), ``sentences`` consecutive ones per review."""
    lines = []
    for name in ("custrev.pos", "custrev.neg"):
        lines += [line.strip() for line in (data / "cr" / name).read_text(encoding="utf-8", errors="replace")
                  .splitlines() if line.strip()]
    return [" ".join(lines[i:i + sentences]) for i in range(0, len(lines) - sentences, sentences)][:count]


def _broken_entities(texts: list[str]) -> list[str]:
    """News-dump damage (as in AG News): apostrophes as " #39;", "&" as "&amp;" or " amp;", quotes as "&quot;",
    plus one company name with an entity, in short documents (the first 60 to 120 words)."""
    damaged = []
    for i, text in enumerate(texts):
        words = text.replace("<br /><br />", "\n\n").replace("'", " #39;").replace('"', "&quot;" if i % 2 else '"')
        words = words.replace("&", "&amp;" if i % 3 == 0 else " amp;").replace("&amp;quot;", "&quot;").split(" ")
        words = words[:60 + (i * 7) % 61]
        words.insert(len(words) // 2, "AT&amp;T" if i % 2 else "Johnson amp; Johnson")
        damaged.append(" ".join(words))
    return damaged


def clean_documents(data: Path) -> dict[str, list[str]]:
    """Several hundred clean English documents, by source."""
    return {
        "imdb": _imdb(data, 300),
        "wikitext2": _wikitext(data, 200),
        "cr": _cr(data, 100),
        "imdb_broken_entities": _broken_entities(_imdb(data, 100, offset=300)),
    }


def measure(data: Path) -> dict:
    """Keep rate on clean documents, catch rate on junk, and which rules dropped clean text."""
    rules = default_rules()
    clean = clean_documents(data)
    reasons = {source: [drop_reasons(text, rules) for text in texts] for source, texts in clean.items()}
    junk = junk_documents()
    junk_reasons = [(kind, drop_reasons(text, rules)) for kind, text in junk]
    every = [reason for values in reasons.values() for reason in values]
    return {
        "clean": len(every),
        "keep": sum(not reason for reason in every) / len(every),
        "keep_by_source": {source: sum(not r for r in values) / len(values) for source, values in reasons.items()},
        "clean_drops": Counter(reason for reason in every if reason),
        "junk": len(junk),
        "catch": sum(bool(reason) for _, reason in junk_reasons) / len(junk),
        "missed_junk": Counter(kind for kind, reason in junk_reasons if not reason),
    }


def test_every_kind_of_junk_is_caught():
    junk = junk_documents()
    missed = Counter(kind for kind, text in junk if not drop_reasons(text))
    assert len({kind for kind, _ in junk}) == 13
    assert sum(missed.values()) / len(junk) <= 0.01, missed
    assert not missed, missed


def test_default_chain_keeps_real_clean_text_and_catches_junk(shared_data):
    result = measure(shared_data)
    assert result["clean"] >= 500
    assert result["keep"] >= 0.95, result
    assert result["catch"] >= 0.99, result
    for source, keep in result["keep_by_source"].items():
        assert keep >= 0.9, (source, result)


def test_one_or_two_line_documents_are_not_line_lists():
    review = "I watched this on a rainy night and it was better than I expected, though the ending dragged..."
    assert EllipsisLines()(review) and BulletLines()("- " + review)
    assert EllipsisLines()(review + "\n" + review)
    teasers = "\n".join(["Ten ways to save money on your heating bill..."] * 2 + ["You won't believe number 7..."])
    assert not EllipsisLines()(teasers)
    assert not BulletLines()("- one item\n- two items\n- three items")
    assert not EllipsisLines(min_lines=1)(review)  # Gopher's rule as published
    with pytest.raises(ValueError, match="min_lines"):
        BulletLines(min_lines=0)


def test_broken_entities_and_line_breaks_are_not_markup():
    news = (" ".join(SENTENCES[:6]).replace("the council", "the council #39;s") +
            " Procter amp; Gamble and AT&amp;T said they would follow &quot;the plan&quot;.")
    assert LeftoverMarkup()(news)
    review = "<br /><br />".join(SENTENCES[i:i + 2] and " ".join(SENTENCES[i:i + 2]) for i in range(0, 10, 2))
    assert LeftoverMarkup()(review)
    # still dropped: markup pages, break soup, entity soup, script/style, braces
    assert not LeftoverMarkup()("<div class='nav'><a href='/'>Home</a></div> " + " ".join(SENTENCES[:5]))
    assert not LeftoverMarkup()("<br>" * 20 + " ".join(SENTENCES[:5]))
    assert not LeftoverMarkup()("&nbsp;&nbsp; " * 20 + " ".join(SENTENCES[:5]))
    assert not LeftoverMarkup()("<script src='a.js'></script> " + " ".join(SENTENCES))
    assert LeftoverMarkup(code_tags=False)("<script src='a.js'></script> " + " ".join(SENTENCES))


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import SHARED_DATA

    result = measure(Path(os.environ.get("GREENNLP_DATA_DIR", SHARED_DATA)))
    for key, value in result.items():
        print(f"{key}: {value}")
