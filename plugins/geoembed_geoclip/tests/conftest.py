import sys
from pathlib import Path

import pytest

# the plugin's package, importable without installation (an installed copy takes precedence only if first on the path)
PLUGIN_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PLUGIN_ROOT))

from geoembed.testing import offline_and_isolated_cache  # noqa: E402,F401  (autouse: every test offline, empty cache)

DISTRIBUTION = "geoembed-geoclip"


def declared_entry_points() -> dict[str, dict[str, str]]:
    """``{group: {name: target}}`` as this plugin's ``pyproject.toml`` declares them."""
    import tomllib

    return tomllib.loads((PLUGIN_ROOT / "pyproject.toml").read_text())["project"]["entry-points"]


@pytest.fixture
def declared():
    """The entry points this plugin's ``pyproject.toml`` declares, ``{group: {name: target}}``."""
    return declared_entry_points()


@pytest.fixture(autouse=True)
def declared_plugin_entry_points(monkeypatch):
    """The registries see this plugin's entry points as its ``pyproject.toml`` declares them.

    An install made from an older checkout (``pip install -e`` records entry points at install time) would otherwise
    test stale metadata: names declared elsewhere before they moved into this plugin, and none of the new ones. After
    a fresh install the two agree and this changes nothing.
    """
    import importlib.metadata as importlib_metadata

    from geoembed import registry

    try:
        dist = importlib_metadata.distribution(DISTRIBUTION)
    except importlib_metadata.PackageNotFoundError:  # running from a checkout only
        dist = None
    declared = declared_entry_points()
    installed = registry._entry_points

    def entry_points(group):
        names = declared.get(group, {})
        mine = []
        for name, target in names.items():
            ep = importlib_metadata.EntryPoint(name, target, group)
            mine.append(ep._for(dist) if dist is not None else ep)
        others = [ep for ep in installed(group)
                  if ep.name not in names and getattr(getattr(ep, "dist", None), "name", None) != DISTRIBUTION]
        return others + mine

    monkeypatch.setattr(registry, "_entry_points", entry_points)
    registry.refresh_plugins()
    yield
    monkeypatch.undo()
    registry.refresh_plugins()
