"""Word vectors from the corpus: PPMI-SVD and GloVe from a co-occurrence index, word2vec (skip-gram and
CBOW with negative sampling) from a token store or text, skip-gram pairs for other trainers
and a PyTorch SGNS trainer of them, the vectors artefact
(`X.vec/`) with its queries, export to word2vec's formats, and intrinsic evaluation.

    config      what a PPMI-SVD run computes (PpmiSvdConfig; recorded in the vectors)
    ppmi        the job (ppmi_svd, ppmi_matrix): index rows -> PPMI (kernels) -> SVD -> vectors
    word2vec    train_word2vec: SGNS / CBOW, Hogwild threads over the kernels' chunks
    pairs       make_pairs, open_pairs: word2vec's (target, context) pairs as Parquet shards
                with the unigram table (X.pairs/, layout in pairs_format), for other trainers
    torch_sgns  train_sgns_torch: SGNS in PyTorch from X.pairs (optional: cooc[torch])
    glove       train_glove: GloVe (glove.c's AdaGrad) from an index's counts, Hogwild threads
    svd         truncated SVD by randomized block Krylov iteration over block products
    format      the on-disk layout of a vectors artefact, documented once
    vectors     write_vectors, Vectors (open_vectors): vector, similarity, most_similar, analogy
    export      word2vec text and binary, .npy with a vocabulary file; a word2vec reader
    evaluate    Spearman's rho on word-pair files, analogy accuracy (3CosAdd, 3CosMul)

Names below are imported on first use, so `import cooc.embed.config` (the CLI) stays cheap.
"""

_LAZY = {
    "PpmiSvdConfig": "cooc.embed.config",
    "ppmi_svd": "cooc.embed.ppmi",
    "ppmi_matrix": "cooc.embed.ppmi",
    "train_word2vec": "cooc.embed.word2vec",
    "Word2VecResult": "cooc.embed.word2vec",
    "make_pairs": "cooc.embed.pairs",
    "open_pairs": "cooc.embed.pairs",
    "Pairs": "cooc.embed.pairs",
    "train_sgns_torch": "cooc.embed.torch_sgns",
    "train_glove": "cooc.embed.glove",
    "GloveResult": "cooc.embed.glove",
    "Vectors": "cooc.embed.vectors",
    "Similar": "cooc.embed.vectors",
    "open_vectors": "cooc.embed.vectors",
    "write_vectors": "cooc.embed.vectors",
    "export_vectors": "cooc.embed.export",
    "read_word2vec": "cooc.embed.export",
    "evaluate_similarity": "cooc.embed.evaluate",
    "evaluate_analogy": "cooc.embed.evaluate",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cooc.embed' has no attribute {name!r}")
