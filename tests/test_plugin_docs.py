"""The complete minimal plugin shown in docs/plugins.md, built from the page's own text, installs and registers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import geoembed
from geoembed.cli import main
from geoembed.testing import check_plugin

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def files_in_doc() -> dict[str, str]:
    """``{relative path: text}`` for each code block that a line of the form `` `path`: `` introduces."""
    pattern = re.compile(r"^`(geoembed-unit-sphere/[^`]+)`:\n\n```\w*\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return {path: body for path, body in pattern.findall(DOC.read_text(encoding="utf-8"))}


def test_the_doc_shows_both_files():
    assert set(files_in_doc()) == {"geoembed-unit-sphere/pyproject.toml", "geoembed-unit-sphere/geoembed_unit_sphere.py"}


@pytest.mark.slow
def test_the_documented_plugin_installs_registers_and_conforms(tmp_path, monkeypatch):
    pytest.importorskip("setuptools")
    for relative, text in files_in_doc().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    target = tmp_path / "site"
    # offline: no index, no build isolation (setuptools from this environment), no dependencies (geoembed is here)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
                    "--no-deps", "--target", str(target), str(tmp_path / "geoembed-unit-sphere")],
                   check=True, capture_output=True, timeout=300)
    monkeypatch.syspath_prepend(str(target))
    try:
        geoembed.refresh_plugins()
        assert "unit_sphere" in geoembed.list_location_encoders()
        assert "is_location_encoder" in check_plugin("location encoder", "unit_sphere")
        emb = geoembed.encode_location(lat=[90.0, 0.0], lon=[0.0, 90.0], encoder="unit_sphere")
        np.testing.assert_allclose(emb, [[0, 0, 1], [0, 1, 0]], atol=1e-6)
        cities = Path(__file__).resolve().parents[1] / "examples" / "cities.csv"  # the doc's shell example
        assert main(["encode", str(cities), "-o", str(tmp_path / "cities.parquet"), "--encoder", "unit_sphere",
                     "--no-progress"]) == 0
    finally:
        monkeypatch.undo()
        geoembed.refresh_plugins()
    assert "unit_sphere" not in geoembed.list_location_encoders()


def test_the_register_in_code_example_runs_as_written():
    from geoembed.registry import location_encoders

    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"^## Registering in code\n\n```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL).group(1)
    namespace: dict = {}
    try:
        exec(compile(code, str(DOC), "exec"), namespace)  # the snippet registers 'unit_vector' and encodes a point
        emb = geoembed.encode_location(lat=[0.0, 90.0], lon=[90.0, 0.0], encoder="unit_vector")
        np.testing.assert_allclose(emb, [[0, 1, 0], [0, 0, 1]], atol=1e-6)
    finally:
        if "unit_vector" in location_encoders.names():
            location_encoders.unregister("unit_vector")
