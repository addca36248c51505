import sys
from pathlib import Path

# the plugin's package, importable without installation (an installed copy takes precedence only if first on the path)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoembed.testing import offline_and_isolated_cache  # noqa: E402,F401  (autouse: offline, empty cache)
