"""The examples run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_walkthrough_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run([sys.executable, str(EXAMPLES / "walkthrough.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "built" in p.stdout and "is 2 tokens, not one" in p.stdout
    for name in ("pydoc.cooc", "pydoc.pkl", "pydoc.tsv", "pydoc.parquet"):
        assert (tmp_path / name).exists()
