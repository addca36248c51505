"""Every registered plugin, ours and third parties' alike, passes geoembed's contract checks (``geoembed.testing``).

The cases are collected from the registries, so a newly installed plugin is checked without editing this file, and a
broken one fails a test that carries its kind and name (``test_plugin_conforms[location encoder:geoclip]``), as
timm's and scikit-learn's suites do for their models and estimators. Each plugin is built offline: with random
weights where it has pretrained ones (``pretrained=False``), with the few arguments listed in ``OFFLINE_ARGUMENTS``
where its factory needs some.
"""

from __future__ import annotations

import inspect

import pytest

from geoembed import registry
from geoembed.testing import check_plugin

# Plugins whose factory needs arguments to build offline (a model name, a folder), by (kind, name).
OFFLINE_ARGUMENTS = {
    ("text encoder", "sentence_transformers"): lambda: {"model": _minilm_folder()},
    ("image backbone", "geoclip"): lambda: {"pretrained": False, "clip_pretrained": None},
    ("text encoder", "geoclip"): lambda: {"pretrained": False, "clip_pretrained": None},
}

# Known, documented departures from the contract, by (kind, name): the test expects them to fail (strict xfail), so
# a fix is noticed.
KNOWN_DEPARTURES = {
    ("location encoder", "torchspatial-tile-ffn.fmow"):
        "the published model builds its lookup grid from a single tile, so it gives one embedding everywhere "
        "(docs/zoo.md, 'tile-ffn.fmow gives the same embedding everywhere'); kept faithful to the reference",
}

# Slow to build with random weights (hundreds of millions of parameters): checked under -m slow.
SLOW = {("image backbone", "geoclip"), ("text encoder", "geoclip"), ("image backbone", "open_clip"),
        ("text encoder", "open_clip")}


def _minilm_folder() -> str:
    from importlib import metadata

    from geoembed.concepts.text_encoders import MINILM_DISTRIBUTION, MINILM_FOLDER

    return str(metadata.distribution(MINILM_DISTRIBUTION).locate_file(MINILM_FOLDER))


def _cases():
    kinds = {r.kind: r for r in registry.REGISTRIES.values()}
    for kind in ("location encoder", "image backbone", "text encoder", "concept bank", "task", "gallery",
                 "concept projection"):
        for name in kinds[kind].names():
            marks = []
            if (kind, name) in KNOWN_DEPARTURES:
                marks.append(pytest.mark.xfail(reason=KNOWN_DEPARTURES[(kind, name)], strict=True))
            if (kind, name) in SLOW:
                marks.append(pytest.mark.slow)
            yield pytest.param(kind, name, marks=marks, id=f"{kind}:{name}")


def _offline_arguments(kind: str, name: str) -> dict:
    if (kind, name) in OFFLINE_ARGUMENTS:
        return OFFLINE_ARGUMENTS[(kind, name)]()
    factory = {r.kind: r for r in registry.REGISTRIES.values()}[kind].get(name)
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {"pretrained": False} if "pretrained" in parameters else {}


@pytest.mark.parametrize("kind, name", list(_cases()))
def test_plugin_conforms(kind, name):
    passed = check_plugin(kind, name, **_offline_arguments(kind, name))
    assert passed[:2] == ["registered", "loads"] and len(passed) > 3
