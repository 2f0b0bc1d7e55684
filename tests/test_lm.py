"""Kneser-Ney estimation, ARPA and scoring against a slow pure-Python reference (and KenLM's
Python module when it is installed)."""

from __future__ import annotations

import collections
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.cli.main import main
from cooc.errors import CoocError
from cooc.lm import KneserNeyConfig, LanguageModel, estimate, read_arpa, write_arpa
from cooc.options import RunOptions

# -- the reference: modified Kneser-Ney as lmplz defines it, with dicts --------------------


def reference_kn(sentences: list[list[str]], order: int,
                 prune: tuple[int, ...] = ()) -> dict[tuple, tuple[float, float]]:
    """{n-gram: (log10 prob, log10 backoff)} of lmplz's interpolated modified Kneser-Ney;
    with prune (thresholds of orders 1, 2, ..., the last repeating), lmplz --prune: a k-gram
    (k >= 2) whose raw count is <= its order's threshold is dropped and its adjusted count
    goes to its context's backoff mass."""
    raw = collections.Counter()
    for s in sentences:
        t = ["<s>", *s, "</s>"]
        for k in range(1, order + 1):
            for i in range(len(t) - k + 1):
                raw[tuple(t[i : i + k])] += 1
    left = collections.defaultdict(set)
    for g in raw:
        if len(g) > 1:
            left[g[1:]].add(g[0])
    adj = {}
    for g, c in raw.items():
        adj[g] = c if len(g) == order or g[0] == "<s>" else len(left[g])
    adj[("<s>",)] = 0
    adj[("<unk>",)] = 0
    disc = {}
    for k in range(1, order + 1):
        t = collections.Counter(min(a, 5) for g, a in adj.items() if len(g) == k)
        if not all(t[j] for j in (1, 2, 3)):
            raise ValueError(f"no {k}-grams with some adjusted count in 1..3")
        y = t[1] / (t[1] + 2 * t[2])
        disc[k] = [0.0] + [j - (j + 1) * y * t[j + 1] / t[j] for j in (1, 2, 3)]
        if not all(0 <= disc[k][j] <= j for j in (1, 2, 3)):
            raise ValueError(f"{k}-gram discounts out of range")
    th = list(prune or (0,))
    th += [th[-1]] * order

    def pruned(g):
        return len(g) > 1 and raw[g] <= th[len(g) - 1]

    ctx = collections.defaultdict(list)
    for g in adj:
        ctx[g[:-1]].append(g)
    gamma = {}
    for c, gs in ctx.items():
        d = disc[len(c) + 1]
        den = sum(adj[g] for g in gs)
        gamma[c] = sum(adj[g] if pruned(g) else d[min(adj[g], 3)]
                       for g in gs if adj[g] > 0) / den
    n_uni = sum(1 for g in adj if len(g) == 1)
    prob = {}
    for k in range(1, order + 1):
        for g in (g for g in adj if len(g) == k):
            d = disc[k]
            den = sum(adj[h] for h in ctx[g[:-1]])
            u = (adj[g] - d[min(adj[g], 3)]) / den
            low = 1.0 / (n_uni - 1) if k == 1 else prob[g[1:]]
            prob[g] = u + gamma[g[:-1]] * low
    prob[("<s>",)] = 1.0
    out = {}
    for g, p in prob.items():
        if pruned(g):
            continue
        bo = gamma.get(g, 1.0) if len(g) < order else 1.0
        out[g] = (min(0.0, math.log10(p)), math.log10(bo))
    return out


def model_table(model) -> dict[tuple, tuple[float, float]]:
    out = {}
    for k in range(1, model.order + 1):
        for g, p, b in zip(model.grams[k - 1].tolist(), model.logprob[k - 1].tolist(),
                           model.backoff[k - 1].tolist(), strict=True):
            out[tuple(model.vocab[i] for i in g)] = (p, b)
    return out


def assert_tables_close(a, b, tol=2e-5):
    assert set(a) == set(b)
    for g in a:
        assert abs(a[g][0] - b[g][0]) <= tol, (g, a[g], b[g])
        assert abs(a[g][1] - b[g][1]) <= tol, (g, a[g], b[g])


def backoff_logprob(table, order, context, w) -> float:
    """log10 p(w | context) by the backoff recursion over a {gram: (prob, backoff)} table."""
    h = tuple(context)[-(order - 1):] if order > 1 else ()
    total = 0.0
    while True:
        g = (*h, w)
        if g in table:
            return total + table[g][0]
        total += table[h][1] if h in table else 0.0
        h = h[1:]


