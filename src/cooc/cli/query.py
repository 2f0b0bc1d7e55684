"""Query subcommands: analyze (reference-compatible), stats, neighbours, top, mutual, common,
export, verify. `stats` and `verify` take any artefact (index, token store, n-gram index, LM
trie, vectors, ARPA file): each reader answers `stats()` and `verify()` the same way."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cooc.errors import CoocError

# cooc.cooccur.association.MEASURES, spelled out: building the parser must not import numpy (tested)
MEASURES = ("count", "pmi", "ppmi", "npmi", "llr", "jaccard")


def _index_path(path: str) -> Path:
    p = Path(path)
    # the reference system's analyze took the pickle; its index sits beside it
    if p.suffix in (".pkl", ".pickle") and p.with_suffix(".cooc").is_dir():
        p = p.with_suffix(".cooc")
    elif p.suffix in (".pkl", ".pickle"):
        raise CoocError(f"{path} is a pickle; cooc analyzes indexes: build one with "
                        f"`cooc build ... --out-file {path}` (the index goes to {p.with_suffix('.cooc')})")
    return p


def _open(path: str):
    from cooc.cooccur.reader import open_index

    return open_index(_index_path(path))


def _analyzer(path: str):
    from cooc.cooccur.query import Analyzer

    return Analyzer(_open(path))


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


# what a path holds, by the magic of its manifest.json, spelled out: telling the kinds apart must
# not import every format (tested against the formats' MAGIC constants)
MAGICS = {"COOC-INDEX": "index", "COOC-TOKENS": "store", "COOC-NGRAMS": "ngrams", "COOC-LM": "lm",
          "COOC-VECTORS": "vectors", "COOC-PAIRS": "pairs", "COOC-BLOOM": "bloom"}
KIND_NAMES = {"index": "co-occurrence index", "store": "token store", "ngrams": "n-gram index",
              "lm": "LM trie", "arpa": "ARPA file", "positions": "positions folder",
              "vectors": "vectors", "pairs": "skip-gram pairs", "bloom": "Bloom filter"}


def artefact_kind(path: str) -> str:
    """index, store, ngrams, lm, vectors, pairs (folders, by their manifest's magic) or arpa (a
    file); a path that is none of them is taken for an index, whose reader says what is
    wrong with it."""
    p = Path(path)
    if p.is_dir():
        try:
            magic = json.loads((p / "manifest.json").read_text(encoding="utf-8")).get("magic")
        except (OSError, ValueError, AttributeError):
            magic = None
        if not isinstance(magic, str):  # a damaged manifest: the index reader names the fault
            magic = None
        if magic is None and (p / "positions.json").is_file():
            return "positions"
        return MAGICS.get(magic, "index")
    if p.is_file() and p.suffix not in (".pkl", ".pickle"):
        return "arpa"
    return "index"


def open_artefact(path: str, kind: str, checksums: bool = True):
    """The reader of `path` (of `kind`): each answers `stats()` and `verify()`; with
    checksums=False the first-use checks are left to `verify()`."""
    if kind == "store":
        from cooc.store import open_store

        return open_store(path)
    if kind == "ngrams":
        from cooc.ngram import open_ngrams

        return open_ngrams(path, checksums)
    if kind == "lm":
        from cooc.lm.trie import open_trie_lm

        return open_trie_lm(path, verify=False)  # (verify() is what `cooc verify` asks)
    if kind == "vectors":
        from cooc.embed.vectors import open_vectors

        return open_vectors(path, checksums)
    if kind == "pairs":
        from cooc.embed.pairs import open_pairs

        return open_pairs(path, checksums)
    if kind == "bloom":
        from cooc.curate.bloom import BloomFilter

        return BloomFilter.load(path)
    if kind == "arpa":
        from cooc.lm.arpa import read_arpa
        from cooc.lm.scorer import LanguageModel

        return LanguageModel(read_arpa(path))
    return _open(path)


def cmd_stats(args) -> int:
    kind = artefact_kind(args.index)
    art = open_artefact(args.index, kind)
    s = art.stats()
    if args.json:
        _print_json(s)
        return 0
    if kind == "index":
        _print_index_stats(art, s)
    elif kind == "store":
        print(f"token store      {s['path']}")
        print(f"documents        {s['documents']:,}   ({s['granularity']} units)")
        print(f"tokens           {s['tokens']:,}")
        print(f"tokenizer        {s['tokenizer']}  (vocabulary {s['vocab_size'] or 0:,})")
        print(f"shards           {s['shards']:,}")
        print(f"bytes            {s['bytes']:,}   ({s['bytes_per_token']:.3f} per token)")
        _print_skipped(s)
    elif kind == "ngrams":
        from cooc.cli.ngram import print_ngram_stats

        print_ngram_stats(s)
    elif kind == "vectors":
        from cooc.cli.embed import print_vectors_stats

        print_vectors_stats(s)
    elif kind == "pairs":
        c = s["config"]
        print(f"skip-gram pairs  {s['path']}")
        print(f"pairs            {s['pairs']:,}   ({s['shards']:,} shards)")
        print(f"tokens           {s['vocab_size']:,}   (min_count {c.get('min_count')}, "
              f"tokenizer {c.get('tokenizer')})")
        print(f"window           {c.get('window')}   ({'dynamic' if c.get('dynamic_window') else 'fixed'}"
              f", sample {c.get('sample')}, seed {c.get('seed')})")
        print(f"bytes            {s['bytes']:,}")
    elif kind == "bloom":
        print(f"Bloom filter     {args.index}")
        print(f"bits m           {s['m']:,}   (k = {s['k']}, seed {s['seed']}, {s['bytes']:,} bytes)")
        print(f"sized for        n = {s['expected_items']:,} at p = {s['fp_rate']:g}")
        print(f"items added      {s['items_added']:,}   (fill {s['fill_ratio']:.3f})")
    else:
        from cooc.cli.lm import print_lm_stats

        print_lm_stats(s)
    return 0


def _print_skipped(s: dict) -> None:
    skipped = s["skipped"].get("skipped", {}) if isinstance(s["skipped"], dict) else {}
    if skipped:
        print("skipped          " + ", ".join(f"{k} {v}" for k, v in skipped.items()))


def _print_index_stats(index, s: dict) -> None:
    d = s["degree"]
    print(f"documents        {s['documents']:,}")
    print(f"tokens           {s['tokens']:,}")
    print(f"windows          {s['windows']:,}   ({s['window']})")
    if index.count_scale != 1:
        print(f"counts           stored x {index.count_scale:,} (exact weighted sums)")
    print(f"tokenizer        {s['tokenizer']}  (vocabulary {s['vocab_size']:,}, seen {s['vocab_seen']:,})")
    print(f"pairs            {s['pairs']:,}   (directed entries {s['directed_entries']:,})")
    print(f"degree           min {d['min']}, median {d['median']:.0f}, mean {d['mean']:.1f}, "
          f"p90 {d['p90']:.0f}, p99 {d['p99']:.0f}, max {d['max']:,}")
    b = s["index_bytes"]
    parts = ", ".join(f"{k} {v:,}" for k, v in b.items() if k != "total")
    print(f"index bytes      {b['total']:,}  ({parts})")
    bpe = s["bytes_per_entry"]
    print(f"bytes per entry  {bpe:.3f}" if bpe == bpe else "bytes per entry  - (no entries)")
    _print_skipped(s)


def cmd_neighbours(args) -> int:
    an = _analyzer(args.index)
    tid = an.resolve(args.token)
    alpha = 1.0 if getattr(args, "alpha", None) is None else args.alpha
    rows = an.neighbours(tid, args.top_k, args.by, args.min_count, alpha)
    if args.json:
        _print_json([r.__dict__ for r in rows])
        return 0
    by = f"{args.by} (alpha {alpha:g})" if alpha != 1 else args.by
    print(f"top {len(rows)} neighbours of {an.describe(tid)} by {by} "
          f"(degree {int(an.index.degree([tid])[0]):,}):")
    scale = an.index.count_scale
    for r in rows:
        score = f"  {args.by} {r.score:.3f}" if args.by != "count" else ""
        count = f"{r.count:>10,}" if scale == 1 else f"{r.count / scale:>14,.4f}"
        print(f"  #{r.token_id:<8} {r.text!r:<24} {count}{score}")
    return 0


def cmd_top(args) -> int:
    an = _analyzer(args.index)
    print(f"top {args.n} most connected tokens:")
    for tid, text, deg in an.top_connected(args.n):
        print(f"  #{tid:<8} {text!r:<24} {deg:>10,} neighbours")
    return 0


def cmd_mutual(args) -> int:
    an = _analyzer(args.index)
    m = an.pair_association(args.a, args.b)
    verdict = f"met in {m['count']:,} windows" if m["count"] > 0 else "never met"
    print(f"#{m['a']} {m['a_text']!r} and #{m['b']} {m['b_text']!r}: {verdict}")
    print(f"  windows {m['windows']:,}; holding a {m['windows_a']:,}, holding b "
          f"{m['windows_b']:,}; shared neighbours {m['shared_neighbours']:,}")
    print("  " + "  ".join(f"{k} {m[k]:.4g}" for k in ("pmi", "ppmi", "npmi", "llr", "jaccard")))
    return 0


def cmd_common(args) -> int:
    an = _analyzer(args.index)
    a, b, ids, ca, cb = an.common(args.a, args.b)
    print(f"{an.describe(a)} and {an.describe(b)} share {len(ids):,} neighbours")
    order = (ca.astype("int64") + cb).argsort(kind="stable")[::-1][: args.top_k]
    for i in order:
        t = int(ids[i])
        print(f"  #{t:<8} {an.index.token_text(t)!r:<24} {int(ca[i]):>8,} {int(cb[i]):>8,}")
    return 0


def cmd_analyze(args) -> int:
    """The reference system's analyze: one of several questions per call."""
    ns = argparse.Namespace(index=args.data, json=False)
    if args.stats:
        return cmd_stats(ns)
    if args.query_token is not None:
        ns.token, ns.top_k, ns.by, ns.min_count = args.query_token, args.top_k, "count", 1
        ns.alpha = None
        return cmd_neighbours(ns)
    if args.top_connected is not None:
        ns.n = args.top_connected
        return cmd_top(ns)
    if args.mutual_check:
        ns.a, ns.b = args.mutual_check
        return cmd_mutual(ns)
    if args.common_coocs:
        ns.a, ns.b = args.common_coocs
        ns.top_k = args.top_k
        return cmd_common(ns)
    raise CoocError("analyze needs one of --stats, --query-token, --top-connected, "
                    "--mutual-check, --common-coocs")


