"""The language filter (cooc.curate.language): the batch kernel's probabilities equal
py3langid's own, and the step keeps what the threshold says."""

import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("py3langid")

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: E402

from cooc.cli.main import main  # noqa: E402
from cooc.curate.language import LanguageFilter, LanguageModel  # noqa: E402
from cooc.curate.run import run_steps  # noqa: E402
from cooc.errors import CoocError  # noqa: E402
from cooc.options import RunOptions  # noqa: E402

SAMPLES = ["This is an English sentence about the weather and cats.",
           "Ceci est une phrase en français sur le temps qu'il fait.",
           "Das ist ein deutscher Satz über das Wetter.", "Это русский текст о погоде.",
           "这是一个关于天气的中文句子。", "ALL CAPITALS ENGLISH TEXT ABOUT THE WEATHER", "", "1234 !!"]


@pytest.fixture(scope="module")
def model():
    return LanguageModel(), LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def check(model, texts):
    ours, ident = model
    p = ours.probabilities(texts)
    for t, row in zip(texts, p, strict=True):
        lang, conf = ident.classify(t)
        assert ours.classes[int(row.argmax())] == lang
        assert abs(float(row.max()) - conf) < 1e-5
        ranked = dict(ident.rank(t))
        for label in ("en", "fr", "de", "sr"):
            assert abs(float(row[ours.classes.index(label)]) - ranked[label]) < 1e-5


def test_equals_py3langid_on_samples(model):
    check(model, SAMPLES)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
def test_equals_py3langid_on_any_text(model, texts):
    check(model, texts)


def test_filter_keeps_english(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in SAMPLES if t))
    r = run_steps([path], [LanguageFilter(["en"], 0.5)], tmp_path / "o",
                  RunOptions(quiet=True, batch_size=2))
    kept = [json.loads(x)["text"] for x in (tmp_path / "o" / "kept" / "c.jsonl").read_text().split("\n") if x]
    assert kept == [SAMPLES[0], SAMPLES[5]]
    assert r["steps"][0]["most_probable"]["en"] == 2
    assert main(["filter", "language", str(path), "-o", str(tmp_path / "o2"), "-l", "fr", "de",
                 "-q"]) == 0
    kept = [json.loads(x)["text"] for x in (tmp_path / "o2" / "kept" / "c.jsonl").read_text().split("\n") if x]
    assert kept == [SAMPLES[1], SAMPLES[2]]


def test_errors(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="unknown language codes"):
        LanguageFilter(["english"])
    (tmp_path / "c.jsonl").write_text('{"text": "hello"}\n')
    rc = main(["filter", "language", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "o"),
               "--threshold", "1.5", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "threshold must be" in err[0]
    monkeypatch.setitem(sys.modules, "py3langid.langid", None)
    with pytest.raises(CoocError, match="pip install 'cooc\\[langid\\]'"):
        LanguageModel()
