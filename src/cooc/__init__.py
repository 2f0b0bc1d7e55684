"""cooc: what an LLM sees in its training data.

Token co-occurrence indexes built at compiled speed in bounded memory, and queried by
memory map. The public API is this handful of names; everything else is an implementation
layer (`cooc.kernels`, `cooc.pipeline`, `cooc.index`, `cooc.cli`).
"""

__version__ = "0.1.0"

__all__ = ["BuildConfig", "WindowConfig", "RunOptions", "CoocError", "build", "open_index", "__version__"]


def __getattr__(name):
    # lazy: `import cooc` stays cheap (numba and the tokenizers load on first use)
    if name in ("BuildConfig", "WindowConfig", "RunOptions"):
        from cooc import config

        return getattr(config, name)
    if name == "CoocError":
        from cooc.errors import CoocError

        return CoocError
    if name == "build":
        from cooc.pipeline.build import build_index

        return build_index
    if name == "open_index":
        from cooc.index import open_index

        return open_index
    raise AttributeError(f"module 'cooc' has no attribute {name!r}")