# a corpus where every order has counts of counts t1..t4 > 0 and discounts in range
def _corpus(seed: int, n: int = 400, vocab: int = 300) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1  # Zipf: singletons at every order
    p /= p.sum()
    return [[words[i] for i in rng.choice(vocab, rng.integers(1, 15), p=p)] for _ in range(n)]


def _write(tmp: Path, sentences) -> Path:
    p = tmp / "corpus.txt"
    p.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    return p


def _estimate(tmp: Path, sentences, order):
    return estimate(_write(tmp, sentences), KneserNeyConfig(order=order),
                    RunOptions(quiet=True, num_proc=1))


def test_reference_comparison_can_fail(tmp_path):
    sents = _corpus(0)
    m = _estimate(tmp_path, sents, 3)
    ref = reference_kn(sents, 3)
    assert_tables_close(model_table(m), ref)
    with pytest.raises(AssertionError):  # the helper sees a changed corpus
        assert_tables_close(model_table(m), reference_kn(sents[:-5], 3))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(2, 5), n=st.integers(20, 400),
       vocab=st.integers(5, 400))
def test_estimate_equals_reference(seed, order, n, vocab):
    sents = [s for s in _corpus(seed, n, vocab) if s]  # lines of a .txt file: no empty ones
    if not sents:
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ref = reference_kn(sents, order)
        except ValueError:  # no closed-form discounts: lmplz refuses such data too
            with pytest.raises(CoocError, match="discount"):
                _estimate(Path(tmp), sents, order)
            return
        m = _estimate(Path(tmp), sents, order)
    assert_tables_close(model_table(m), ref)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(2, 5), slice_size=st.integers(1, 64))
def test_estimate_does_not_depend_on_slices(seed, order, slice_size):
    """The estimator reads levels in slices (cut at context boundaries, doubled when one
    context has more children than a slice): any slice size gives the same model."""
    from cooc.lm import kneser_ney

    sents = _corpus(seed, 150, 60)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            whole = _estimate(Path(tmp), sents, order)
        except CoocError:  # no closed-form discounts for this draw
            return
        old = kneser_ney._SLICE, kneser_ney._OUT_SLICE
        kneser_ney._SLICE = kneser_ney._OUT_SLICE = slice_size
        try:
            sliced = _estimate(Path(tmp), sents, order)
        finally:
            kneser_ney._SLICE, kneser_ney._OUT_SLICE = old
    assert whole.vocab == sliced.vocab
    for k in range(order):
        np.testing.assert_array_equal(whole.grams[k], sliced.grams[k])
        np.testing.assert_array_equal(whole.logprob[k], sliced.logprob[k])
        np.testing.assert_array_equal(whole.backoff[k], sliced.backoff[k])


def test_streamed_arpa_and_index_estimates_equal_the_model(tmp_path):
    """`estimate_arpa` (levels streamed to the file) writes what `write_arpa(estimate(...))`
    writes, byte for byte; `estimate_from_ngrams` on a counted index gives the same model."""
    from cooc.lm.kneser_ney import estimate_arpa, estimate_from_ngrams
    from cooc.ngram import NgramConfig, count_ngrams, open_ngrams

    corpus = _write(tmp_path, _corpus(3, 500))
    config = KneserNeyConfig(order=4)
    m = estimate(corpus, config, RunOptions(quiet=True))
    write_arpa(m, tmp_path / "model.arpa")
    meta = estimate_arpa(corpus, tmp_path / "streamed.arpa", config,
                         RunOptions(quiet=True, memory_bytes=1 << 20))
    assert (tmp_path / "streamed.arpa").read_bytes() == (tmp_path / "model.arpa").read_bytes()
    assert meta["counts"] == m.counts and meta["discounts"] == m.meta["discounts"]
    assert not list(tmp_path.glob("*.tmp-*"))
    idx = count_ngrams(corpus, tmp_path / "c.ngrams",
                       NgramConfig(order=4, tokenizer="whitespace", markers=True)).path
    m2 = estimate_from_ngrams(open_ngrams(idx))
    assert m2.vocab == m.vocab
    for k in range(4):
        np.testing.assert_array_equal(m2.grams[k], m.grams[k])
        np.testing.assert_array_equal(m2.logprob[k], m.logprob[k])
        np.testing.assert_array_equal(m2.backoff[k], m.backoff[k])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(2, 5),
       prune=st.lists(st.integers(0, 3), min_size=1, max_size=4))
