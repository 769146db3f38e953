"""The optional language-id rule (py3langid's bundled model): skips when the extra is not installed."""
import pickle
import sys

import pytest

from greennlp.filters import annotate_quality, default_rules
from greennlp.filters.language import LanguageID, _identifier, identify_language

ENGLISH = "The committee met on Tuesday and agreed that the new bridge would be finished before the winter."
GERMAN = "Der Ausschuss hat sich am Dienstag getroffen und beschlossen, dass die neue Brücke vor dem Winter fertig wird."
FRENCH = "Le comité s'est réuni mardi et a décidé que le nouveau pont serait terminé avant l'hiver prochain."


def test_missing_package_names_the_extra(monkeypatch):
    _identifier.cache_clear()
    monkeypatch.setitem(sys.modules, "py3langid", None)
    monkeypatch.setitem(sys.modules, "py3langid.langid", None)
    with pytest.raises(ImportError, match=r"greennlp\[langid\]"):
        LanguageID()
    _identifier.cache_clear()


def test_identifies_and_keeps_the_target_language():
    pytest.importorskip("py3langid")
    assert identify_language(ENGLISH)[0] == "en" and identify_language(GERMAN)[0] == "de"
    english, german = LanguageID(language="en"), LanguageID(language="de")
    assert english(ENGLISH) and not english(GERMAN) and not english(FRENCH)
    assert german(GERMAN) and not german(ENGLISH)
    assert not english("") and not english("   ")


def test_threshold_is_respected():
    pytest.importorskip("py3langid")
    probability = identify_language(ENGLISH)[1]
    assert 0.65 <= probability < 1.0
    assert LanguageID(min_probability=probability)(ENGLISH)
    assert not LanguageID(min_probability=1.0)(ENGLISH)
    short = "ok"  # two letters carry little evidence: low probability, dropped at the default threshold
    assert identify_language(short)[1] < 0.65 and not LanguageID()(short)


def test_bad_settings_and_pickling():
    pytest.importorskip("py3langid")
    with pytest.raises(ValueError, match="ISO 639-1"):
        LanguageID(language="english")
    with pytest.raises(ValueError, match="fraction"):
        LanguageID(min_probability=1.5)
    rule = pickle.loads(pickle.dumps(LanguageID(language="de")))  # what num_proc workers receive
    assert rule(GERMAN)


def test_in_the_cleaning_chain():
    pytest.importorskip("datasets")
    pytest.importorskip("py3langid")
    from datasets import Dataset

    ds = Dataset.from_dict({"text": [ENGLISH, GERMAN, FRENCH]})
    reasons = annotate_quality(ds, rules=[LanguageID(language="en")])["drop_reason"]
    assert reasons == ["", "language", "language"]
    by_name = default_rules(only=["language_id"], language="en", language_id={"min_probability": 0.65})
    assert by_name == [LanguageID(language="en")]
    assert annotate_quality(ds, rules=by_name)["drop_reason"] == reasons
    assert default_rules(language_id=True)[-1].name == "language"  # off by default, added when given settings
