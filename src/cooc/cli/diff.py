"""`cooc diff`: how the co-occurrences of two corpora differ, from their indexes."""

from __future__ import annotations

import argparse
import json

# cooc.cooccur.diff.DIFF_MEASURES, spelled out: building the parser must not import numpy
DIFF_MEASURES = ("count", "pmi", "ppmi", "npmi")


def register(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two indexes: pairs gained and lost, associations and neighbourhoods "
        "that changed most",
        description="Compare index A (before) with index B (after), built with the same "
        "tokenizer and window settings. Pairs are unordered (a < b, plus (a, a) with "
        "--include-self). Whitespace vocabularies are aligned by word; ids shown are those of "
        "the union vocabulary (for fixed vocabularies, the indexes' ids).",
    )
    p.add_argument("a", metavar="A", help="index of the first corpus (before)")
    p.add_argument("b", metavar="B", help="index of the second corpus (after)")
    p.add_argument("--token", "-t", default=None,
                   help="also list this token's neighbours gained, lost and most changed "
                   "(its text, or #ID in the ids this command prints)")
    p.add_argument("--top-k", "-k", type=int, default=20, help="rows per list (default 20)")
    p.add_argument("--by", choices=DIFF_MEASURES, default="count",
                   help="rank changed pairs by count (as a rate: count / windows of its "
                   "corpus) or by pmi, ppmi or npmi (pairs met in both)")
    p.add_argument("--min-count", type=int, default=1,
                   help="ignore pairs met fewer times (raise it for pmi: rare pairs dominate)")
    p.add_argument("--min-degree", type=int, default=5,
                   help="rank neighbourhood changes of tokens with at least this many "
                   "neighbours in both corpora (default 5)")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.set_defaults(func=run)


def _score(by: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1e6:.2f}/M" if by == "count" else f"{x:.3f}"


def _delta(by: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1e6:+.2f}/M" if by == "count" else f"{x:+.3f}"


def run(args: argparse.Namespace) -> int:
    from cooc.cooccur.diff import diff_indexes

    d = diff_indexes(args.a, args.b, by=args.by, top_k=args.top_k, min_count=args.min_count,
                     min_degree=args.min_degree, token=args.token)
    if args.json:
        print(json.dumps(d.to_dict(), indent=2, ensure_ascii=False))
        return 0
    by = "rate" if d.by == "count" else d.by
    p, t = d.pairs, d.tokens
    print(f"A {d.a}: {d.windows_a:,} windows")
    print(f"B {d.b}: {d.windows_b:,} windows")
    print(f"pairs   only in A {p.only_a:,} (count {p.only_a_count:,}), only in B {p.only_b:,} "
          f"(count {p.only_b_count:,}), in both {p.both:,} (count {p.both_count_a:,} in A, "
          f"{p.both_count_b:,} in B)")
    print(f"tokens  only in A {t.only_a:,}, only in B {t.only_b:,}, in both {t.both:,}")
    where = "in A or B" if d.by == "count" else "in both"
    print(f"pairs whose {by} changed most (B - A; met >= {d.min_count} times {where}):")
    for c in d.changed_pairs:
        print(f"  #{c.a:<7} {c.a_text!r:<18} #{c.b:<7} {c.b_text!r:<18} count {c.count_a:>8,} -> "
              f"{c.count_b:<8,} {by} {_score(d.by, c.score_a)} -> {_score(d.by, c.score_b)} "
              f"({_delta(d.by, c.delta)})")
    if not d.changed_pairs:
        print("  (none)")
    print(f"tokens whose neighbourhoods changed most (1 - Jaccard; >= {d.min_degree} neighbours "
          f"met >= {d.min_count} times in both):")
    for c in d.changed_tokens:
        print(f"  #{c.token:<7} {c.text!r:<18} {c.distance:.3f}  (A {c.degree_a:,}, "
              f"B {c.degree_b:,}, shared {c.shared:,})")
    if not d.changed_tokens:
        print("  (none)")
    if d.token is not None:
        tok = d.token
        print(f"neighbours of #{tok.token} {tok.text!r} (A {tok.degree_a:,}, B {tok.degree_b:,}):")
        for title, rows in (("gained in B", tok.gained), ("lost from A", tok.lost),
                            (f"{by} changed most", tok.changed)):
            print(f"  {title}:")
            for r in rows:
                print(f"    #{r.token:<7} {r.text!r:<18} count {r.count_a:>8,} -> "
                      f"{r.count_b:<8,} {by} {_score(d.by, r.score_a)} -> "
                      f"{_score(d.by, r.score_b)} ({_delta(d.by, r.delta)})")
            if not rows:
                print("    (none)")
    return 0
