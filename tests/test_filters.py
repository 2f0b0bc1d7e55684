"""Filters (cooc.curate): the perplexity filter's scores equal KenLM's, its quantile the
numpy reference; kept + removed = input, scores on every document, any batch size, resume."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from curate_fixtures import DiesInDecide, Killed, read_output, run_texts, write_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.curate.exact import ExactDedup
from cooc.curate.perplexity import PerplexityFilter
from cooc.curate.run import check_output, run_steps
from cooc.curate.step import DocumentBatch
from cooc.errors import CoocError
from cooc.options import RunOptions

TRAIN = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog met",
         "the mat was red and the log was brown", "a dog barked at the cat"] * 3
VOCAB = "the a cat dog sat on mat log red brown was and met barked at zebra unk9 é".split()


@pytest.fixture(scope="module")
def arpa(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lm")
    (d / "train.txt").write_text("\n".join(TRAIN) + "\n")
    path = d / "m.arpa"
    assert main(["lm", "estimate", str(d / "train.txt"), "-o", str(path), "--order", "3",
                 "--discount-fallback", "0.5", "1", "1.5", "-q"]) == 0
    return path


def docs_st():
    # separators KenLM splits on and ones it does not (\x1c, NBSP, U+2028 join words for
    # KenLM, as for bytes.split, though str.split would cut there)
    sep = st.sampled_from([" ", "  ", "\t", "\r", " \x0b", "\x1c", "\xa0", "\u2028", " \x0c"])
    line = st.lists(st.tuples(st.sampled_from(VOCAB), sep), max_size=8).map(
        lambda ws: "".join(w + s for w, s in ws))
    return st.lists(line, min_size=1, max_size=4).map("\n".join).filter(lambda t: t.strip())


def reference_perplexity(kenlm_model, text: str) -> float:
    """KenLM's own scores: every non-blank line a sentence with <s> and </s>."""
    total = tokens = 0.0
    for line in text.split("\n"):
        words = line.encode("utf-8").split()  # KenLM splits the UTF-8 on ASCII whitespace
        if words:
            total += kenlm_model.score(line, bos=True, eos=True)
            tokens += len(words) + 1
    return 10.0 ** (-total / tokens)


@settings(max_examples=30, deadline=None)
@given(st.lists(docs_st(), min_size=1, max_size=12))
def test_perplexity_equals_kenlm(arpa, texts):
    kenlm = pytest.importorskip("kenlm")
    model = kenlm.Model(str(arpa))
    got = PerplexityFilter(arpa, threshold=1e9).perplexities(texts)
    want = np.array([reference_perplexity(model, t) for t in texts])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_trie_scores_as_the_arpa_file(arpa, tmp_path):
    assert main(["lm", "index", str(arpa), "-o", str(tmp_path / "m.lm"), "--bits", "0"]) == 0
    texts = ["the cat sat", "zebra on the\n\nmat", "a dog é"]
    a = PerplexityFilter(arpa, threshold=10).perplexities(texts)
    b = PerplexityFilter(tmp_path / "m.lm", threshold=10).perplexities(texts)
    np.testing.assert_allclose(a, b, rtol=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.lists(docs_st(), min_size=1, max_size=40), st.floats(0.05, 1.0), st.integers(1, 9))
def test_quantile_keeps_what_the_numpy_reference_keeps(arpa, texts, q, batch_size):
    step = PerplexityFilter(arpa, quantile=q)
    batches = [DocumentBatch(texts[i:i + batch_size], np.arange(i, min(i + batch_size, len(texts))))
               for i in range(0, len(texts), batch_size)]
    step.fit(batches)
    keep = np.concatenate([step.decide(b).keep for b in batches])
    ppl = PerplexityFilter(arpa, threshold=1).perplexities(texts)
    cutoff = np.quantile(ppl, q, method="inverted_cdf")
    assert (keep == (ppl <= cutoff)).all()
    assert keep.sum() >= np.ceil(q * len(texts) - 1e-9)


@settings(max_examples=10, deadline=None)
@given(st.lists(docs_st(), min_size=2, max_size=30), st.sampled_from(["jsonl", "jsonl.gz",
                                                                      "parquet", "txt"]),
       st.integers(1, 7), st.booleans())