def test_pruned_estimate_equals_reference(seed, order, prune):
    prune = tuple(sorted([0, *prune]))[:order]  # lmplz: non-decreasing, unigrams unpruned
    sents = _corpus(seed, 300, 200)
    try:
        ref = reference_kn(sents, order, prune)
    except ValueError:  # no closed-form discounts for this draw
        return
    with tempfile.TemporaryDirectory() as tmp:
        m = estimate(_write(Path(tmp), sents), KneserNeyConfig(order=order, prune=prune),
                     RunOptions(quiet=True, num_proc=1))
    assert_tables_close(model_table(m), ref)


def test_prune_config_is_checked():
    for bad in [(1, 1), (0, 2, 1), (0, -1), (0, 1, 1, 1, 1, 1)]:
        with pytest.raises(ValueError, match="prune"):
            KneserNeyConfig(order=5, prune=bad)
    assert KneserNeyConfig(order=4, prune=(0, 1)).thresholds() == (0, 1, 1, 1)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_probabilities_normalise(tmp_path, order):
    sents = _corpus(7, 600)
    m = _estimate(tmp_path, sents, order)
    table = model_table(m)
    words = [w for w in m.vocab if w != "<s>"]
    rng = np.random.default_rng(1)
    contexts = [g for g in table if len(g) < order and g[-1] != "</s>"]
    contexts = [contexts[i] for i in rng.choice(len(contexts), 40, replace=False)]
    contexts += [("<s>",), ("w3", "nosuchword"), ()]
    for c in contexts:
        total = sum(10.0 ** backoff_logprob(table, order, c, w) for w in words)
        assert abs(total - 1.0) < 1e-4, (c, total)


def test_arpa_round_trip(tmp_path):
    m = _estimate(tmp_path, _corpus(3), 4)
    for name in ("m.arpa", "m.arpa.gz"):
        write_arpa(m, tmp_path / name)
        back = read_arpa(tmp_path / name)
        assert back.counts == m.counts
        assert_tables_close(model_table(back), model_table(m), tol=0.0)
    text = (tmp_path / "m.arpa").read_text().splitlines()
    assert text[0] == "\\data\\" and text[1] == f"ngram 1={m.counts[0]}"
    uni = text[text.index("\\1-grams:") + 1 : text.index("\\1-grams:") + 4]
    assert [x.split("\t")[1] for x in uni] == ["<unk>", "<s>", "</s>"]
    assert uni[1].split("\t")[0] == "0"  # lmplz writes p(<s>) = 1
    assert text[-1] == "\\end\\"


def _arpa_lines(tmp_path):
    m = _estimate(tmp_path, _corpus(4), 3)
    write_arpa(m, tmp_path / "good.arpa")
    return (tmp_path / "good.arpa").read_text().splitlines()


