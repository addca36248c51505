"""The architecture contracts of ``pyproject.toml`` ([tool.importlinter]), checked by import-linter.

- the core (``geoembed``) never imports a plugin package, not even lazily inside a function: plugins are reached
  through registries and entry points only;
- the shared top-level modules (registry, weights, cache, coords, io, atomic, progress, errors) do not import the
  packages of one kind of component (location_encoders, image_backbones, concepts, retrieval, downstream, commands).

A second test plants violations in a copy of the package and shows that the same contracts catch them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="the architecture contracts need import-linter (the core's test extra)")

REPO = Path(__file__).resolve().parents[1]
CORE_PLUGIN_CONTRACT = "core-imports-no-plugin"
SHARED_CONTRACT = "shared-modules-below-kinds"


def lint(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter with ``root``'s pyproject.toml on the ``geoembed`` package found in ``root``."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_core_keeps_its_import_contracts():
    result = lint(REPO)
    assert result.returncode == 0, f"import-linter found a broken contract:\n{result.stdout}\n{result.stderr}"
    assert "2 kept, 0 broken" in result.stdout


def test_every_plugin_package_is_forbidden_to_the_core():
    """A new plugin under plugins/ must be added to the contract; the check reads the packages from the folders."""
    packages = {p.parent.name for p in REPO.glob("plugins/*/geoembed_*/__init__.py")}
    assert packages >= {"geoembed_geoclip", "geoembed_satclip"}, packages
    forbidden = set(contracts()[CORE_PLUGIN_CONTRACT]["forbidden_modules"])
    assert packages <= forbidden, f"plugin packages missing from the contract: {sorted(packages - forbidden)}"


def test_planted_violations_are_caught(tmp_path):
    """A copy of the package with a plugin import inside a function and a shared module importing a kind package."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "geoembed", tmp_path / "geoembed", ignore=shutil.ignore_patterns("__pycache__", "data"))
    clean = lint(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # the copy itself keeps the contracts

    io_module = tmp_path / "geoembed" / "io.py"
    io_module.write_text(io_module.read_text() + "\n\ndef _planted():\n    from geoembed_satclip import model\n\n"
                         "    return model\n")
    atomic = tmp_path / "geoembed" / "atomic.py"
    atomic.write_text(atomic.read_text() + "\n\ndef _planted():\n    import geoembed.concepts.bank\n")
    broken = lint(tmp_path)
    out = broken.stdout
    assert broken.returncode == 1, out + broken.stderr
    assert "0 kept, 2 broken" in out
    assert "geoembed is not allowed to import geoembed_satclip" in out and "geoembed.io -> geoembed_satclip" in out
    assert "geoembed.atomic is not allowed to import geoembed.concepts" in out


def test_a_plugin_import_anywhere_in_the_core_is_caught(tmp_path):
    """The reference plugin, imported at module level from a kind package (the edge this contract exists for)."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "geoembed", tmp_path / "geoembed", ignore=shutil.ignore_patterns("__pycache__", "data"))
    target = tmp_path / "geoembed" / "concepts" / "text_encoders.py"
    target.write_text(target.read_text().replace("from geoembed.cache import DiskCache",
                                                 "from geoembed.cache import DiskCache\nimport geoembed_geoclip.weights",
                                                 1))
    broken = lint(tmp_path)
    assert broken.returncode == 1
    assert "geoembed.concepts.text_encoders -> geoembed_geoclip" in broken.stdout
