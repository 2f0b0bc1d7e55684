"""Corpus files for the curation tests: written in every input format, outputs read back."""

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_corpus(folder: Path, texts: list[str], fmt: str, bad_every: int = 0,
                 split: int | list[int] | None = None) -> list[Path]:
    """texts split into files at `split` (an index or a list of them; default: two files,
    at half) of format fmt (jsonl, jsonl.gz, jsonl.zst, parquet, txt), each record with an
    id field; with bad_every, a malformed line every so many (not for parquet)."""
    folder.mkdir(parents=True, exist_ok=True)
    cuts = [len(texts) // 2] if split is None else [split] if isinstance(split, int) else split
    bounds = [0, *sorted(cuts), len(texts)]
    paths = []
    for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        chunk = texts[lo:hi]
        path = folder / f"part{part}.{fmt}"
        ids = [f"{part}-{i}" for i in range(len(chunk))]
        if fmt == "parquet":
            pq.write_table(pa.table({"id": ids, "text": chunk, "n": list(range(len(chunk)))}),
                           path)
        else:
            lines = []
            for i, (id_, t) in enumerate(zip(ids, chunk, strict=True)):
                if bad_every and i % bad_every == 1:
                    lines.append("{not json" if fmt != "txt" else "\udcff")
                lines.append(json.dumps({"id": id_, "text": t, "meta": {"k": [1, 2]}})
                             if fmt != "txt" else t.replace("\n", " "))
            data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
            if fmt.endswith(".gz"):
                data = gzip.compress(data, mtime=0)
            elif fmt.endswith(".zst"):
                import zstandard

                data = zstandard.ZstdCompressor().compress(data)
            path.write_bytes(data)
        paths.append(path)
    return paths


def read_output(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".zst":
        import zstandard

        # every frame: the writer starts a new frame at each checkpoint
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data),
                                                        read_across_frames=True) as r:
            data = r.read()
    return [json.loads(line) for line in io.BytesIO(data)]


def run_texts(out: Path) -> dict[str, list[dict]]:
    return {str(p.relative_to(out)): read_output(p) for p in sorted(out.rglob("part*"))}


class Killed(Exception):
    pass


class DiesInDecide:
    """Wraps a step; raises after `k` decided batches, like a kill mid-write."""

    def __init__(self, step, k):
        self.step, self.k = step, k
        self.name, self.reasons, self.needs_fit = step.name, step.reasons, step.needs_fit
        self.writes_scores = getattr(step, "writes_scores", False)
        self.edits_text = getattr(step, "edits_text", False)

    def setup(self, memory, scratch):
        if hasattr(self.step, "setup"):
            self.step.setup(memory, scratch)

    def fit(self, batches):
        self.step.fit(batches)

    def decide(self, batch):
        if self.k == 0:
            raise Killed
        self.k -= 1
        return self.step.decide(batch)

    def report(self):
        return self.step.report()