def _bad(tmp_path, lines):
    p = tmp_path / "bad.arpa"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(CoocError) as e:
        read_arpa(p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{p}:")
    return msg


def test_malformed_arpa_errors_name_file_and_line(tmp_path):
    good = _arpa_lines(tmp_path)
    bi = good.index("\\2-grams:")
    # wrong count in the header
    lines = list(good)
    n2 = int(lines[2].split("=")[1])
    lines[2] = f"ngram 2={n2 + 1}"
    msg = _bad(tmp_path, lines)
    assert f"has {n2} n-grams" in msg and "line 3" in msg
    lines[2] = f"ngram 2={n2 - 1}"
    assert f":{bi + n2 + 1}:" in _bad(tmp_path, lines)
    # a missing section
    tri = good.index("\\3-grams:")
    msg = _bad(tmp_path, good[:tri] + ["\\end\\"])
    assert "missing section \\3-grams:" in msg and f":{tri + 1}:" in msg
    # a non-numeric probability
    lines = list(good)
    lines[bi + 2] = "x" + lines[bi + 2]
    msg = _bad(tmp_path, lines)
    assert f":{bi + 3}:" in msg and "not a number" in msg
    # a wrong number of words
    lines = list(good)
    f = lines[bi + 2].split("\t")
    lines[bi + 2] = "\t".join([f[0], f[1] + " w1 w2", f[2]])
    assert "fields" in _bad(tmp_path, lines)
    # a word that is no unigram, a missing \end\, not ARPA at all
    lines = list(good)
    f = lines[bi + 1].split("\t")
    lines[bi + 1] = "\t".join([f[0], "nosuchword " + f[1].split()[-1], f[2]])
    assert "not a unigram" in _bad(tmp_path, lines)
    assert "\\end\\" in _bad(tmp_path, good[:-1])
    assert "not an ARPA file" in _bad(tmp_path, ["hello"])


def test_scores_equal_the_backoff_recursion(tmp_path):
    sents = _corpus(5, 500)
    m = _estimate(tmp_path, sents, 4)
    table = model_table(m)
    rng = np.random.default_rng(2)
    held = [[f"w{i}" for i in rng.integers(0, 350, rng.integers(0, 12))] for _ in range(60)]
    texts = [" ".join(s) for s in held]
    for threads in (1, 3):
        lm = LanguageModel(m, num_threads=threads)
        import cooc.lm.scorer as sc

        old = sc._PARALLEL_BELOW
        sc._PARALLEL_BELOW = 1  # the threaded path on a small batch
        try:
            s = lm.score(texts)
        finally:
            sc._PARALLEL_BELOW = old
        want, oov = [], []
        for h in held:
            ctx = ["<s>"]
            for w in [*h, "</s>"]:
                known = w in m.vocab
                want.append(backoff_logprob(table, 4, ctx, w if known else "<unk>"))
                oov.append(not known)
                ctx.append(w if known else "<unk>")
        assert np.allclose(s.token_logprob, want, atol=1e-5)
        assert s.oov.tolist() == oov
        tot = sum(want)
        assert s.perplexity == pytest.approx(10 ** (-tot / len(want)))
        ex = sum(p for p, o in zip(want, oov, strict=True) if not o)
        assert s.perplexity_excluding_oovs == pytest.approx(10 ** (-ex / (len(want) - sum(oov))))
        assert len(s.sentence_logprob) == len(held)


def test_matches_kenlm_module(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    # synthetic text has no closed-form order-5 discounts: lmplz's fallback ones
    m = estimate(_write(tmp_path, _corpus(6, 600)),
                 KneserNeyConfig(order=5, discount_fallback=(0.5, 1, 1.5)), RunOptions(quiet=True))
    write_arpa(m, tmp_path / "m.arpa")
    k = kenlm.Model(str(tmp_path / "m.arpa"))
    rng = np.random.default_rng(3)
    held = [" ".join(f"w{i}" for i in rng.integers(0, 350, rng.integers(0, 12))) for _ in range(80)]
    s = LanguageModel(read_arpa(tmp_path / "m.arpa")).score(held)
    theirs = [p for h in held for p, _, _ in k.full_scores(h)]
    assert np.allclose(s.token_logprob, theirs, atol=1e-5)
    tot = sum(theirs)
    assert s.perplexity == pytest.approx(10 ** (-tot / len(theirs)), rel=1e-4)
    assert s.sentence_logprob == pytest.approx([k.score(h) for h in held], abs=1e-4)


def test_bad_discounts_and_fallback(tmp_path):
    sents = [["a", "b"]] * 5  # no singletons: the closed form fails
    with pytest.raises(CoocError, match="discount"):
        _estimate(tmp_path, sents, 2)
    m = estimate(_write(tmp_path, sents), KneserNeyConfig(order=2, discount_fallback=(0.5, 1, 1.5)),
                 RunOptions(quiet=True))
    assert m.meta["discounts"][2] == [0.5, 1.0, 1.5]


def test_cli(tmp_path, capsys):
    src = _write(tmp_path, _corpus(8))
    out = tmp_path / "c.arpa"
    assert main(["lm", "estimate", str(src), "-o", str(out), "--order", "3", "-q"]) == 0
    assert read_arpa(out).order == 3
    assert main(["lm", "score", str(out), "w1 w2 w3 zzz", "--json", "--per-token"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["tokens"] == 5 and got["oovs"] == 1 and len(got["token_logprob"]) == 5
    held = tmp_path / "held.txt"
    held.write_text("w1 w2\nw3 w4 w5\n")
    assert main(["lm", "score", str(out), str(held)]) == 0
    o = capsys.readouterr().out
    assert "Perplexity including OOVs:" in o and o.count("Total:") == 2
    assert main(["lm", "arpa", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["order"] == 3
    bad = tmp_path / "bad.arpa"
    bad.write_text(out.read_text().replace("ngram 2=", "ngram 2=1", 1))
    assert main(["lm", "score", str(bad), "w1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.arpa:" in err
    assert main(["lm", "estimate", str(src), "-o", str(out), "--order", "1"]) == 2
    assert "order must be" in capsys.readouterr().err


def test_cli_reports_bad_records_by_reason(tmp_path, capsys):
    """A malformed JSON line is skipped, counted and named (file and line) by `lm estimate`
    and `ngram count`; the job goes on."""
    data = tmp_path / "d.jsonl"
    lines = [json.dumps({"text": " ".join(s)}) for s in _corpus(8)]
    lines.insert(5, '{"text": "broken')
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "c.arpa"
    assert main(["lm", "estimate", str(data), "-o", str(out), "--order", "3"]) == 0
    err = capsys.readouterr().err
    assert "skipped malformed_json: 1" in err and "d.jsonl:6" in err
    assert main(["ngram", "count", str(data), "-o", str(tmp_path / "c.ngrams"),
                 "--tokenizer", "whitespace"]) == 0
    err = capsys.readouterr().err
    assert "skipped malformed_json: 1" in err and "d.jsonl:6" in err
    manifest = json.loads((tmp_path / "c.ngrams" / "manifest.json").read_text())
    assert manifest["skip_report"]["skipped"] == {"malformed_json": 1}


# -- fast paths against the obvious ones ----------------------------------------------------


def test_number_format_reads_back_and_is_shortest():
    from cooc.kernels import lm as kl

    rng = np.random.default_rng(11)
    vals = np.concatenate([
        -rng.random(20000) * 10, -(10.0 ** rng.uniform(-12, 2, 20000)),
        10.0 ** rng.uniform(-44, 38, 20000),
        [0.0, -0.0, 1, -1, 10, 1e-6, 1e-7, 123456, 1e21, 1e20, 0.5, -99, -100, 3.4028235e38,
         1.4e-45, -12.781034, -1.1643547e-12]]).astype(np.float32)
    out = np.empty(len(vals) * 23, np.uint8)
    n = kl.format_floats(vals, out)
    strs = out[:n].tobytes().decode().split("\n")[:-1]
    assert (np.array(strs, dtype=np.float32) == vals).all()

    def digits(s):
        return len(s.lstrip("-").split("e")[0].replace(".", "").strip("0"))

    # as lmplz (double-conversion's shortest form): as few digits as numpy's shortest repr
    assert all(digits(s) <= digits(np.format_float_scientific(v, unique=True))
               for s, v in zip(strs, vals.tolist(), strict=True) if v)
    assert strs[-17:-2] == ["0", "0", "1", "-1", "10", "0.000001", "1e-7", "123456", "1e21",
                            "100000000000000000000", "0.5", "-99", "-100", "3.4028235e38",
                            "1e-45"]


def test_encode_splits_as_str_split(tmp_path):
    m = _estimate(tmp_path, _corpus(9), 2)
    lm = LanguageModel(m)
    rng = np.random.default_rng(4)
    pool = [*m.vocab, "zz", "x\u00a0y", "a\u3000b", "q\x1cr", "\u2003", "日本\u2028é", "é", ""]
    seps = [" ", "\t", "  ", "\u00a0", "\u3000", "\x0b", "\u2029"]
    sents = ["".join(pool[i] + seps[j] for i, j in zip(rng.integers(0, len(pool), n),
                                                     rng.integers(0, len(seps), n), strict=True))
             for n in rng.integers(0, 12, 300)]
    for batch, threads in [(sents, 1), ([*sents, "w1\nw2 w3", ""], 1), (sents * 300, 3)]:
        lm.num_threads = threads  # a newline inside: the slow bounds; threads: parts
        ids, ptr = lm.encode(batch)
        want = [m.word_id(w) if m.word_id(w) >= 0 else m.unk_id for s in batch for w in s.split()]
        assert ids.tolist() == want
        assert ptr.tolist() == np.cumsum([0] + [len(s.split()) for s in batch]).tolist()


def test_arpa_escapes_words_with_spaces(tmp_path):
    from cooc.lm.arpa import escape, unescape

    words = ["a b", "tab\there", "back\\slash", "nb\u00a0sp", "\\s", "plain"]
    for w in words:
        e = escape(w)
        assert e and e.split() == [e] and unescape(e) == w
    with pytest.raises(ValueError, match="bad escape"):
        unescape("dangling\\")
    m = _estimate(tmp_path, _corpus(10), 3)
    # qwen-like words: spaces, an empty one, one with the text of an earlier one
    renamed = {"w1": " ", "w2": "w 2", "w3": "back\\slash", "w4": "\u3000x", "w5": "",
               "w6": "w 2"}
    m.vocab = [renamed.get(w, w) for w in m.vocab]
    write_arpa(m, tmp_path / "esc.arpa")
    text = (tmp_path / "esc.arpa").read_text()
    assert text.startswith("# cooc: words escaped\n") and "\tw\\s2\t" in text
    back = read_arpa(tmp_path / "esc.arpa")
    first = {w: i for i, w in reversed(list(enumerate(m.vocab)))}
    m.vocab = [w if w and first[w] == i else f"\\#{i}" for i, w in enumerate(m.vocab)]
    assert sorted(back.vocab) == sorted(m.vocab) and "\\#" in "".join(m.vocab)
    assert_tables_close(model_table(back), model_table(m), tol=0.0)
    LanguageModel(m).score("w 2")  # the scorer takes repeated words too
    kenlm = pytest.importorskip("kenlm")  # KenLM reads it too (the "#" line is skipped)
    assert kenlm.Model(str(tmp_path / "esc.arpa")).order == 3


def test_fast_arpa_reader_equals_line_reader(tmp_path):
    from cooc.lm import arpa

    m = _estimate(tmp_path, _corpus(12), 4)
    write_arpa(m, tmp_path / "m.arpa")
    lines = (tmp_path / "m.arpa").read_text().splitlines()
    # numbers the kernel leaves to Python: 20 digits, a large exponent; spaces, blank lines
    i = lines.index("\\2-grams:") + 1
    f = lines[i].split("\t")
    lines[i] = "\t".join([f"{float(f[0]):.20f}", f[1], "-1.5e-30"])
    lines[i + 1] = "  " + lines[i + 1].replace("\t", " \u3000") + "\n"
    (tmp_path / "x.arpa").write_text("intro text\n" + "\n".join(lines) + "\n")
    for name in ("m.arpa", "x.arpa"):
        fast = arpa._read_fast(tmp_path / name)
        assert fast is not None
        slow_lines = arpa._Lines(tmp_path / name)
        slow = arpa._read(slow_lines)
        slow_lines.f.close()
        assert fast.vocab == slow.vocab
        for k in range(m.order):
            assert np.array_equal(fast.grams[k], slow.grams[k])
            assert np.array_equal(fast.logprob[k], slow.logprob[k])
            assert np.array_equal(fast.backoff[k], slow.backoff[k])
    assert fast.backoff[1][np.flatnonzero(fast.backoff[1] == np.float32(-1.5e-30))].size == 1
    # what the kernel refuses goes to the line reader: CR line ends are read there
    (tmp_path / "cr.arpa").write_bytes((tmp_path / "m.arpa").read_bytes().replace(b"\n", b"\r\n"))
    assert arpa._read_fast(tmp_path / "cr.arpa") is None
    assert read_arpa(tmp_path / "cr.arpa").counts == m.counts


def test_arpa_not_utf8_names_the_line(tmp_path):
    import re

    from cooc.lm import arpa

    _arpa_lines(tmp_path)
    good = (tmp_path / "good.arpa").read_bytes()
    assert arpa._read_fast(tmp_path / "good.arpa") is not None
    p = tmp_path / "bad.arpa"  # a word made invalid UTF-8 everywhere: only decoding finds it
    p.write_bytes(re.sub(rb"(?<=\s)w7(?=\s)", b"w7\xff", good))
    assert arpa._read_fast(p) is None
    with pytest.raises(CoocError, match="not UTF-8"):
        read_arpa(p)


def test_cli_index_scores_like_the_arpa(tmp_path, capsys):
    src = _write(tmp_path, _corpus(8))
    arpa = tmp_path / "c.arpa"
    assert main(["lm", "estimate", str(src), "-o", str(arpa), "--order", "3", "-q"]) == 0
    assert main(["lm", "index", str(arpa), "-o", str(tmp_path / "c.lm"), "--bits", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["order"] == 3
    scores = []
    for model in (arpa, tmp_path / "c.lm"):
        assert main(["lm", "score", str(model), "w1 w2 w3 zzz", "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[0]["perplexity"] == pytest.approx(scores[1]["perplexity"], rel=1e-6)
    assert main(["lm", "index", str(arpa), "-o", str(tmp_path / "x.lm"), "--bits", "1"]) == 2