def cmd_export(args) -> int:
    from cooc.cooccur import export

    index = _open(args.index)
    kw = {"directed": True} if args.format == "parquet" and args.directed else {}
    path = export.export(index, args.format, args.output, **kw)
    print(f"cooc: wrote {path}")
    return 0


def cmd_verify(args) -> int:
    """Verify whatever `args.index` holds; say what was checked, or the first damage."""
    from cooc.cooccur.positions import positions_path, verify_positions

    kind = artefact_kind(args.index)
    try:
        if kind == "index":  # not opened first: a damaged index lists every problem
            from cooc.cooccur.reader import read_manifest
            from cooc.cooccur.verify import check_index

            path = _index_path(args.index)
            check_index(path)
            checked = (f"sha256 of {len(read_manifest(path)['files'])} files, every row "
                       "decoded, ids and counts in range, counts symmetric, statistics consistent")
            if positions_path(path).exists():
                problems = verify_positions(positions_path(path))
                if problems:
                    raise CoocError("; ".join(problems))
                checked += "; its positions too"
        elif kind == "positions":
            problems = verify_positions(Path(args.index))
            if problems:
                raise CoocError("; ".join(problems))
            checked = "positions.json, and every channel index as a co-occurrence index"
        else:
            art = open_artefact(args.index, kind, checksums=False)
            art.verify()
            checked = _checked(kind, art)
    except CoocError as e:
        print(f"cooc: verify: {e}")
        return 1
    print(f"cooc: {args.index}: ok ({KIND_NAMES[kind]}): {checked}")
    return 0


