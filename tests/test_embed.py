"""Word vectors (`cooc.embed`): the vectors artefact (round trip, damage, atomic install), exact
nearest neighbours and analogies against brute force, word2vec export (read back by a parser
written here from the format, and by gensim when installed), the chunked PPMI matrix against
a dense reference, PPMI-SVD on a planted corpus, evaluation against scipy, the `words`
tokenizer, and one-line CLI errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cooc
from cooc.cli.main import main
from cooc.cooccur.reader import open_index
from cooc.cooccur.writer import write_index
from cooc.embed import PpmiSvdConfig, open_vectors, ppmi_matrix, ppmi_svd, write_vectors
from cooc.embed import vectors as vectors_module
from cooc.embed.evaluate import (
    evaluate_analogy,
    evaluate_similarity,
    read_similarity_file,
    spearman,
)
from cooc.embed.export import export_vectors, read_word2vec
from cooc.errors import CoocError, IndexFormatError
from cooc.formats import artefact
from cooc.formats.escape import unescape
from cooc.options import RunOptions

SRC = str(Path(cooc.__file__).resolve().parents[1])


# -- helpers ----------------------------------------------------------------------------------


def make_index(path: Path, counts: np.ndarray, occurrences=None, texts=None) -> Path:
    """An index of the symmetric count matrix `counts` (dense, V x V)."""
    c = np.asarray(counts, np.int64)
    v = c.shape[0]
    assert (c == c.T).all() and (c >= 0).all()
    ptr = np.zeros(v + 1, np.int64)
    np.cumsum((c > 0).sum(1), out=ptr[1:])
    rows, cols = np.nonzero(c)
    occ = c.sum(1) if occurrences is None else np.asarray(occurrences)
    texts = texts or [f"t{i}" for i in range(v)]
    return write_index(path, v, ptr, cols.astype(np.uint32), c[rows, cols].astype(np.uint32),
                       occ.astype(np.uint64), occ.astype(np.uint64), texts,
                       {"tokenizer": {"spec": "test"}})


def dense_ppmi(counts: np.ndarray, keep: np.ndarray, alpha: float, shift: float) -> np.ndarray:
    """The obvious PPMI of the kept tokens' counts (rows and columns in `keep`'s order)."""
    c = np.asarray(counts, np.float64)[np.ix_(keep, keep)]
    r = c.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(c * (r ** alpha).sum() / (r[:, None] * (r ** alpha)[None, :]))
    return np.where(c > 0, np.maximum(pmi - np.log(shift), 0.0), 0.0)


def random_vectors(rng, v: int, dim: int, zeros: int = 0) -> np.ndarray:
    x = rng.standard_normal((v, dim)).astype(np.float32)
    x[rng.choice(v, size=min(zeros, v), replace=False)] = 0
    return x


def save(folder: Path, x: np.ndarray, texts=None, ids=None, counts=None) -> Path:
    texts = texts or [f"w{i}" for i in range(len(x))]
    return write_vectors(folder, x, texts, ids, counts, {"method": "test"})


def brute_top_k(x: np.ndarray, q: np.ndarray, k: int, exclude: set[int]) -> list[tuple[int, float]]:
    """Slow reference: every row's cosine with q, zero rows and excluded rows left out,
    sorted by (score desc, row asc)."""
    out = []
    qn = q / np.linalg.norm(q)
    for i, row in enumerate(x.astype(np.float64)):
        n = np.linalg.norm(row)
        if n == 0 or i in exclude:
            continue
        out.append((i, float(row @ qn / n)))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out[:k]


def slow_analogy(x: np.ndarray, a: int, b: int, c: int, method: str,
                 eps: float = 1e-3) -> list[tuple[int, float]]:
    """Slow reference of 3CosAdd / 3CosMul, cosine by cosine."""
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1)

    def cos(i, j):
        return 0.0 if n[i] == 0 or n[j] == 0 else float(x[i] @ x[j] / (n[i] * n[j]))

    out = []
    for d in range(len(x)):
        if d in (a, b, c) or n[d] == 0:
            continue
        if method == "3cosadd":
            s = cos(d, b) - cos(d, a) + cos(d, c)
        else:
            s = ((cos(d, b) + 1) / 2) * ((cos(d, c) + 1) / 2) / ((cos(d, a) + 1) / 2 + eps)
        out.append((d, s))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out


def one_line_error(capsys, argv: list[str], pattern: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cooc: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and re.search(pattern, err), err


# -- the vectors artefact ---------------------------------------------------------------------


def test_vectors_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = random_vectors(rng, 50, 7, zeros=2)
    texts = [f"w{i}" for i in range(49)] + ["a b\nc"]
    ids = np.arange(100, 150)
    counts = np.arange(50, 0, -1)
    save(tmp_path / "v.vec", x, texts, ids, counts)
    v = open_vectors(tmp_path / "v.vec")
    assert np.array_equal(v.vectors, x) and v.vectors.dtype == np.float32
    assert v.vocab == texts and list(v.token_ids) == list(ids) and list(v.counts) == list(counts)
    assert v.dim == 7 and len(v) == 50 and v.config == {"method": "test"}
    assert v.row("w3") == v.row("#103") == v.row(103) == 3 and v.row("a b\nc") == 49
    assert np.array_equal(v.vector("w5"), x[5])
    s = v.stats()
    assert s["zero_vectors"] == 2 and s["vocab_size"] == 50 and json.loads(json.dumps(s))
    with pytest.raises(CoocError, match="not in the vectors"):
        v.row("nope")
    with pytest.raises(CoocError, match="not in the vectors"):
        v.row("#99")


def test_verify_catches_a_flipped_byte_and_open_an_edited_manifest(tmp_path):
    path = save(tmp_path / "v.vec", random_vectors(np.random.default_rng(1), 20, 4))
    data = bytearray((path / "vectors.f32").read_bytes())
    data[len(data) // 2] ^= 0x10
    (path / "vectors.f32").write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="vectors.f32 fails its checksum"):
        open_vectors(path)  # the first open on this machine reads every byte
    v = open_vectors(path, checksums=False)
    with pytest.raises(IndexFormatError, match="vectors.f32 fails its checksum"):
        v.verify()
    m = json.loads((path / "manifest.json").read_text())
    m["dim"] = 5
    (path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="manifest_sha256"):
        open_vectors(path)
    (path / "manifest.json").unlink()
    with pytest.raises(IndexFormatError, match="not a vectors folder"):
        open_vectors(path)


def test_open_checks_sizes(tmp_path):
    path = save(tmp_path / "v.vec", random_vectors(np.random.default_rng(2), 20, 4))
    with open(path / "counts.u64", "r+b") as f:
        f.truncate(8)
    with pytest.raises(IndexFormatError, match="counts.u64 has 8 bytes"):
        open_vectors(path)


@pytest.mark.parametrize("phase", artefact.PHASES)
def test_install_is_atomic(tmp_path, phase):
    rng = np.random.default_rng(3)
    old, new = random_vectors(rng, 10, 3), random_vectors(rng, 12, 3)
    target = save(tmp_path / "v.vec", old)

    def hook(p, t):
        if p == phase:
            raise RuntimeError(f"stop at {p}")

    previous = artefact.set_phase_hook(hook)
    try:
        with pytest.raises(RuntimeError, match="stop at"):
            save(target, new)
    finally:
        artefact.set_phase_hook(previous)
    got = open_vectors(target)
    assert np.array_equal(got.vectors, new if phase == "swapped" else old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.vec"]  # no leftovers


KILLER = """
import os, signal, sys
from pathlib import Path
from cooc.formats import artefact
from cooc.formats.escape import unescape
def hook(p, target):
    if p == sys.argv[1] and Path(target).name == "v.vec":
        os.kill(os.getpid(), signal.SIGKILL)
