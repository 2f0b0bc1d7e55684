"""Real English and Chinese prose from ../shared/corpus (skipped where it is absent): every
token's neighbour set equals the dict-of-sets reference and every count the naive counter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reference import reference_counts, reference_dict_of_sets, reference_windows

import cooc
from cooc.cooccur import open_index
from cooc.cooccur.config import BuildConfig, WindowConfig
from cooc.corpus import discover_files, iter_documents
from cooc.options import RunOptions
from cooc.tokenizers import load_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus is absent")


def _slice(lang: str, max_tokens: int, out: Path) -> list[str]:
    """Whole documents from the language's files, in sorted order, up to max_tokens."""
    tok = load_tokenizer("qwen", num_threads=1)
    texts, n = [], 0
    for d in iter_documents(discover_files(SHARED / lang)):
        texts.append(d.text[:6000])  # several windows per document, many documents
        n += len(tok.encode(texts[-1]))
        if n >= max_tokens:
            break
    out.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
                   encoding="utf-8")
    return texts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_real_corpus_exact(tmp_path, lang):
    texts = _slice(lang, 40_000, tmp_path / f"{lang}.jsonl")
    cfg = BuildConfig(window=WindowConfig(context_length=128))
    res = cooc.build(tmp_path / f"{lang}.jsonl", tmp_path / f"{lang}.cooc", cfg,
                     RunOptions(quiet=True, num_proc=2))
    tok = load_tokenizer("qwen", num_threads=1)
    wins = reference_windows([tok.encode(t).tolist() for t in texts], 128)
    sets = reference_dict_of_sets(wins)
    counts = reference_counts(wins)
    idx = open_index(res.path)
    assert res.num_windows == len(wins)
    got_counts = {}
    for t in range(idx.vocab_size):
        cols, c = idx.row(t)
        assert set(cols.tolist()) == sets.get(t, set()), t
        got_counts.update({(t, int(b)): int(n) for b, n in zip(cols, c, strict=True)})
    assert got_counts == dict(counts)
    assert idx.occurrences.sum() == sum(len(w) for w in wins)
