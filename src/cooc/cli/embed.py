"""`cooc embed`: word vectors from a co-occurrence index (PPMI-SVD, GloVe) or from a corpus
(word2vec SGNS/CBOW), skip-gram pairs for other trainers and a PyTorch SGNS trainer of them,
their nearest tokens and analogies, intrinsic evaluation, and export to word2vec's formats
and numpy."""

from __future__ import annotations

import argparse
import json
import sys

from cooc.errors import CoocError


def register(sub) -> None:
    from cooc.cli.options import add_config_args, add_run_arguments
    from cooc.embed.config import PpmiSvdConfig

    p = sub.add_parser("embed", help="word vectors: PPMI-SVD from an index, queries, "
                       "evaluation, export",
                       description="Make word vectors from a co-occurrence index (X.vec/), ask "
                       "them for nearest tokens and analogies, score them on similarity and "
                       "analogy files, export them for gensim and numpy.")
    em = p.add_subparsers(dest="embed_command", metavar="SUBCOMMAND", required=True)

    s = em.add_parser("ppmi-svd", help="PPMI-SVD vectors of an index's tokens",
                      description="Truncated SVD of the (smoothed, optionally shifted) PPMI "
                      "matrix of the index's counts, streamed from the index; any count mode. "
                      "Vectors are U * S^eig, one per token seen --min-count times.")
    s.add_argument("index", help="co-occurrence index (X.cooc), e.g. from `cooc build CORPUS "
                   "--tokenizer words --context-length 0 --count-mode occurrences --radius 5`")
    s.add_argument("--out-file", "-o", required=True, help="vectors folder to write (X.vec)")
    add_config_args(s, PpmiSvdConfig)
    add_run_arguments(s, memory=True, threads=True, tmp_dir=True, quiet=True)
    s.set_defaults(func=cmd_ppmi_svd)

    g = em.add_parser("glove", help="GloVe vectors trained on an index's counts",
                      description="GloVe as Stanford GloVe's glove.c: weighted least squares "
                      "on log X_ij (f = min(1, (x/x_max)^alpha)), AdaGrad, Hogwild threads, "
                      "vectors word + context. An index built with --count-mode harmonic "
                      "--radius 10 --context-length 0 holds glove's cooccur counts. One thread "
                      "and a seed give identical vectors.")
    g.add_argument("index", help="co-occurrence index (X.cooc)")
    g.add_argument("--out-file", "-o", required=True, help="vectors folder to write (X.vec)")
    g.add_argument("--dim", type=int, default=100, help="vector size (default: 100)")
    g.add_argument("--iterations", type=int, default=15, help="passes over the entries (15)")
    g.add_argument("--x-max", type=float, default=100.0, help="weight cutoff (100)")
    g.add_argument("--alpha", type=float, default=0.75, help="weight exponent (0.75)")
    g.add_argument("--eta", type=float, default=0.05, help="initial learning rate (0.05)")
    g.add_argument("--min-count", type=int, default=1, help="drop rarer tokens (1)")
    g.add_argument("--max-vocab", type=int, default=0,
                   help="keep the N most frequent tokens (0: all)")
    g.add_argument("--seed", type=int, default=1, help="random seed (1)")
    add_run_arguments(g, memory=True, threads=True, tmp_dir=True, quiet=True)
    g.set_defaults(func=cmd_glove)

    for model, sg in (("sgns", True), ("cbow", False)):
        w = em.add_parser(model, help=f"word2vec {'skip-gram' if sg else 'CBOW'} with negative "
                          "sampling, from a corpus or a token store",
                          description="word2vec with negative sampling (unigram^0.75 "
                          "negatives, frequent-token subsampling, dynamic window, linear "
                          "learning-rate decay), Hogwild threads without the GIL. Text is "
                          "tokenized first (--tokenizer; words: lower-cased words, punctuation "
                          "and digits dropped). One thread and a seed give identical vectors.")
        w.add_argument("source", nargs="+", help="corpus files, folders or globs, or a token "
                       "store (X.tokens)")
        w.add_argument("--out-file", "-o", required=True, help="vectors folder to write (X.vec)")
        w.add_argument("--tokenizer", default=None, help="for text sources (default: words); "
                       "a token store keeps its own and refuses another")
        w.add_argument("--text-field", default="text", help="JSON/Parquet field of the text")
        w.add_argument("--dim", type=int, default=100, help="vector size (default: 100)")
        w.add_argument("--window", type=int, default=5, help="largest context distance (5)")
        w.add_argument("--negative", type=int, default=5, help="negatives per prediction (5)")
        w.add_argument("--min-count", type=int, default=5, help="drop rarer tokens (5)")
        w.add_argument("--sample", type=float, default=1e-4,
                       help="subsampling threshold t (1e-4; 0: none)")
        w.add_argument("--epochs", type=int, default=5, help="passes over the corpus (5)")
        w.add_argument("--alpha", type=float, default=None,
                       help=f"first learning rate (default {0.025 if sg else 0.05})")
        w.add_argument("--min-alpha", type=float, default=1e-4, help="last learning rate")
        w.add_argument("--seed", type=int, default=1, help="random seed (1)")
        if sg:
            w.add_argument("--per-pair-negatives", action="store_true",
                           help="draw fresh negatives for every (context, center) pair, as "
                           "word2vec.c and gensim do (default: one set per center word, shared "
                           "by its contexts: about 1.9x faster on 2 threads, same quality)")
        add_run_arguments(w, memory=True, threads=True, tmp_dir=True, quiet=True)
        w.set_defaults(func=cmd_word2vec, sg=sg)

    pp = em.add_parser("pairs", help="word2vec's (target, context) pairs as Parquet shards, "
                       "for trainers outside cooc",
                       description="The skip-gram pairs word2vec trains on (tokens seen "
                       "--min-count times, frequent-token subsampling, dynamic window, never "
                       "across documents), one pass, as Parquet shards of int32 target and "
                       "context columns (dense ids) plus vocab.parquet (texts, counts and the "
                       "unigram^0.75 table): X.pairs/. A seed gives the same pairs whatever "
                       "the threads or shard size.")
    pp.add_argument("source", nargs="+", help="corpus files, folders or globs, or a token "
                    "store (X.tokens)")
    pp.add_argument("--out-file", "-o", required=True, help="pairs folder to write (X.pairs)")
    pp.add_argument("--tokenizer", default=None, help="for text sources (default: words); "
                       "a token store keeps its own and refuses another")
    pp.add_argument("--text-field", default="text", help="JSON/Parquet field of the text")
    pp.add_argument("--window", type=int, default=5, help="largest context distance (5)")
    pp.add_argument("--no-dynamic-window", dest="dynamic_window", action="store_false",
                    help="every target gets its whole window (default: reach uniform in "
                    "1..window, as word2vec)")
    pp.add_argument("--min-count", type=int, default=5, help="drop rarer tokens (5)")
    pp.add_argument("--sample", type=float, default=1e-4,
                    help="subsampling threshold t (1e-4; 0: none)")
    pp.add_argument("--shard-pairs", type=int, default=50_000_000,
                    help="pairs per Parquet shard (50,000,000: 400 MB of pairs)")
    pp.add_argument("--seed", type=int, default=1, help="random seed (1)")
    add_run_arguments(pp, memory=True, threads=True, tmp_dir=True, quiet=True)
    pp.set_defaults(func=cmd_pairs)

    t = em.add_parser("sgns-torch", help="skip-gram vectors trained by PyTorch on a pairs "
                      "artefact (pip install 'cooc[torch]')",
                      description="SGNS in PyTorch from X.pairs (`cooc embed pairs`): sparse "
                      "input and output embeddings, unigram^0.75 negatives, SparseAdam with a "
                      "linearly falling learning rate, batches of shuffled pairs, on --device "
                      "cpu or cuda. Writes the vectors artefact (X.vec) of the input "
                      "embeddings. A seed on the CPU gives identical vectors.")
    t.add_argument("pairs", help="pairs folder (X.pairs)")
    t.add_argument("--out-file", "-o", required=True, help="vectors folder to write (X.vec)")
    t.add_argument("--dim", type=int, default=100, help="vector size (default: 100)")
    t.add_argument("--negative", type=int, default=5, help="negatives per pair (5)")
    t.add_argument("--epochs", type=int, default=1, help="passes over the pairs (1)")
    t.add_argument("--batch-size", type=int, default=4096, help="pairs per step (4096)")
    t.add_argument("--lr", type=float, default=0.001, help="first learning rate (0.001)")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="(default: cpu)")
    t.add_argument("--seed", type=int, default=1, help="random seed (1)")
    add_run_arguments(t, memory=False, threads=True, quiet=True)
    t.set_defaults(func=cmd_sgns_torch)

    n = em.add_parser("similar", help="the nearest tokens of a token by cosine")
    n.add_argument("vectors", help="vectors folder (X.vec)")
    n.add_argument("token", help="token text or #id")
    n.add_argument("--top-k", "-k", type=int, default=10, help="how many (default: 10)")
    n.add_argument("--restrict-vocab", type=int, default=0, metavar="N",
                   help="only among the N most frequent tokens (default 0: all)")
    n.add_argument("--json", action="store_true", help="print JSON")
    n.set_defaults(func=cmd_similar)

    a = em.add_parser("analogy", help="a is to b as c is to ?",
                      description="The best answers d (a, b and c excluded) by 3CosAdd "
                      "(cos(d,b) - cos(d,a) + cos(d,c)) or 3CosMul (Levy & Goldberg 2014).")
    a.add_argument("vectors", help="vectors folder (X.vec)")
    for name in ("a", "b", "c"):
        a.add_argument(name, help="token text or #id")
    a.add_argument("--top-k", "-k", type=int, default=5, help="how many (default: 5)")
    a.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(func=cmd_analogy)

    e = em.add_parser("eval", help="Spearman's rho on word-pair similarity files, analogy "
                      "accuracy",
                      description="Similarity files: 'word1 word2 score' lines (tab, comma or "
                      "space separated; '#' comments and a header skipped), as WordSim353 and "
                      "SimLex-999. Analogy files: questions-words.txt (': section' lines, 'a b "
                      "c d' questions). Pairs and questions with unknown words are counted as "
                      "OOV and left out.")
    e.add_argument("vectors", help="vectors folder (X.vec)")
    e.add_argument("--similarity", nargs="+", default=[], metavar="FILE",
                   help="word-pair similarity files")
    e.add_argument("--analogy", nargs="+", default=[], metavar="FILE",
                   help="analogy files (questions-words.txt format)")
    e.add_argument("--case-insensitive", action="store_true",
                   help="match words lower-cased when their text is absent")
    e.add_argument("--restrict-vocab", type=int, default=0, metavar="N",
                   help="analogies: only the N most frequent tokens answer or ask (gensim: "
                   "300000; default 0: all)")
    e.add_argument("--method", nargs="+", choices=("3cosadd", "3cosmul"),
                   default=["3cosadd", "3cosmul"], help="analogy methods (default: both)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=cmd_eval)

    x = em.add_parser("export", help="write word2vec text or binary, or .npy with a "
                      "vocabulary file",
                      description="word2vec: gensim's KeyedVectors.load_word2vec_format(PATH) "
                      "reads it (binary=True for word2vec-binary). npy: PATH and "
                      "PATH.vocab.txt ('token count' lines). Tokens holding spaces, tabs, "
                      "newlines or backslashes are escaped (\\s \\t \\n \\r \\\\); empty or "
                      "repeated texts are written \\#ID.")
    x.add_argument("vectors", help="vectors folder (X.vec)")
    x.add_argument("--format", "-f", required=True,
                   choices=("word2vec", "word2vec-binary", "npy"))
    x.add_argument("--output", "-o", required=True, help="file to write")
    x.set_defaults(func=cmd_export)


def _open(path: str):
    from cooc.embed.vectors import open_vectors

    return open_vectors(path)


def cmd_ppmi_svd(args: argparse.Namespace) -> int:
    from cooc.cli.options import config_from_args, run_options_from_args
    from cooc.embed.config import PpmiSvdConfig
    from cooc.embed.ppmi import ppmi_svd
    from cooc.runtime.progress import fmt_bytes

    try:
        config = config_from_args(PpmiSvdConfig, args)
    except ValueError as e:
        raise CoocError(str(e)) from None
    options = run_options_from_args(args)
    r = ppmi_svd(args.index, args.out_file, config, options)
    if not args.quiet:
        t = r.timings
        print(f"cooc: {r.vocab_size:,} vectors of {r.dim} dimensions -> {r.path} (PPMI "
              f"entries {r.entries:,}{', held in scratch files' if r.spilled else ''}); ppmi "
              f"{t['ppmi']:.2f} s, svd {t['svd']:.2f} s, write {t['write']:.2f} s, total "
              f"{t['total']:.2f} s, peak memory {fmt_bytes(r.peak_rss)}", file=sys.stderr)
    return 0


def cmd_glove(args: argparse.Namespace) -> int:
    from cooc.cli.options import run_options_from_args
    from cooc.embed.glove import train_glove
    from cooc.runtime.progress import fmt_bytes

    options = run_options_from_args(args)
    r = train_glove(args.index, args.out_file, dim=args.dim, iterations=args.iterations,
                    x_max=args.x_max, alpha=args.alpha, eta=args.eta, min_count=args.min_count,
                    max_vocab=args.max_vocab, seed=args.seed, options=options)
    if not args.quiet:
        t = r.timings
        print(f"cooc: {r.vocab_size:,} vectors of {r.dim} dimensions -> {r.path} ({r.entries:,} "
              f"entries{', held in scratch files' if r.spilled else ''}; final cost "
              f"{r.costs[-1]:.6f}); gather {t['gather']:.2f} s, train {t['train']:.2f} s, "
              f"total {t['total']:.2f} s, peak memory {fmt_bytes(r.peak_rss)}", file=sys.stderr)
    return 0


def _tokenizer_for(source, asked: str | None) -> str | None:
    """The CLI's tokenizer: as asked; else a store's own (None), text's `words`."""
    from cooc.store.sources import open_token_store

    if asked is not None or open_token_store(source) is not None:
        return asked
    return "words"


def cmd_word2vec(args: argparse.Namespace) -> int:
    from cooc.cli.options import run_options_from_args
    from cooc.embed.vectors import write_vectors
    from cooc.embed.word2vec import train_word2vec

    options = run_options_from_args(args)
    source = args.source[0] if len(args.source) == 1 else args.source
    try:
        r = train_word2vec(source, sg=args.sg, dim=args.dim, window=args.window,
                           negative=args.negative, min_count=args.min_count, sample=args.sample,
                           epochs=args.epochs, alpha=args.alpha, min_alpha=args.min_alpha,
                           seed=args.seed, tokenizer=_tokenizer_for(source, args.tokenizer),
                           text_field=args.text_field,
                           shared_negatives=not getattr(args, "per_pair_negatives", False),
                           options=options)
    except ValueError as e:
        raise CoocError(str(e)) from None
    path = write_vectors(args.out_file, r.vectors, r.texts, r.token_ids, r.counts, r.config)
    if not args.quiet:
        print(f"cooc: {len(r.texts):,} vectors of {r.vectors.shape[1]} dimensions -> {path}",
              file=sys.stderr)
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from cooc.cli.options import run_options_from_args
    from cooc.embed.pairs import make_pairs

    options = run_options_from_args(args)
    source = args.source[0] if len(args.source) == 1 else args.source
    try:
        r = make_pairs(source, args.out_file, window=args.window, min_count=args.min_count,
                       sample=args.sample, dynamic_window=args.dynamic_window, seed=args.seed,
                       shard_pairs=args.shard_pairs,
                       tokenizer=_tokenizer_for(source, args.tokenizer),
                       text_field=args.text_field, options=options)
    except ValueError as e:
        raise CoocError(str(e)) from None
    if not args.quiet:
        print(f"cooc: {r.pairs:,} pairs of {r.vocab_size:,} tokens in {r.shards} shards -> "
              f"{r.path} ({r.config['kept_words']:,} of {r.config['corpus_words']:,} words "
              f"kept by subsampling; {r.stats['seconds']:.2f} s)", file=sys.stderr)
    return 0


def cmd_sgns_torch(args: argparse.Namespace) -> int:
    from cooc.cli.options import run_options_from_args
    from cooc.embed.torch_sgns import train_sgns_torch
    from cooc.embed.vectors import write_vectors

    options = run_options_from_args(args)
    try:
        r = train_sgns_torch(args.pairs, dim=args.dim, negative=args.negative,
                             epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             device=args.device, seed=args.seed, options=options)
    except ValueError as e:
        raise CoocError(str(e)) from None
    path = write_vectors(args.out_file, r.vectors, r.texts, r.token_ids, r.counts, r.config)
    if not args.quiet:
        print(f"cooc: {len(r.texts):,} vectors of {r.vectors.shape[1]} dimensions -> {path} "
              f"({r.stats['pairs']:,} pairs on {args.device} in {r.stats['seconds']:.2f} s, "
              f"final loss {r.stats['final_loss']:.4f})", file=sys.stderr)
    return 0


def _check_k(k: int) -> None:
    if k < 1:
        raise CoocError(f"--top-k must be >= 1, got {k}")


def cmd_similar(args: argparse.Namespace) -> int:
    _check_k(args.top_k)
    v = _open(args.vectors)
    row = v.row(args.token)
    found = v.most_similar(args.token, args.top_k, args.restrict_vocab)
    if args.json:
        print(json.dumps([s.__dict__ for s in found], ensure_ascii=False))
        return 0
    print(f"nearest {len(found)} of {v.describe(row)} by cosine:")
    for s in found:
        print(f"  {v.describe(s.row):<32} {s.score:.4f}")
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    _check_k(args.top_k)
    v = _open(args.vectors)
    found = v.analogy(args.a, args.b, args.c, args.top_k, args.method)
    if args.json:
        print(json.dumps([s.__dict__ for s in found], ensure_ascii=False))
        return 0
    print(f"{args.a!r} is to {args.b!r} as {args.c!r} is to ({args.method}):")
    for s in found:
        print(f"  {v.describe(s.row):<32} {s.score:.4f}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cooc.embed.evaluate import evaluate_analogy, evaluate_similarity

    if not args.similarity and not args.analogy:
        raise CoocError("give --similarity FILE... and/or --analogy FILE...")
    if args.restrict_vocab < 0:
        raise CoocError(f"--restrict-vocab must be >= 0, got {args.restrict_vocab}")
    v = _open(args.vectors)
    sims = [evaluate_similarity(v, f, args.case_insensitive) for f in args.similarity]
    analogies = [evaluate_analogy(v, f, tuple(dict.fromkeys(args.method)),
                                  args.case_insensitive, args.restrict_vocab)
                 for f in args.analogy]
    if args.json:
        print(json.dumps({"vectors": str(v.path),
                          "similarity": [asdict(s) for s in sims],
                          "analogy": [a.to_dict() for a in analogies]}))
        return 0
    for s in sims:
        print(f"{s.file}: Spearman {s.spearman:.4f} over {s.pairs - s.oov:,} pairs "
              f"({s.oov:,} of {s.pairs:,} OOV)")
    for a in analogies:
        methods = list(a.total.correct)
        print(f"{a.file}: {a.total.asked:,} of {a.total.questions:,} questions asked "
              f"({a.total.oov:,} OOV)")
        print(f"  {'section':<32} {'asked':>7} {'oov':>7} " + " ".join(f"{m:>8}" for m in methods))
        for sec in [*a.sections, a.total]:
            print(f"  {sec.section:<32} {sec.asked:>7,} {sec.oov:>7,} "
                  + " ".join(f"{sec.accuracy(m):>8.4f}" for m in methods))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from cooc.embed.export import export_vectors

    v = _open(args.vectors)
    for p in export_vectors(v, args.format, args.output):
        print(f"cooc: wrote {p}")
    return 0


def print_vectors_stats(s: dict) -> None:
    """`Vectors.stats()` as text (`cooc stats`)."""
    cfg = s["config"]
    print(f"vectors          {s['path']}")
    print(f"tokens           {s['vocab_size']:,}   ({s['dim']} dimensions, "
          f"{'with' if s['with_token_ids'] else 'without'} token ids)")
    print(f"method           {s['method']}" + (
        f"  (alpha {cfg.get('alpha')}, shift {cfg.get('shift')}, eig {cfg.get('eig')}, "
        f"min_count {cfg.get('min_count')})" if s["method"] == "ppmi-svd" else ""))
    src = cfg.get("source") or {}
    if src.get("index"):
        print(f"from             {src['index']}  (tokenizer {src.get('tokenizer')})")
    n = s["norm"]
    print(f"norms            min {n['min']:.4g}, median {n['median']:.4g}, max {n['max']:.4g}; "
          f"zero vectors {s['zero_vectors']:,}")
    print(f"bytes            {s['bytes']:,}")
