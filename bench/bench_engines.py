"""Engines benchmark: the same store built by the local engine and by `--engine ray` on a
local Ray cluster (this machine), wall time of each and whether the index bytes are equal.

A synthetic Zipf store (see bench_scale.py) is cut into shards of `--shard-tokens`, one map
task each. Ray's time includes starting the local cluster (`ray_start_s` says how much).

    python bench/bench_engines.py --tokens 20e6 --shard-tokens 2e6 --memory 2G
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import make_store  # noqa: E402


def build(store: Path, out: Path, memory: str, extra: list[str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "cooc", "build", str(store),
           "-o", str(out), "--memory", memory, "--fresh", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"build failed:\n{p.stderr[-3000:]}")
    wall, rss_kb = p.stderr.strip().splitlines()[-1].split()
    return {"seconds": float(wall), "driver_peak_rss_mb": int(rss_kb) / 1024}


def ray_start_seconds() -> float:
    code = ("import time, ray; t = time.perf_counter(); ray.init(include_dashboard=False); "
            "print(time.perf_counter() - t); ray.shutdown()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(p.stdout.strip().splitlines()[-1])


def same_bytes(a: Path, b: Path) -> bool:
    return all((a / f.name).read_bytes() == f.read_bytes() for f in sorted(b.iterdir()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=float, default=20e6)
    ap.add_argument("--shard-tokens", type=float, default=2e6)
    ap.add_argument("--memory", default="2G", help="local: the process; ray: each task")
    ap.add_argument("--work", default="/var/tmp/cooc-engines")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    n, shard = int(args.tokens), int(args.shard_tokens)
    store = make_store(work / f"zipf-{n}-{shard}.tokens", n, shard_tokens=shard)
    res = {"tokens": n, "shard_tokens": shard, "memory": args.memory}
    res["local"] = build(store, work / "local.cooc", args.memory, [])
    res["ray"] = build(store, work / "ray.cooc", args.memory, ["--engine", "ray"])
    res["ray_start_s"] = ray_start_seconds()
    res["identical"] = same_bytes(work / "local.cooc", work / "ray.cooc")
    res["ray_over_local"] = res["ray"]["seconds"] / res["local"]["seconds"]
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
