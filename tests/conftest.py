import os
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

# tests import the slow references as plain modules
sys.path.insert(0, str(Path(__file__).parent))

# first-use checksum stamps (cooc.formats.checked) go to a folder of this run, not ~/.cache
os.environ.setdefault("COOC_CACHE_DIR", tempfile.mkdtemp(prefix="cooc-test-cache-"))

# numba compiles on first call, so per-example deadlines measure the compiler, not the code
settings.register_profile(
    "cooc", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile("ci", parent=settings.get_profile("cooc"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "cooc"))