def test_runner_writes_scores_on_every_document(arpa, texts, fmt, batch_size, quantile):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_corpus(tmp / "in", texts, fmt, bad_every=0 if fmt == "parquet" else 4)
        step = PerplexityFilter(arpa, quantile=0.5) if quantile else \
            PerplexityFilter(arpa, threshold=8.0)
        r = run_steps(files, [ExactDedup(), step], tmp / "out",
                      RunOptions(batch_size=batch_size, quiet=True))
        check_output(tmp / "out")
        assert r["kept"] + r["removed"] == len(texts)
        out = run_texts(tmp / "out")
        docs = [d for v in out.values() for d in v]
        assert len(docs) == len(texts)
        scorer = PerplexityFilter(arpa, threshold=1)
        ppl = dict(zip([d["text"] for d in docs], scorer.perplexities([d["text"] for d in docs]),
                       strict=True))
        for d in docs:
            scores = d["cooc_scores"]
            if fmt == "parquet":
                scores = json.loads(scores)
            if d.get("cooc_step") == "dedup-exact":
                assert scores == {}  # removed before the filter: never scored
                continue
            assert scores["filter-perplexity"] == pytest.approx(ppl[d["text"]], rel=1e-9)
            removed = d.get("cooc_reason") == "perplexity"
            assert removed == (scores["filter-perplexity"] > r["steps"][1]["cutoff"])


def test_score_fields_spliced_as_json_would_write_them(arpa, tmp_path):
    lines = [b'{"text": "the cat sat", "id": 1}  ', b'{"text":"a dog","cooc_scores":5}',
             b'{"id":"%s%d","text":"zebra mat"}', b'{"text":"the mat"}\r']
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    run_steps([tmp_path / "in.jsonl"], [PerplexityFilter(arpa, threshold=6.0)], tmp_path / "out",
              RunOptions(quiet=True))
    docs = read_output(tmp_path / "out" / "kept" / "in.jsonl") + \
        read_output(tmp_path / "out" / "removed" / "in.jsonl")
    assert sorted(d["text"] for d in docs) == ["a dog", "the cat sat", "the mat", "zebra mat"]
    for d in docs:
        assert set(d["cooc_scores"]) == {"filter-perplexity"}
    assert next(d for d in docs if d["text"] == "zebra mat")["id"] == "%s%d"


def test_same_output_any_batch_size_and_resume(arpa, tmp_path):
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(VOCAB, rng.integers(1, 9))) for _ in range(120)]
    files = write_corpus(tmp_path / "in", texts, "jsonl.zst", split=[50])
    outs = []
    for i, bs in enumerate((1, 7, 64)):
        run_steps(files, [PerplexityFilter(arpa, quantile=1 / 3)], tmp_path / f"o{i}",
                  RunOptions(batch_size=bs, quiet=True))
        outs.append(run_texts(tmp_path / f"o{i}"))
    assert outs[0] == outs[1] == outs[2]
    kept = [d for k, v in outs[0].items() if k.startswith("kept") for d in v]
    assert len(kept) >= 40
    opts = RunOptions(batch_size=5, quiet=True)
    with pytest.raises(Killed):
        run_steps(files, [DiesInDecide(PerplexityFilter(arpa, quantile=1 / 3), 9)],
                  tmp_path / "cut", opts, checkpoint_every=4)
    r = run_steps(files, [PerplexityFilter(arpa, quantile=1 / 3)], tmp_path / "cut", opts,
                  checkpoint_every=4)
    assert r["resumed_at_batch"] == 8
    run_steps(files, [PerplexityFilter(arpa, quantile=1 / 3)], tmp_path / "whole", opts,
              checkpoint_every=4)
    for p in (tmp_path / "whole").rglob("part*"):
        assert p.read_bytes() == (tmp_path / "cut" / p.relative_to(tmp_path / "whole")).read_bytes()


@pytest.mark.parametrize("argv, match", [
    (["--threshold", "0"], "threshold must be"),
    (["--quantile", "1.5"], "quantile must be"),
    (["--quantile", "0.5", "--model", "nope.arpa"], "no such model"),
])
def test_bad_settings_one_line(arpa, tmp_path, capsys, argv, match):
    (tmp_path / "c.jsonl").write_text('{"text": "the cat"}\n')
    model = [] if "--model" in argv else ["--model", str(arpa)]
    rc = main(["filter", "perplexity", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "o"),
               *model, *argv, "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and match in err[0]


def test_api_errors(arpa):
    with pytest.raises(ValueError, match="one of them"):
        PerplexityFilter(arpa)
    with pytest.raises(ValueError, match="one of them"):
        PerplexityFilter(arpa, threshold=1, quantile=0.5)
    step = PerplexityFilter(arpa, quantile=0.5).fit([DocumentBatch(["the cat"], np.array([0]))])
    with pytest.raises(CoocError, match="never saw"):
        step.decide(DocumentBatch(["a"], np.array([5])))


def test_threads_give_the_same_perplexities(arpa):
    rng = np.random.default_rng(8)
    texts = [" ".join(rng.choice(VOCAB, rng.integers(1, 30))) + "\n" +
             " ".join(rng.choice(VOCAB, rng.integers(0, 9))) for _ in range(12_000)]
    one = PerplexityFilter(arpa, threshold=10).perplexities(texts)
    two = PerplexityFilter(arpa, threshold=10, num_threads=2).perplexities(texts)
    assert np.array_equal(one, two)
