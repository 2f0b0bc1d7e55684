"""Bounded memory: build the whole corpus under --memory and check the index is unchanged.

    python bench/bench_memory.py --data ../shared/corpus/en --memory 256M

Runs `cooc build` twice in separate processes (default budget, then --memory), reports each
peak RSS, time and spill count, and compares the index arrays byte for byte.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, run_measured  # noqa: E402


def arrays(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.bin"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=[str(SHARED / "en")])
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--num-proc", default="2")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cooc-mem-"))
    py = sys.executable
    res = {}
    for name, extra in (("default", []), ("bounded", ["--memory", a.memory])):
        out = tmp / f"{name}.cooc"
        wall, rss, _ = run_measured([py, "-m", "cooc", "build", *a.data, "-o", str(out),
                                     "--num-proc", a.num_proc, *extra])
        _, _, stdout = run_measured([py, "-m", "cooc", "stats", str(out), "--json"])
        stats = json.loads(stdout)
        res[name] = {"seconds": round(wall, 2), "peak_rss_mb": round(rss, 1),
                     "tokens": stats["tokens"], "pairs": stats["pairs"],
                     "bytes_per_entry": round(stats["bytes_per_entry"], 3)}
    # the same bounded build through the API, for its spill count
    _, _, stdout = run_measured([py, "-c", (
        "import cooc,sys;from cooc.cooccur.config import *;from cooc.options import *;"
        f"r=cooc.build({a.data!r}, {str(tmp / 'again.cooc')!r}, BuildConfig(), "
        f"RunOptions(quiet=True, num_proc={a.num_proc}, memory_bytes=parse_bytes({a.memory!r})));"
        "print(r.spills, r.spilled_bytes)")])
    spills, spilled = stdout.split()
    res["bounded"]["spills"], res["bounded"]["spilled_mb"] = int(spills), int(spilled) >> 20
    res["identical_index"] = arrays(tmp / "default.cooc") == arrays(tmp / "bounded.cooc")
    limit = int(re.sub(r"[^0-9]", "", a.memory)) * (1 << 20 if a.memory.upper().endswith("M") else 1 << 30)
    res["bounded"]["rss_over_budget"] = round(res["bounded"]["peak_rss_mb"] * (1 << 20) / limit, 3)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
