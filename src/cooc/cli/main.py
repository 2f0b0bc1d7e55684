"""`cooc` entry point: subcommands, logging, and turning errors into one-line messages."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from cooc.errors import CoocError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The `cooc` parser: every command and its flags."""
    from cooc import __version__
    from cooc.cli import build, dedup, diff, embed, filters, lm, merge, ngram, query, tokenize

    p = argparse.ArgumentParser(
        prog="cooc",
        description="Which tokens an LLM sees together in its training data: build and query "
        "co-occurrence indexes.",
    )
    p.add_argument("--version", action="version", version=f"cooc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tokenize.register(sub)
    build.register(sub)
    merge.register(sub)
    query.register(sub)
    diff.register(sub)
    ngram.register(sub)
    lm.register(sub)
    embed.register(sub)
    dedup.register(sub)
    filters.register(sub)
    filters.register_contamination(sub)
    filters.register_classifier_command(sub)
    filters.register_curate(sub)
    return p


def _on_sigterm(signum, frame):  # noqa: ARG001
    # a killed build unwinds like Ctrl-C: temp files removed, no index at the target
    raise KeyboardInterrupt


def _interrupted(before: int) -> int:
    """Exit 130 saying what the interrupted command left: every output is either unchanged
    or wholly new (the writers swap atomically), so say which."""
    done = []
    if "cooc.formats.artefact" in sys.modules:
        done = sys.modules["cooc.formats.artefact"].installed()[before:]
    if done:
        print(f"cooc: interrupted; the new {', '.join(map(str, done))} is in place, "
              "nothing else was changed", file=sys.stderr)
    else:
        print("cooc: interrupted; nothing was changed at the output", file=sys.stderr)
    return EXIT_INTERRUPTED


def _from_interrupt(e: BaseException) -> bool:
    """An exception raised because of Ctrl-C/SIGTERM: a signal that lands inside a numba
    dispatch or a worker's wait surfaces as SystemError/RuntimeError caused by it."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    written = sys.modules.get("cooc.formats.artefact")  # outputs of earlier calls (tests)
    before = len(written.installed()) if written else 0
    # the handler goes in first: building the parser imports the heavy modules
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        previous = None
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
            format="cooc: %(message)s",
            stream=sys.stderr,
        )
        return int(args.func(args) or 0)
    except CoocError as e:
        print(f"cooc: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return _interrupted(before)
    except (SystemError, RuntimeError) as e:
        # the build has unwound (temp files removed) all the same
        if _from_interrupt(e):
            return _interrupted(before)
        raise
    except BrokenPipeError:
        return 0
    except OSError as e:
        # the machine said no (disk full, permissions, a path that is not what it should
        # be): the writers have removed their temporary files and left the target as it was
        where = f": {e.filename}" if e.filename else ""
        print(f"cooc: error: {e.strerror or e}{where} (nothing was changed at the output)",
              file=sys.stderr)
        return EXIT_USAGE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