artefact.set_phase_hook(hook)
from cooc.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def test_killed_writer_leaves_the_old_vectors(tmp_path):
    make_index(tmp_path / "i.cooc", planted_counts())
    args = ["embed", "ppmi-svd", str(tmp_path / "i.cooc"), "-o", str(tmp_path / "v.vec"),
            "--dim", "2", "--min-count", "1", "-q", "--num-proc", "1"]
    assert main([*args, "--seed", "1"]) == 0
    old = (tmp_path / "v.vec" / "vectors.f32").read_bytes()
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", KILLER, "swapping", *args, "--seed", "2"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr[-2000:]
    assert open_vectors(tmp_path / "v.vec")  # whole, and the old one
    assert (tmp_path / "v.vec" / "vectors.f32").read_bytes() == old
    assert main([*args, "--seed", "2"]) == 0  # the next writer clears the leftovers
    assert (tmp_path / "v.vec" / "vectors.f32").read_bytes() != old
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_write_refuses_what_is_not_vectors(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(CoocError, match="refusing to replace"):
        save(tmp_path / "x", np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="finite"):
        save(tmp_path / "y", np.full((2, 2), np.nan, np.float32))


# -- nearest neighbours and analogies ---------------------------------------------------------


@settings(max_examples=30)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 12), st.integers(0, 3),
       st.integers(0, 2 ** 31), st.sampled_from([1 << 22, 7, 64]), st.booleans())
