"""How jobs run: one `RunOptions` (validated, the same defaults for every job), the run flags
made once for every command, and errors below the CLI that speak of parameters, not flags."""

from __future__ import annotations

import argparse
import ast
import os
import re
from pathlib import Path

import pytest

from cooc.cli.main import build_parser as cli_parser
from cooc.cli.options import add_run_arguments, run_options_from_args
from cooc.errors import CoocError
from cooc.options import RunOptions, default_memory_bytes, parse_bytes

SRC = Path(__file__).resolve().parents[1] / "src" / "cooc"


# --- RunOptions --------------------------------------------------------------------------------

def test_defaults_resolve_the_same_for_every_job(tmp_path):
    o = RunOptions()
    assert o.resolved_num_proc() == len(os.sched_getaffinity(0))
    assert o.resolved_memory() == default_memory_bytes() >= 256 << 20
    assert o.resolved_tmp_dir(tmp_path / "x.cooc") == tmp_path  # beside the output
    assert o.resolved_tmp_dir() is None  # no output: the system's temp folder
    given = RunOptions(num_proc=1, memory_bytes=1 << 20, tmp_dir=tmp_path / "t")
    assert given.resolved_num_proc() == 1 and given.resolved_memory() == 1 << 20
    cores = len(os.sched_getaffinity(0))
    # F15: more threads than cores only multiplied the per-thread buffers past the budget
    assert RunOptions(num_proc=1000).resolved_num_proc() == cores
    assert given.tmp_dir == str(tmp_path / "t")  # a path is kept as a str
    assert given.resolved_tmp_dir(tmp_path / "x.cooc") == tmp_path / "t"


@pytest.mark.parametrize("kw, message", [
    ({"num_proc": -1}, "num_proc must be an int >= 0 .*got -1"),
    ({"num_proc": 1.5}, "num_proc must be an int"),
    ({"memory_bytes": -5}, "memory_bytes must be an int >= 0 .*got -5"),
    ({"memory_bytes": "8G"}, r"parse_bytes\('8G'\)"),
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"batch_tokens": -1}, "batch_tokens must be an int >= 0"),
    ({"tmp_dir": ""}, "tmp_dir must be a folder path"),
    ({"quiet": "yes"}, "quiet must be True or False"),
    ({"engine": "spark"}, "unknown engine 'spark'; choose local or ray"),
    ({"address": ""}, "address must be a Ray cluster address"),
])
def test_bad_run_options_say_what_and_how(kw, message):
    with pytest.raises(ValueError, match=message) as e:
        RunOptions(**kw)
    assert "\n" not in str(e.value) and "--" not in str(e.value)


def test_parse_bytes():
    assert parse_bytes("512M") == 512 << 20 and parse_bytes("1.5g") == 3 << 29
    assert parse_bytes(1024) == 1024 and parse_bytes("2KB") == 2048
    for bad in ("lots", "0", "-1G"):
        with pytest.raises(ValueError, match="512M or 8G"):
            parse_bytes(bad)


# --- run flags ---------------------------------------------------------------------------------

def _parse(argv, **flags):
    p = argparse.ArgumentParser()
    add_run_arguments(p, **flags)
    return run_options_from_args(p.parse_args(argv))


def test_run_flags_default_to_run_options():
    every = dict(memory=True, threads=True, quiet=True, tmp_dir=True, batch_size=True,
                 batch_tokens=True, strict=True, fresh=True, engine=True)
    assert _parse([], **every) == RunOptions()
    assert _parse([]) == RunOptions()
    got = _parse(["--memory", "300M", "--num-proc", "2", "--tmp-dir", "t", "--batch-size", "7",
                  "--batch-tokens", "99", "-q", "--strict", "--fresh", "--engine", "ray",
                  "--address", "auto"], **every)
    assert got == RunOptions(num_proc=2, memory_bytes=300 << 20, batch_size=7, batch_tokens=99,
                             tmp_dir="t", quiet=True, strict=True, resume=False, engine="ray",
                             address="auto")