def _checked(kind: str, art) -> str:
    if kind == "store":
        files = len(art.manifest["files"])
        n = len(art.shards)
        return (f"sizes and sha256 of {files} files in {n} shard{'' if n == 1 else 's'}, the "
                "vocabulary, document pointers and token ids")
    if kind == "ngrams":
        return f"sha256 of {len(art.manifest['files'])} files, every level's ids and counts decode"
    if kind == "lm":
        return f"sha256 of {len(art.manifest['files'])} files, every level decodes"
    if kind == "pairs":
        return (f"sha256 of {len(art.manifest['files'])} files, the vocabulary, {art.pairs:,} "
                "pairs' ids in range")
    if kind == "vectors":
        return (f"sha256 of {len(art.manifest['files'])} files, {len(art):,} x {art.dim} "
                "vectors finite, token ids unique")
    if kind == "bloom":
        return f"manifest, sha256 of the bit array ({art.bits.nbytes:,} bytes), m and k"
    counts = art.model.counts
    return (f"parsed {sum(counts):,} n-grams of orders 1..{len(counts)}; vocabulary, "
            "probabilities, backoffs and hash tables consistent")


def cmd_positions(args) -> int:
    from cooc.cooccur.positions import Positions

    an = _analyzer(args.index)
    a, b = an.resolve(args.a), an.resolve(args.b)
    pos = Positions(args.index)
    try:
        p = pos.pair(a, b)
    finally:
        pos.close()
    if args.json:
        _print_json({**p.__dict__, "a_text": an.index.token_text(a), "b_text": an.index.token_text(b)})
        return 0
    if not p.pairs:
        print(f"{an.describe(a)} and {an.describe(b)} never occur within {p.radius} tokens")
        return 0
    print(f"{an.describe(a)} and {an.describe(b)}: {p.pairs:,} occurrence pairs within "
          f"{p.radius} tokens, {p.mean_distance:.2f} apart on average")
    if a != b:
        share = p.a_first / p.pairs
        print(f"  {an.describe(a)} first in {p.a_first:,} ({share:.0%}), {an.describe(b)} first "
              f"in {p.b_first:,}; mean offset of b after a {p.mean_offset:+.2f}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("analyze", help="the reference system's analyze command")
    p.add_argument("--data", required=True, help="index (or the .pkl built beside it)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--stats", action="store_true")
    g.add_argument("--query-token", metavar="T")
    g.add_argument("--top-connected", type=int, metavar="N")
    g.add_argument("--mutual-check", nargs=2, metavar=("A", "B"))
    g.add_argument("--common-coocs", nargs=2, metavar=("A", "B"))
    p.add_argument("--top-k", type=int, default=20)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("stats", help="statistics of an index, token store, n-gram index, LM "
                       "trie, vectors or ARPA file", description="Sizes, counts and bytes of whatever "
                       "PATH holds (found from its manifest; a file is read as ARPA).")
    p.add_argument("index", metavar="PATH", help="index (or the .pkl built beside it), token "
                   "store, n-gram index (X.ngrams), LM trie (X.lm), vectors (X.vec) or ARPA file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("neighbours", aliases=["neighbors"], help="a token's top neighbours")
    p.add_argument("index")
    p.add_argument("token", help="token text (e.g. ' the') or #id")
    p.add_argument("--top-k", "-k", type=int, default=20)
    p.add_argument("--by", choices=MEASURES, default="count",
                   help="count, or an association measure: pmi, ppmi, npmi, llr (Dunning's "
                   "G^2), jaccard (of neighbour sets)")
    p.add_argument("--min-count", type=int, default=1, help="ignore pairs met fewer times")
    p.add_argument("--alpha", type=float, default=None,
                   help="ppmi context-distribution smoothing exponent (default 1: none; "
                   "0.75 is usual)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neighbours)

    p = sub.add_parser("top", help="most connected tokens")
    p.add_argument("index")
    p.add_argument("-n", type=int, default=20)
    p.set_defaults(func=cmd_top)

    p = sub.add_parser("mutual", help="did two tokens meet, how often, and how strongly "
                       "associated (pmi, ppmi, npmi, llr, jaccard)")
    p.add_argument("index")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=cmd_mutual)

    p = sub.add_parser("common", help="neighbours two tokens share")
    p.add_argument("index")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--top-k", "-k", type=int, default=20)
    p.set_defaults(func=cmd_common)

    p = sub.add_parser("export", help="write the index as pickle, TSV, Parquet or scipy")
    p.add_argument("index")
    p.add_argument("--format", "-f", required=True, choices=("pickle", "tsv", "parquet", "scipy"))
    p.add_argument("--output", "-o", required=True)
    p.add_argument("--directed", action="store_true", help="parquet: both directions of each pair")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("positions", help="how far apart and in which order two tokens occur "
                       "(index built with --positions)")
    p.add_argument("index")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_positions)

    p = sub.add_parser("verify", help="recompute checksums and check the structure of an index, "
                       "token store, n-gram index, LM trie, vectors or ARPA file",
                       description="Check whatever PATH holds (found from its manifest; a file "
                       "is read as ARPA) and say what was checked; exit 1 on damage.")
    p.add_argument("index", metavar="PATH", help="index, token store, n-gram index (X.ngrams), "
                   "LM trie (X.lm), vectors (X.vec) or ARPA file")
    p.set_defaults(func=cmd_verify)