def test_top_k_is_exact(v, dim, k, zeros, seed, block, integral):
    rng = np.random.default_rng(seed)
    x = random_vectors(rng, v, dim, zeros)
    if integral:  # many exact ties: broken by row
        x = np.round(x).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        vec = open_vectors(save(Path(d) / "v.vec", x))
        old, vectors_module._BLOCK_ELEMENTS = vectors_module._BLOCK_ELEMENTS, block
        try:
            nq = 3
            q = rng.standard_normal((nq, dim)).astype(np.float32)
            exclude = rng.integers(-1, v, size=(nq, 2))
            rows, scores = vec.nearest_rows(q, k, exclude)
        finally:
            vectors_module._BLOCK_ELEMENTS = old
    for i in range(nq):
        ref = brute_top_k(x, q[i].astype(np.float64), k, set(exclude[i].tolist()))
        got = [(int(r), float(s)) for r, s in zip(rows[i], scores[i], strict=True) if r >= 0]
        assert len(got) == len(ref)
        # the same scores, in order; the same rows except where two scores tie in float32
        assert np.allclose([s for _, s in got], [s for _, s in ref], atol=1e-5)
        for (gr, gs), (rr, rs) in zip(got, ref, strict=True):
            assert gr == rr or abs(gs - rs) < 1e-5
        assert all(r not in exclude[i] for r, _ in got)


@settings(max_examples=25)
@given(st.integers(4, 30), st.integers(1, 5), st.integers(0, 2 ** 31),
       st.sampled_from(["3cosadd", "3cosmul"]), st.sampled_from([1 << 22, 5]))
def test_analogy_matches_the_slow_reference(v, dim, seed, method, block):
    rng = np.random.default_rng(seed)
    x = random_vectors(rng, v, dim, zeros=1)
    abc = rng.choice(v, size=(4, 3))
    with tempfile.TemporaryDirectory() as d:
        vec = open_vectors(save(Path(d) / "v.vec", x))
        old, vectors_module._BLOCK_ELEMENTS = vectors_module._BLOCK_ELEMENTS, block
        try:
            rows, scores = vec.analogy_rows(abc[:, 0], abc[:, 1], abc[:, 2], k=3, method=method)
        finally:
            vectors_module._BLOCK_ELEMENTS = old
    for i, (a, b, c) in enumerate(abc.tolist()):
        ref = slow_analogy(x, a, b, c, method)
        k = min(3, len(ref))
        # 3CosMul divides by cos + 0.001: scores reach ~1000, so float32 agrees relatively
        tol = [1e-4 * max(1.0, abs(s)) for _, s in ref]
        if method == "3cosmul":  # scores are the method's
            assert np.allclose(scores[i, :k], [s for _, s in ref[:k]], rtol=1e-4, atol=1e-4)
        for j in range(k):  # same rows unless tied
            assert rows[i, j] == ref[j][0] or abs(ref[j][1] - ref[min(j + 1, len(ref) - 1)][1]) < tol[j] \
                or abs(ref[j][1] - ref[j - 1][1]) < tol[j]


def test_queries_by_name(tmp_path):
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0, 0]], np.float32)
    v = open_vectors(save(tmp_path / "v.vec", x, ["a", "b", "c", "d", "z"]))
    assert [s.text for s in v.most_similar("a", 10)] == ["b", "c", "d"]  # z: zero vector
    assert v.most_similar(np.array([0, 1.0]), 1)[0].text == "c"
    assert v.similarity("a", "d") == pytest.approx(-1) and v.similarity("a", "z") == 0
    assert [s.text for s in v.analogy("a", "c", "b", 3)] == ["d"]  # the only candidate
    with pytest.raises(CoocError, match="k must be"):
        v.most_similar("a", 0)


# -- export -----------------------------------------------------------------------------------

TRICKY = ["plain", "with space", "tab\there", "new\nline", "back\\slash", "", "plain", "é ü"]


