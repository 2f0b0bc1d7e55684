"""`cooc lm`: estimate a modified Kneser-Ney language model (as KenLM's lmplz), score text with
it (as KenLM's query), and check ARPA files."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from pathlib import Path

from cooc.errors import CoocError


def register(sub) -> None:
    from cooc.cli.options import add_config_args, add_run_arguments
    from cooc.lm.config import KneserNeyConfig

    p = sub.add_parser("lm", help="n-gram language models: Kneser-Ney estimation, ARPA, scoring",
                       description="Estimate interpolated modified Kneser-Ney models as KenLM's "
                       "lmplz does, write and read ARPA files, score text as KenLM's query.")
    lm = p.add_subparsers(dest="lm_command", metavar="SUBCOMMAND", required=True)

    e = lm.add_parser("estimate", help="estimate a model from a corpus into an ARPA file",
                      description="Each document (each line of a .txt file) is a sentence "
                      "<s> ... </s>; n-grams never cross sentences.")
    e.add_argument("data", nargs="+", help="corpus files, folders or globs, or one token store")
    e.add_argument("--out-file", "-o", required=True, help="ARPA file to write (.gz: gzip)")
    add_config_args(e, KneserNeyConfig)
    e.add_argument("--discount-fallback", nargs=3, type=float, default=None,
                   metavar=("D1", "D2", "D3"), help="discounts for orders whose closed-form "
                   "estimate fails (lmplz's --discount_fallback; default: fail)")
    e.add_argument("--prune", nargs="+", type=int, default=None, metavar="T",
                   help="per order 1, 2, ...: drop n-grams seen at most T times (lmplz's "
                   "--prune, e.g. 0 1 1: singleton 2-grams and longer; the last value repeats; "
                   "unigrams are never pruned)")
    add_run_arguments(e, memory=True, threads=True, tmp_dir=True, batch_size=True,
                      batch_tokens=True, quiet=True)
    e.set_defaults(func=cmd_estimate)

    s = lm.add_parser("score", help="log10 probabilities and perplexity of text",
                      description="Score sentences as KenLM's query: <s> context at the start, "
                      "</s> at the end, unknown words as <unk>.")
    s.add_argument("model", help="ARPA file (plain or .gz) or a compressed model (X.lm, from "
                   "`cooc lm index`)")
    s.add_argument("text", help="a .txt file (one sentence a line; '-' reads stdin) or the "
                   "text of one sentence")
    s.add_argument("--per-token", action="store_true", help="print every token's log10 prob")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_run_arguments(s, memory=False, threads=True, quiet=False)
    s.set_defaults(func=cmd_score)

    x = lm.add_parser("index", help="compress an ARPA file into a trie with quantized "
                      "probabilities and backoffs (X.lm)",
                      description="Elias-Fano trie levels with context-remapped ids; "
                      "probabilities and backoffs in --bits-bit codes (equal-population bins "
                      "per order, as KenLM's quantization; 0: float32).")
    x.add_argument("model", help="ARPA file (plain or .gz)")
    x.add_argument("--out-file", "-o", required=True, help="model folder to write (X.lm)")
    x.add_argument("--bits", type=int, default=8, help="quantization bits, 2..16, 0 = float32 "
                   "(default: 8)")
    x.set_defaults(func=cmd_index)

    a = lm.add_parser("arpa", help="check an ARPA file and print its counts",
                      description="Read an ARPA file, report n-grams per order, or the first "
                      "problem as file:line.")
    a.add_argument("model", help="ARPA file (plain or .gz)")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(func=cmd_arpa)


def cmd_estimate(args: argparse.Namespace) -> int:
    import time

    from cooc.cli.options import config_from_args, run_options_from_args
    from cooc.lm.config import KneserNeyConfig
    from cooc.lm.kneser_ney import estimate_arpa
    from cooc.runtime.progress import fmt_bytes, peak_rss_bytes

    try:
        config = config_from_args(KneserNeyConfig, args)
        if args.discount_fallback:
            config = KneserNeyConfig(**{**config.__dict__,
                                        "discount_fallback": tuple(args.discount_fallback)})
        if args.prune:
            config = KneserNeyConfig(**{**config.__dict__, "prune": tuple(args.prune)})
    except ValueError as e:
        raise CoocError(str(e)) from None
    options = run_options_from_args(args)
    t0 = time.perf_counter()
    data = args.data[0] if len(args.data) == 1 else list(args.data)
    meta = estimate_arpa(data, Path(args.out_file), config, options)
    if not args.quiet:
        per = ", ".join(f"{k}: {c:,}" for k, c in enumerate(meta["counts"], 1))
        disc = "; ".join(f"{k}: " + " ".join(f"{d:.4f}" for d in v)
                         for k, v in meta["discounts"].items())
        print(f"cooc: {meta.get('sentences') or 0:,} sentences, "
              f"{meta.get('tokens') or 0:,} tokens -> {meta['path']} ({per}); discounts {disc}; "
              f"{time.perf_counter() - t0:.2f} s, peak memory {fmt_bytes(peak_rss_bytes())}",
              file=sys.stderr)
        for line in meta.get("skip_report", []):
            print(f"cooc: skipped {line}", file=sys.stderr)
    return 0


_TEXT_SUFFIXES = (".txt", ".gz", ".zst", ".jsonl", ".json", ".parquet", ".arpa")


def _sentences(text: str) -> list[str]:
    """The sentences to score: a file's lines, stdin's ('-'), or `text` itself when it
    cannot be a file name (a missing file is an error, not a sentence)."""
    if text == "-":
        return _nonempty(sys.stdin.read().splitlines(), "standard input")
    p = Path(text)
    if p.exists():
        if not p.is_file():
            raise CoocError(f"{p} is not a regular file; give a .txt file of sentences")
        import gzip

        opener = gzip.open if p.suffix == ".gz" else open
        try:
            with opener(p, "rt", encoding="utf-8") as f:
                return _nonempty(f.read().splitlines(), str(p))
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
            raise CoocError(f"{p}: cannot read it as UTF-8 text ({e})") from None
    if not any(c.isspace() for c in text) and (os.sep in text or p.suffix in _TEXT_SUFFIXES):
        raise CoocError(f"{text}: no such file (to score a one-word sentence that looks like a "
                        "file name, pipe it in: echo WORD | cooc lm score MODEL -)")
    return _nonempty([text], "the sentence given")


def _nonempty(sentences: list[str], where: str) -> list[str]:
    if not sentences:
        raise CoocError(f"{where} holds no sentences to score")
    return sentences


def cmd_score(args: argparse.Namespace) -> int:
    from cooc.cli.options import run_options_from_args
    from cooc.lm.arpa import read_arpa
    from cooc.lm.scorer import LanguageModel

    threads = run_options_from_args(args).resolved_num_proc()
    if Path(args.model).is_dir():
        from cooc.lm.trie import open_trie_lm

        lm = open_trie_lm(args.model, num_threads=threads)
    else:
        lm = LanguageModel(read_arpa(args.model), num_threads=threads)
    sentences = _sentences(args.text)
    s = lm.score(sentences)
    if args.json:
        out = s.summary()
        out["sentence_logprob"] = s.sentence_logprob.tolist()
        if args.per_token:
            out["token_logprob"] = s.token_logprob.tolist()
        print(json.dumps(out))
        return 0
    if args.per_token or len(sentences) <= 1000:
        ids, _ = lm.encode(sentences)
        for i, sent in enumerate(sentences):
            a, b = int(s.sent_ptr[i]), int(s.sent_ptr[i + 1])
            if args.per_token:
                words = sent.split() + ["</s>"]
                wid = ids[a - i : b - i - 1].tolist() + [lm.eos]
                print("\t".join(f"{w}={t} {p:.6g}" for w, t, p in
                                zip(words, wid, s.token_logprob[a:b].tolist(), strict=True))
                      + "\t", end="")
            print(f"Total: {s.sentence_logprob[i]:.6g} OOV: {int(s.oov[a:b].sum())}")
    print(f"Perplexity including OOVs:\t{s.perplexity:.6g}")
    print(f"Perplexity excluding OOVs:\t{s.perplexity_excluding_oovs:.6g}")
    print(f"OOVs:\t{s.oovs}")
    print(f"Tokens:\t{s.tokens}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from cooc.lm.trie import TrieConfig, arpa_to_trie, open_trie_lm

    try:
        config = TrieConfig(quantization_bits=args.bits)
    except ValueError as e:
        raise CoocError(str(e)) from None
    out = arpa_to_trie(args.model, args.out_file, config)
    st = open_trie_lm(out).stats()
    print(json.dumps(st, indent=2, default=str))
    return 0


def print_lm_stats(s: dict) -> None:
    """`TrieLanguageModel.stats()` or `LanguageModel.stats()` as a table (`cooc stats`)."""
    quant = s.get("quantization_bits")
    how = ("" if quant is None else
           f", probabilities and backoffs {'float32' if quant == 0 else f'in {quant} bits'}")
    print(f"order {s['order']}, vocabulary {s['vocab_size']:,}{how}")
    print(f"{'order':>5} {'grams':>14} {'bytes':>14} {'B/gram':>8}")
    for k, o in s["orders"].items():
        print(f"{k:>5} {o['grams']:>14,} {o['bytes']:>14,.0f} {o['bytes_per_gram']:>8.3f}")
    print(f"{'all':>5} {s['grams']:>14,} {s['bytes']:>14,.0f} {s['bytes_per_gram']:>8.3f}")
    if s.get("file_bytes") is not None:
        print(f"file bytes {s['file_bytes']:,}")


def cmd_arpa(args: argparse.Namespace) -> int:
    from cooc.lm.arpa import read_arpa

    m = read_arpa(args.model)
    if args.json:
        print(json.dumps({"order": m.order, "counts": m.counts, "vocab": len(m.vocab)}))
    else:
        print(f"{args.model}: order {m.order}, " + ", ".join(
            f"{k}-grams {c:,}" for k, c in enumerate(m.counts, 1)))
    return 0