def test_bad_run_flags_are_one_line_errors():
    with pytest.raises(CoocError, match="num_proc must be an int >= 0"):
        _parse(["--num-proc", "-2"])
    with pytest.raises(CoocError, match="cannot read a memory size from 'lots'"):
        _parse(["--memory", "lots"])


def _flags(parser: argparse.ArgumentParser, path=()):
    """{command path: {option string: action}} of the whole `cooc` parser."""
    out = {path: {o: a for a in parser._actions for o in a.option_strings}}
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                out.update(_flags(sub, (*path, name)))
    return out


RUN_FLAGS = {  # every command's run flags: the same spelling, default and help everywhere
    ("build",): {"--memory", "--num-proc", "--tmp-dir", "--batch-size", "--quiet", "-q",
                 "--strict", "--fresh", "--engine", "--address"},
    ("tokenize",): {"--memory", "--num-proc", "--batch-size", "--quiet", "-q"},
    ("merge",): {"--memory", "--num-proc", "--quiet", "-q"},
    ("ngram", "count"): {"--memory", "--num-proc", "--tmp-dir", "--batch-size",
                         "--batch-tokens", "--quiet", "-q"},
    ("lm", "estimate"): {"--memory", "--num-proc", "--tmp-dir", "--batch-size",
                         "--batch-tokens", "--quiet", "-q"},
    ("lm", "score"): {"--num-proc"},
}


def test_every_command_has_the_same_run_flags():
    flags = _flags(cli_parser())
    seen: dict[str, tuple] = {}
    for command, want in RUN_FLAGS.items():
        have = flags[command]
        assert want <= set(have), (command, want - set(have))
        for f in want - {"--engine", "--address"}:
            a = have[f]
            # (the engine notes are the one addition, on commands with --engine)
            key = (a.dest, a.default, a.help.split("; --engine")[0].removesuffix(")"))
            assert seen.setdefault(f, key) == key, (command, f)
    assert flags[("lm", "score")]["--num-proc"].default == 0  # was 1: all cores, as elsewhere
    assert flags[("ngram", "count")]["--memory"].default is None  # was 1G: a quarter of RAM


# --- errors below the CLI name parameters, not flags -------------------------------------------

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}


def _cooc_flags() -> set[str]:
    return {o for opts in _flags(cli_parser()).values() for o in opts if o.startswith("--")}


def _message_nodes(tree: ast.AST):
    """Raise statements, logging calls and calls of check helpers (which raise their text)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            yield node
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name.lstrip("_").startswith("check") or (
                    isinstance(f, ast.Attribute) and name in _LOG_CALLS
                    and getattr(f.value, "id", "") in ("log", "logger", "logging")):
                yield node


def flags_in_messages(root: Path, cooc_flags: set[str]) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _message_nodes(tree):
            for c in ast.walk(node):
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    named = [f for f in _FLAG.findall(c.value) if f in cooc_flags]
                    if named:
                        found.append(f"{path.relative_to(root)}:{c.lineno}: {', '.join(named)}")
    return found


def test_errors_below_the_cli_name_parameters_not_flags():
    """An error raised by the library speaks of its parameters (`radius`, `k`); the flags
    (`--radius`, `--top-k`) are the CLI's, spelled the same with - for _."""
    found = flags_in_messages(SRC, _cooc_flags())
    assert not found, "flags named in messages below the CLI:\n" + "\n".join(found)


def test_the_flag_check_finds_a_flag(tmp_path):
    """The check above is not vacuous: a module that raises about --radius is caught, one in
    cli/ is not, and a flag that is not cooc's (pip's) is not."""
    (tmp_path / "cli").mkdir()
    bad = 'def f(r):\n    if r < 0:\n        raise ValueError(f"--radius must be >= 0, got {r}")\n'
    (tmp_path / "mod.py").write_text(bad + 'def g():\n    log.warning("give more --memory")\n'
                                     'def h():\n    _check_int("--top-k", 0, 1)\n'
                                     'def i():\n    raise OSError("pip install --force-reinstall x")\n')
    (tmp_path / "cli" / "c.py").write_text(bad)
    assert flags_in_messages(tmp_path, _cooc_flags()) == [
        "mod.py:3: --radius", "mod.py:5: --memory", "mod.py:7: --top-k"]