def parse_word2vec(data: bytes, binary: bool) -> tuple[list[bytes], np.ndarray]:
    """A word2vec reader written from the format's description (not cooc's)."""
    header, _, rest = data.partition(b"\n")
    v, dim = map(int, header.split())
    words, rows = [], []
    if binary:
        pos = 0
        for _ in range(v):
            sp = rest.index(b" ", pos)
            words.append(rest[pos:sp])
            rows.append(np.frombuffer(rest[sp + 1 : sp + 1 + 4 * dim], "<f4"))
            pos = sp + 1 + 4 * dim
            assert rest[pos : pos + 1] == b"\n"
            pos += 1
        assert pos == len(rest)
    else:
        lines = rest.split(b"\n")
        assert lines[-1] == b"" and len(lines) == v + 1
        for line in lines[:-1]:
            parts = line.split(b" ")
            assert len(parts) == dim + 1
            words.append(parts[0])
            rows.append(np.array([float(p) for p in parts[1:]], np.float32))
    return words, np.array(rows)


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary"])
def test_word2vec_export_parses(tmp_path, fmt):
    x = random_vectors(np.random.default_rng(4), len(TRICKY), 5)
    ids = np.arange(10, 10 + len(TRICKY))
    v = open_vectors(save(tmp_path / "v.vec", x, TRICKY, ids))
    path = export_vectors(v, fmt, tmp_path / "out")[0]
    words, rows = parse_word2vec(path.read_bytes(), fmt.endswith("binary"))
    assert np.array_equal(rows, x)  # %.9g: float32 exactly
    assert [w.decode() for w in words] == ["plain", "with\\sspace", "tab\\there", "new\\nline",
                                            "back\\\\slash", "\\#15", "\\#16", "é ü".replace(" ", "\\s")]
    assert all(not any(c in w for c in b" \t\n\r") for w in words)
    texts, back, forms_ids = read_word2vec(path, binary=fmt.endswith("binary"))
    assert np.array_equal(back, x)
    assert texts == ["plain", "with space", "tab\there", "new\nline", "back\\slash", "", "",
                     "é ü"]
    assert forms_ids == [None] * 5 + [15, 16, None]


def test_npy_export(tmp_path):
    x = random_vectors(np.random.default_rng(5), 6, 3)
    v = open_vectors(save(tmp_path / "v.vec", x, ["a", "b b", "c", "d", "e", "f"],
                          counts=np.arange(6)))
    paths = export_vectors(v, "npy", tmp_path / "m.npy")
    assert np.array_equal(np.load(paths[0]), x)
    assert paths[1].name == "m.vocab.txt"
    assert paths[1].read_text().splitlines()[:2] == ["a 0", "b\\sb 1"]


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_the_export(tmp_path, binary):
    gensim = pytest.importorskip("gensim")
    rng = np.random.default_rng(6)
    x = random_vectors(rng, 40, 8)
    texts = [f"w{i}" for i in range(38)] + ["two words", "x\\y"]
    v = open_vectors(save(tmp_path / "v.vec", x, texts))
    path = export_vectors(v, "word2vec-binary" if binary else "word2vec", tmp_path / "g")[0]
    kv = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert len(kv) == 40 and kv.vector_size == 8
    assert np.allclose(kv["two\\swords"], x[38]) and np.allclose(kv["x\\\\y"], x[39])
    for w in ("w0", "w7", "two\\swords"):
        ours = [s.text for s in v.most_similar(w if w != "two\\swords" else "two words", 5)]
        theirs = [t for t, _ in kv.most_similar(w, topn=5)]
        assert [unescape(t) for t in theirs] == ours


# -- PPMI-SVD ---------------------------------------------------------------------------------


def random_counts(rng, v: int, density: float) -> np.ndarray:
    c = rng.integers(1, 50, size=(v, v)) * (rng.random((v, v)) < density)
    c = np.triu(c)
    return c + np.triu(c, 1).T


@settings(max_examples=20)
@given(st.integers(2, 25), st.floats(0.1, 0.9), st.integers(0, 2 ** 31),
       st.sampled_from([0.75, 1.0, 0.5]), st.sampled_from([1.0, 2.0, 5.0]), st.integers(1, 30),
       st.sampled_from([1, 3, 17, 1 << 20]), st.integers(1, 2), st.integers(0, 8),
       st.booleans())
