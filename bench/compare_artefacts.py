"""Did a change alter any result? Build every artefact kind with two checkouts, compare bytes.

    PYTHONPATH=src python bench/compare_artefacts.py --base /work/base [--new .] [--mb 1]
    PYTHONPATH=src python bench/compare_artefacts.py --base-commit 83c4162

Checkouts. --new is a checkout folder (default: the one holding this script). The base is
--base FOLDER, or else a detached `git worktree` of --base-commit (default: HEAD) of the new
checkout's repository, made under the temp folder and removed at the end. Each checkout runs
as `PYTHONPATH=<checkout>/src python -m cooc ...` (this Python, a fresh process per command,
-q, the same --memory and --num-proc for both), with its own empty numba cache under the
temp folder (so neither checkout gets cache files written into it, and both start cold).

Data (written once, read by both): --mb MB of whole documents of the shared English corpus
as one .txt (bench/common.py's english_slices: whitespace-normalised, one document a line,
<s> </s> <unk> dropped) and --mb MB of whole lines of zh/zh_linux_doc_zh.jsonl (lines
holding a reserved word dropped) as a gzip JSONL, in TMP/data/.

Artefacts (steps interleaved: base, new, base, new, ...; each checkout works in its own
folder TMP/<base|new>/ and is given the same relative paths, so the input and output paths
recorded in the manifests are the same strings on both sides):

    windows.cooc   cooc build ../data (qwen, windows of 128)
    harmonic.cooc  cooc build ../data --tokenizer whitespace --context-length 0
                   --count-mode harmonic --radius 10 --include-self --min-count 2
    tokens.store   cooc tokenize ../data
    store.cooc     cooc build tokens.store
    x.ngrams       cooc ngram count ../data --order 4
    x.arpa         cooc lm estimate ../data --order 4 (whitespace)
    x.lm           cooc lm index x.arpa (8-bit quantization)

Output: one row per file (the union of both sides): artefact, file, equal, short sha256 of
each side, and for manifest.json the JSON paths whose values differ (a recursive diff that
ignores nothing; renamed or added keys show as "only in base"/"only in new"). Fields that
legitimately depend on where and when a build ran (input paths, input file mtimes, the cooc
version string, anything named like a time, date, host or pid) are marked with `*` and
listed after the table; in this setup the paths and mtimes are equal by construction. Then
wall seconds per step and checkout (cold numba cache included).

Exit status: 1 if any data file (anything but manifest.json) differs or is missing on one
side, or a command failed; manifest-only differences are reported and exit 0. Skips (exit 0)
when the shared corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESERVED_WORDS, SHARED, english_slices, run_cpu  # noqa: E402

ZH_FILE = SHARED / "zh" / "zh_linux_doc_zh.jsonl"
WINDOWS, HARMONIC, STORE, FROM_STORE = "windows.cooc", "harmonic.cooc", "tokens.store", "store.cooc"
NGRAMS, ARPA, TRIE = "x.ngrams", "x.arpa", "x.lm"
DATA = "../data"  # relative to each checkout's work folder: the same string on both sides


def steps(memory: str, num_proc: int) -> list[tuple[str, str, list[str]]]:
    """(artefact label, output path, cooc argv) in dependency order."""
    run = ["-q", "--memory", memory, "--num-proc", str(num_proc)]
    return [
        ("index (windows)", WINDOWS, ["build", DATA, "-o", WINDOWS, *run]),
        ("index (harmonic)", HARMONIC,
         ["build", DATA, "-o", HARMONIC, "--tokenizer", "whitespace", "--context-length", "0",
          "--count-mode", "harmonic", "--radius", "10", "--include-self", "--min-count", "2", *run]),
        ("token store", STORE, ["tokenize", DATA, "-o", STORE, *run]),
        ("index from store", FROM_STORE, ["build", STORE, "-o", FROM_STORE, *run]),
        ("n-grams", NGRAMS, ["ngram", "count", DATA, "-o", NGRAMS, "--order", "4", *run]),
        ("ARPA", ARPA, ["lm", "estimate", DATA, "-o", ARPA, "--order", "4", *run]),
        ("LM trie", TRIE, ["lm", "index", ARPA, "-o", TRIE]),
    ]


# --- data -------------------------------------------------------------------------------

def write_data(folder: Path, mb: float) -> str:
    folder.mkdir(parents=True)
    en_bytes, en_docs, _ = english_slices(mb, 0, folder / "en.txt")
    limit = int(mb * 1e6)
    size = zh_docs = 0
    # mtime=0 and no file name in the header: the same bytes every run
    with open(ZH_FILE, "rb") as src, open(folder / "zh.jsonl.gz", "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as out:
        for line in src:
            if size >= limit:
                break
            if RESERVED_WORDS.intersection(json.loads(line)["text"].split()):
                continue
            out.write(line)
            size += len(line)
            zh_docs += 1
    return (f"en.txt {en_bytes / 1e6:.2f} MB ({en_docs} documents), zh.jsonl.gz "
            f"{size / 1e6:.2f} MB uncompressed ({zh_docs} documents)")


# --- running ----------------------------------------------------------------------------

def cooc_cmd(checkout: Path, workdir: Path, numba_cache: Path, argv: list[str]) -> list[str]:
    # `env -C` sets the working folder: run_cpu (common.py) takes a bare command line
    return ["env", "-C", str(workdir), f"PYTHONPATH={checkout / 'src'}",
            f"NUMBA_CACHE_DIR={numba_cache}", "PYTHONDONTWRITEBYTECODE=1",
            sys.executable, "-m", "cooc", *argv]


def git_worktree(repo: Path, commit: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(where),
                    commit], check=True)
    return where


def drop_worktree(repo: Path, where: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(where)],
                   check=False)


# --- comparing --------------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_of(path: Path) -> dict[str, Path]:
    """Relative name -> file, for a file or a folder artefact ({} when absent)."""
    if path.is_file():
        return {path.name: path}
    if path.is_dir():
        return {str(p.relative_to(path)): p for p in sorted(path.rglob("*")) if p.is_file()}
    return {}


def json_diff(a, b, path: str = "") -> list[tuple[str, str]]:
    """(JSON path, what differs) for every leaf or key that differs; ignores nothing."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            p = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append((p, "only in base"))
            elif k not in a:
                out.append((p, "only in new"))
            else:
                out += json_diff(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += json_diff(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            out.append((path, f"length {len(a)} vs {len(b)}"))
        return out
    if a == b and type(a) is type(b):
        return []
    return [(path, f"{_short(a)} vs {_short(b)}")]


def _short(v) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 40 else s[:37] + "..."


def leaf_paths(v, path: str = "") -> list[str]:
    if isinstance(v, dict):
        return [q for k, x in v.items() for q in leaf_paths(x, f"{path}.{k}" if path else str(k))]
    if isinstance(v, list):
        return [q for i, x in enumerate(v) for q in leaf_paths(x, f"{path}[{i}]")]
    return [path]


# fields that depend on where / when / with which version a build ran, not on what it computed
VOLATILE = [
    (re.compile(r"(^|\.)corpus\.(source|files|token_store)(\[\d+\])?$"), "input path"),
    (re.compile(r"(^|\.)fingerprint\.files\[\d+\]\[0\]$"), "input path"),
    (re.compile(r"(^|\.)fingerprint\.files\[\d+\]\[2\]$"), "input file mtime (ns)"),
    (re.compile(r"(^|\.)(created_by|cooc_version)$"), "cooc version string"),
    (re.compile(r"(?i)(^|[._])(times?|timings?|timestamp|date|created_at|mtime\w*|host\w*|pid)"
                r"($|[._\[])"), "time/host"),
]


def volatile(path: str) -> str:
    return next((why for rx, why in VOLATILE if rx.search(path)), "")


def compare(label: str, a: Path, b: Path, volatile_seen: dict[str, set[str]]) -> tuple[list, bool]:
    """Table rows for one artefact, and whether a data file differs."""
    fa, fb = files_of(a), files_of(b)
    rows, bad = [], False
    for name in sorted(set(fa) | set(fb), key=lambda n: (n.endswith("manifest.json"), n)):
        ha = sha256(fa[name]) if name in fa else "(missing)"
        hb = sha256(fb[name]) if name in fb else "(missing)"
        equal = name in fa and name in fb and ha == hb
        note = ""
        if Path(name).name == "manifest.json":
            note = manifest_note(label, fa.get(name), fb.get(name), volatile_seen)
        elif not equal:
            bad = True
        rows.append((label, name, "yes" if equal else "NO", ha[:12], hb[:12], note))
    if not fa and not fb:
        rows.append((label, "(nothing written)", "NO", "(missing)", "(missing)", ""))
        bad = True
    return rows, bad


def manifest_note(label: str, a: Path | None, b: Path | None,
                  volatile_seen: dict[str, set[str]]) -> str:
    """The differing JSON paths of two manifests ("" if none); records their volatile fields."""
    if a is None or b is None:
        return f"only in {'base' if b is None else 'new'}"
    try:
        ja, jb = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    except ValueError as e:
        return f"not JSON: {e}"
    for j in (ja, jb):
        for p in leaf_paths(j):
            if why := volatile(p):
                volatile_seen.setdefault(f"{why}: {_generic(p)}", set()).add(label)
    return "; ".join(f"{p}{'*' if volatile(p) else ''}: {d}" for p, d in json_diff(ja, jb))


def _generic(path: str) -> str:
    """meta.corpus.files[3] -> meta.corpus.files[i]; fingerprint.files[3][2] -> ...files[i][2]."""
    return re.sub(r"(?<=[A-Za-z_])\[\d+\]", "[i]", path)


def table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, ["-" * w for w in widths] + ["-" * len(header[-1])], *rows]:
        cells = [str(c).ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [str(r[-1])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, help="base checkout folder (default: a worktree of "
                    "--base-commit)")
    ap.add_argument("--base-commit", default="HEAD", help="commit for the base worktree when "
                    "--base is not given (default: HEAD)")
    ap.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1],
                    help="new checkout folder (default: this repository)")
    ap.add_argument("--mb", type=float, default=1.0, help="MB of English and MB of Chinese text "
                    "(default: 1)")
    ap.add_argument("--memory", default="1G", help="--memory for every command (default: 1G)")
    ap.add_argument("--num-proc", type=int, default=2, help="--num-proc for every command "
                    "(default: 2)")
    ap.add_argument("--tmp", type=Path, help="work folder, kept (default: a temp folder, removed)")
    args = ap.parse_args()
    if not (SHARED / "en").is_dir() or not ZH_FILE.is_file():
        print(f"skipped: the shared corpus ({SHARED}) is absent")
        return 0
    new = args.new.resolve()
    tmp = args.tmp.resolve() if args.tmp else Path(tempfile.mkdtemp(prefix="cooc-compare-"))
    tmp.mkdir(parents=True, exist_ok=True)
    worktree = None
    try:
        if args.base:
            base = args.base.resolve()
        else:
            worktree = base = git_worktree(new, args.base_commit, tmp / "base-checkout")
        for c in (base, new):
            if not (c / "src" / "cooc" / "__init__.py").is_file():
                raise SystemExit(f"{c} is not a cooc checkout (no src/cooc/__init__.py)")
        print(f"base: {base} ({_describe(base)})\nnew:  {new} ({_describe(new)})")
        print(f"data: {write_data(tmp / 'data', args.mb)}")
        print(f"runs: --memory {args.memory} --num-proc {args.num_proc}, {sys.executable}\n")
        sides = {"base": base, "new": new}
        for side in sides:
            (tmp / side).mkdir()
        walls: list[tuple] = []
        failed: list[str] = []
        for label, out, argv in steps(args.memory, args.num_proc):
            wall = {}
            for side, checkout in sides.items():
                cmd = cooc_cmd(checkout, tmp / side, tmp / f"numba-{side}", argv)
                try:
                    wall[side] = f"{run_cpu(cmd)[0]:.1f}"
                except RuntimeError as e:
                    wall[side] = "failed"
                    failed.append(f"{side} {label}: cooc {' '.join(argv)}\n{str(e)[-2000:]}")
            walls.append((label, out, wall["base"], wall["new"], " ".join(argv)))
        rows, bad = [], bool(failed)
        volatile_seen: dict[str, set[str]] = {}
        for label, out, _ in steps(args.memory, args.num_proc):
            r, b = compare(label, tmp / "base" / out, tmp / "new" / out, volatile_seen)
            rows += r
            bad |= b
        print(table(("artefact", "file", "equal", "base", "new", "manifest differences"), rows))
        print("\n* fields that depend on where, when or with which cooc version a build ran (equal "
              "here for paths and mtimes: both sides read the same input files and are given "
              "the same relative paths):")
        for field, labels in sorted(volatile_seen.items()):
            print(f"  {field}  ({', '.join(sorted(labels))})")
        print()
        print(table(("step", "output", "base s", "new s", "cooc ..."), walls))
        # artefacts written by the base checkout, opened and verified by the new one
        opened = []
        for label, out, _ in steps(args.memory, args.num_proc):
            cmd = cooc_cmd(new, tmp / "base", tmp / "numba-new", ["verify", out])
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            said = (r.stdout + r.stderr).strip().splitlines()
            opened.append((label, out, "yes" if r.returncode == 0 else "NO", said[-1][:90] if said else ""))
            if r.returncode != 0:
                failed.append(f"new verify of base {label}: {r.stdout + r.stderr}")
        print("\nbase artefacts opened by the new code (`cooc verify`):")
        print(table(("artefact", "path", "ok", "said"), opened))
        for f in failed:
            print(f"\nFAILED {f}", file=sys.stderr)
        n_data = sum(1 for r in rows if Path(r[1]).name != "manifest.json")
        n_bad = sum(1 for r in rows if Path(r[1]).name != "manifest.json" and r[2] != "yes")
        n_man = sum(1 for r in rows if Path(r[1]).name == "manifest.json" and r[5])
        n_open = sum(1 for o in opened if o[2] == "yes")
        print(f"\n{n_data - n_bad}/{n_data} data files identical; {n_man} manifests with "
              f"differences; {n_open}/{len(opened)} base artefacts verified by the new code; "
              f"{len(failed)} failed commands -> "
              f"{'DIFFERENT' if bad or n_open < len(opened) else 'same results'}")
        return 1 if bad or n_open < len(opened) else 0
    finally:
        if worktree is not None:
            drop_worktree(new, worktree)
        if not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _describe(checkout: Path) -> str:
    r = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"],
                       capture_output=True, text=True, check=False)
    return r.stdout.strip() or "not a git checkout"


if __name__ == "__main__":
    sys.exit(main())