def test_chunked_ppmi_equals_dense(v, density, seed, alpha, shift, min_count, chunk, threads,
                                   max_vocab, spill):
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, v, density)
    occ = rng.integers(0, 60, size=v)
    with tempfile.TemporaryDirectory() as d:
        with open_index(make_index(Path(d) / "i.cooc", counts, occ)) as ix:
            config = PpmiSvdConfig(dim=1, alpha=alpha, shift=shift, min_count=min_count,
                                   max_vocab=max_vocab)
            try:
                m = ppmi_matrix(ix, config, RunOptions(num_proc=threads), chunk_entries=chunk,
                                spill_to=Path(d) if spill else None)
                dense, dense_t = m.to_dense(), m.to_dense_transpose()
            except CoocError:
                m = None
    kept = [t for t in np.lexsort((np.arange(v), -occ)) if occ[t] >= min_count
            and counts[t].any()]
    kept = kept[:max_vocab] if max_vocab else kept
    keep = np.array([t for t in kept if counts[t][kept].any()], np.int64)
    if m is None:
        assert len(keep) == 0
        return
    assert list(m.token_ids) == keep.tolist()
    ref = dense_ppmi(counts, keep, alpha, shift)
    assert np.allclose(dense, ref, rtol=1e-5, atol=1e-5)
    assert np.allclose(dense_t, ref.T, rtol=1e-5, atol=1e-5)
    assert m.nnz == int(((ref > 0) | (ref.T > 0)).sum())  # entries 0 both ways dropped


@pytest.mark.parametrize("mode", [["--count-mode", "windows", "--context-length", "4"],
                                  ["--count-mode", "occurrences", "--radius", "2"],
                                  ["--count-mode", "harmonic", "--radius", "3"],
                                  ["--count-mode", "weights", "--distance-weights", "1,0.25"]])
def test_any_count_mode(tmp_path, mode):
    """The PPMI of an index of any count mode is that of its counts (weighted sums are
    stored scaled: the scale cancels)."""
    words = "ant bee cat dog eel fox gnu hen ibis jay kiwi".split()
    text = "\n".join(" ".join(words[(i * j + j // 3) % 11] for j in range(12)) for i in range(40))
    (tmp_path / "c.txt").write_text(text + "\n")
    assert main(["build", str(tmp_path / "c.txt"), "-o", str(tmp_path / "c.cooc"), "-q",
                 "--tokenizer", "words", *(["--context-length", "0"] if "windows" not in mode
                                          else []), *mode]) == 0
    config = PpmiSvdConfig(dim=2, min_count=1)
    with open_index(tmp_path / "c.cooc") as ix:
        m = ppmi_matrix(ix, config)
        dense = np.zeros((ix.vocab_size, ix.vocab_size))
        for lo, ptr, cols, counts in ix.iter_rows():
            for r in range(len(ptr) - 1):
                dense[lo + r, cols[ptr[r] : ptr[r + 1]]] = counts[ptr[r] : ptr[r + 1]]
        scale = ix.count_scale
    assert (scale > 1) == (mode[1] in ("harmonic", "weights"))
    ref = dense_ppmi(dense / scale, m.token_ids, 0.75, 1.0)
    assert np.allclose(m.to_dense(), ref, atol=1e-5)
    assert main(["embed", "ppmi-svd", str(tmp_path / "c.cooc"), "-o", str(tmp_path / "c.vec"),
                 "--dim", "2", "--min-count", "1", "-q"]) == 0


def planted_counts() -> np.ndarray:
    """Two groups of words, {0, 1, 2} and {3, 4, 5}, sharing their own contexts {6, 7, 8} and
    {9, 10, 11}, never the other's; a little noise."""
    c = np.zeros((12, 12), np.int64)
    for words, contexts in (((0, 1, 2), (6, 7, 8)), ((3, 4, 5), (9, 10, 11))):
        for w in words:
            for x in contexts:
                c[w, x] = c[x, w] = 20 + w + x
    c[2, 9] = c[9, 2] = 1
    return c


def test_shared_contexts_make_neighbours_and_runs_repeat(tmp_path):
    make_index(tmp_path / "i.cooc", planted_counts())
    config = PpmiSvdConfig(dim=3, min_count=1, alpha=0.75)
    ppmi_svd(tmp_path / "i.cooc", tmp_path / "a.vec", config, RunOptions(num_proc=1, quiet=True))
    ppmi_svd(tmp_path / "i.cooc", tmp_path / "b.vec", config, RunOptions(num_proc=2, quiet=True))
    a, b = open_vectors(tmp_path / "a.vec"), open_vectors(tmp_path / "b.vec")
    assert np.array_equal(a.vectors, b.vectors)  # reproducible, whatever the threads
    for w, same, other in (("t0", "t1", "t3"), ("t4", "t5", "t1"), ("t6", "t7", "t10")):
        assert a.similarity(w, same) > a.similarity(w, other) + 0.3
    assert {s.text for s in a.most_similar("t3", 2)} == {"t4", "t5"}
    cfg = a.config
    assert cfg["method"] == "ppmi-svd" and cfg["dim"] == 3 and len(cfg["singular_values"]) == 3
    assert cfg["source"]["index"] == str((tmp_path / "i.cooc").resolve())


def test_svd_agrees_with_lapack(tmp_path):
    rng = np.random.default_rng(7)
    counts = random_counts(rng, 60, 0.3)
    make_index(tmp_path / "i.cooc", counts)
    config = PpmiSvdConfig(dim=5, min_count=1, eig=1.0)
    ppmi_svd(tmp_path / "i.cooc", tmp_path / "v.vec", config, RunOptions(quiet=True))
    with open_index(tmp_path / "i.cooc") as ix:
        m = ppmi_matrix(ix, config).to_dense()
    u, s, _ = np.linalg.svd(m)
    v = open_vectors(tmp_path / "v.vec")
    assert np.allclose(v.config["singular_values"], s[:5], rtol=1e-3)
    got = np.asarray(v.vectors, np.float64) / s[:5]
    assert np.allclose(np.abs((got * u[:, :5]).sum(0)), 1, atol=1e-3)  # same directions


@pytest.mark.parametrize("n, rank, block, iterations", [(50, 3, 4, 3), (30, 30, 4, 20),
                                                      (200, 200, 8, 6), (9, 9, 20, 2)])
def test_block_krylov_svd_matches_lapack(n, rank, block, iterations):
    """Low rank (the Krylov space is exhausted early), square full rank, blocks wider than
    the matrix: the k leading singular values and vectors of LAPACK's SVD."""
    from concurrent.futures import ThreadPoolExecutor

    from cooc.embed.svd import RowBlocks, block_krylov_svd

    rng = np.random.default_rng(n + rank)
    a = rng.standard_normal((n, rank)) @ np.diag(0.7 ** np.arange(rank)) \
        @ rng.standard_normal((rank, n))
    k = min(3, rank)
    with ThreadPoolExecutor(2) as pool:
        u, s = block_krylov_svd(lambda x: (a @ x).astype(np.float32),
                                lambda x: (a.T @ x).astype(np.float32), n, k, block,
                                iterations, blocks=RowBlocks(pool, rows=7))
    u0, s0, _ = np.linalg.svd(a)
    assert np.allclose(s, s0[:k], rtol=1e-4)
    assert np.allclose(np.abs((u * u0[:, :k]).sum(0)), 1, atol=1e-4)
    assert np.allclose(u.T @ u, np.eye(k), atol=1e-5)


def test_blas_threads_are_set_and_put_back():
    from cooc.runtime import blas

    libs = blas._libraries()
    before = [get() for get, _ in libs]
    with blas.blas_threads(1):
        assert all(get() == 1 for get, _ in libs)
    assert [get() for get, _ in libs] == before


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_spilled_matrix_is_the_same_matrix(tmp_path, chunk):
    counts = planted_counts()
    counts[0, 11] = counts[11, 0] = 0  # t11: with min_count 30 its neighbours all go
    occ = counts.sum(1)
    occ[11] = 40
    make_index(tmp_path / "i.cooc", counts, occ)
    config = PpmiSvdConfig(dim=3, min_count=30)
    with open_index(tmp_path / "i.cooc") as ix:
        a = ppmi_matrix(ix, config, chunk_entries=chunk)
        (tmp_path / "s").mkdir()
        b = ppmi_matrix(ix, config, chunk_entries=chunk, spill_to=tmp_path / "s")
    assert b.spilled and b.cols is None and not a.spilled
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["cols.bin", "val.bin",
                                                                 "val_t.bin"]
    assert np.array_equal(a.token_ids, b.token_ids) and np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.to_dense(), b.to_dense())
    assert np.array_equal(a.to_dense_transpose(), b.to_dense_transpose())
    x = np.random.default_rng(10).standard_normal((a.size, 4)).astype(np.float32)
    for t in (False, True):
        assert np.array_equal(a.product(x, t), b.product(x, t))
        assert np.allclose(a.product(x, t), (a.to_dense_transpose() if t else a.to_dense()) @ x,
                           atol=1e-4)


def test_a_matrix_over_budget_spills_and_gives_the_same_vectors(tmp_path, monkeypatch):
    from cooc.embed import ppmi as ppmi_module

    make_index(tmp_path / "i.cooc", planted_counts())
    config = PpmiSvdConfig(dim=3, min_count=1)
    a = ppmi_svd(tmp_path / "i.cooc", tmp_path / "a.vec", config, RunOptions(quiet=True))
    monkeypatch.setattr(ppmi_module, "_BYTES_PER_ENTRY", 1 << 40)  # no matrix fits
    b = ppmi_svd(tmp_path / "i.cooc", tmp_path / "b.vec", config,
                 RunOptions(quiet=True, tmp_dir=str(tmp_path)))
    assert b.spilled and not a.spilled
    assert np.array_equal(open_vectors(a.path).vectors, open_vectors(b.path).vectors)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("cooc-embed-")]


# -- evaluation -------------------------------------------------------------------------------


@pytest.fixture()
def toy_vectors(tmp_path):
    rng = np.random.default_rng(8)
    words = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy", "cat", "dog"]
    x = random_vectors(rng, len(words), 4)
    x[1] = x[0] - x[2] + x[3] + 0.01  # queen = king - man + woman
    x[7] = x[5] - x[4] + x[6]  # italy = france - paris + rome
    return open_vectors(save(tmp_path / "v.vec", x, words)), x, words


def test_spearman_and_oov_match_scipy(tmp_path, toy_vectors):
    stats = pytest.importorskip("scipy.stats")
    v, x, words = toy_vectors
    f = tmp_path / "sim.tsv"
    f.write_text("# a comment\nWord 1\tWord 2\tHuman (mean)\nking\tqueen\t9\nman\twoman\t8.5\n"
                 "cat\tdog\t7\nparis\tfrance\t7\nking\tcabbage\t1\nrome\titaly\t3.25\n"
                 "\nKING\tman\t2\n")
    r = evaluate_similarity(v, f)
    assert r.pairs == 7 and r.oov == 2
    pairs = [("king", "queen", 9), ("man", "woman", 8.5), ("cat", "dog", 7),
             ("paris", "france", 7), ("rome", "italy", 3.25)]
    cos = [v.similarity(a, b) for a, b, _ in pairs]
    assert r.spearman == pytest.approx(stats.spearmanr(cos, [s for *_, s in pairs])[0], abs=1e-9)
    r2 = evaluate_similarity(v, f, case_insensitive=True)
    assert r2.oov == 1 and r2.pairs == 7
    c = tmp_path / "sim.csv"
    c.write_text("word1,word2,score\nking,queen,1\nman,woman,2\ncat,dog,2\n")
    assert read_similarity_file(c) == [("king", "queen", 1.0), ("man", "woman", 2.0),
                                       ("cat", "dog", 2.0)]
    for a, b in [([1, 2, 2, 3], [3, 1, 1, 2]), ([5, 1, 4, 4, 0], [0, 0, 1, 1, 2])]:
        assert spearman(np.array(a), np.array(b)) == pytest.approx(stats.spearmanr(a, b)[0])


def test_analogy_accuracy_matches_a_slow_count(tmp_path, toy_vectors):
    v, x, words = toy_vectors
    f = tmp_path / "q.txt"
    f.write_text(": royal\nking queen man woman\nman woman king queen\nking queen man cabbage\n"
                 ": capitals\nparis france rome italy\nrome italy paris france\n"
                 "paris france Rome italy\n")
    r = evaluate_analogy(v, f)
    row = {w: i for i, w in enumerate(words)}
    for method in ("3cosadd", "3cosmul"):
        right = {"royal": 0, "capitals": 0}
        for sec, (a, b, c, d) in [("royal", "king queen man woman".split()),
                                  ("royal", "man woman king queen".split()),
                                  ("capitals", "paris france rome italy".split()),
                                  ("capitals", "rome italy paris france".split())]:
            best = slow_analogy(x, row[a], row[b], row[c], method)[0][0]
            right[sec] += best == row[d]
        assert [s.correct[method] for s in r.sections] == [right["royal"], right["capitals"]]
        assert r.total.correct[method] == sum(right.values())
    assert [(s.section, s.questions, s.oov) for s in r.sections] == [("royal", 3, 1),
                                                                   ("capitals", 3, 1)]
    assert r.total.questions == 6 and r.total.oov == 2 and r.total.asked == 4
    assert evaluate_analogy(v, f, case_insensitive=True).total.oov == 1
    assert evaluate_analogy(v, f, restrict_vocab=4).total.oov == 4  # only king..woman


def test_eval_cli(tmp_path, toy_vectors, capsys):
    v, _, _ = toy_vectors
    (tmp_path / "s.txt").write_text("king queen 3\nman woman 2\ncat dog 1\n")
    (tmp_path / "q.txt").write_text(": x\nking queen man woman\n")
    assert main(["embed", "eval", str(v.path), "--similarity", str(tmp_path / "s.txt"),
                 "--analogy", str(tmp_path / "q.txt"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["similarity"][0]["pairs"] == 3 and out["analogy"][0]["total"]["questions"] == 1
    assert main(["embed", "similar", str(v.path), "king", "-k", "2"]) == 0
    assert "queen" in capsys.readouterr().out
    assert main(["embed", "analogy", str(v.path), "man", "woman", "king", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["text"] == "queen"
    assert main(["stats", str(v.path)]) == 0 and "10" in capsys.readouterr().out
    assert main(["verify", str(v.path)]) == 0
    assert capsys.readouterr().out.startswith(f"cooc: {v.path}: ok (vectors)")


# -- bad input: one line, exit 2 --------------------------------------------------------------


def test_bad_input_is_one_line(tmp_path, capsys, toy_vectors):
    v, _, _ = toy_vectors
    make_index(tmp_path / "i.cooc", planted_counts())
    empty = write_index(tmp_path / "e.cooc", 3, np.zeros(4, np.int64), np.array([], np.uint32),
                        np.array([], np.uint32), np.zeros(3, np.uint64), np.zeros(3, np.uint64),
                        ["a", "b", "c"], {})
    base = ["embed", "ppmi-svd", "-q", "--min-count", "1"]
    one_line_error(capsys, [*base, str(empty), "-o", str(tmp_path / "o.vec")], "nothing to embed")
    one_line_error(capsys, [*base, str(tmp_path / "i.cooc"), "-o", str(tmp_path / "o.vec"),
                            "--dim", "0"], "dim must be an integer >= 1")
    one_line_error(capsys, [*base, str(tmp_path / "i.cooc"), "-o", str(tmp_path / "o.vec"),
                            "--dim", "12"], "dim=12 must be below the number of tokens kept .* \\(12\\)")
    one_line_error(capsys, [*base, str(tmp_path / "nope.cooc"), "-o", str(tmp_path / "o.vec")],
                   "not a cooc index")
    one_line_error(capsys, [*base, str(tmp_path / "i.cooc"), "-o", str(tmp_path / "o.vec"),
                            "--alpha", "0"], "alpha must be")
    one_line_error(capsys, [*base, str(tmp_path / "i.cooc"), "-o", str(tmp_path / "o.vec"),
                            "--dim", "9", "--block-size", "2", "--iterations", "1"],
                   "must hold at least dim = 9")
    one_line_error(capsys, ["embed", "similar", str(v.path), "nope"], "'nope' is not in the vectors")
    one_line_error(capsys, ["embed", "analogy", str(v.path), "king", "nope", "man"], "'nope'")
    one_line_error(capsys, ["embed", "eval", str(v.path), "--similarity",
                            str(tmp_path / "missing.txt")], "no such evaluation file")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe king queen 3\n")
    one_line_error(capsys, ["embed", "eval", str(v.path), "--similarity",
                            str(tmp_path / "bad.txt")], "cannot read it as UTF-8")
    (tmp_path / "q.txt").write_text(": s\nking queen man\n")
    one_line_error(capsys, ["embed", "eval", str(v.path), "--analogy", str(tmp_path / "q.txt")],
                   "q.txt:2: an analogy line holds 4 words")
    one_line_error(capsys, ["embed", "similar", str(tmp_path / "i.cooc"), "king"],
                   "not a cooc vectors")


# -- the words tokenizer ----------------------------------------------------------------------


@settings(max_examples=60)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ 019_,.!'\n\tÉéßü²İ-")), max_size=60))
def test_words_tokenizer_is_the_regex(text):
    from cooc.tokenizers import load_tokenizer

    tok = load_tokenizer("words", num_threads=1)
    ids = tok.encode(text)
    texts = tok.token_texts()
    assert [texts[i] for i in ids] == re.findall(r"[^\W\d_]+", text.lower())


def test_words_tokenizer_builds_an_index(tmp_path, capsys):
    (tmp_path / "c.txt").write_text("The cat, the CAT! 42 cats.\nDon't stop_me now\n")
    assert main(["build", str(tmp_path / "c.txt"), "-o", str(tmp_path / "c.cooc"), "-q",
                 "--tokenizer", "words", "--context-length", "0"]) == 0
    with open_index(tmp_path / "c.cooc") as ix:
        words = sorted(t for t, o in zip(ix.token_texts, ix.occurrences, strict=True) if o)
        assert words == ["cat", "cats", "don", "me", "now", "stop", "t", "the"]
        assert ix.meta["tokenizer"]["spec"] == "words"
    assert main(["neighbours", str(tmp_path / "c.cooc"), "cat", "--json"]) == 0
    assert {r["text"] for r in json.loads(capsys.readouterr().out)} == {"the", "cats"}
