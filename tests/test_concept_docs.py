"""docs/concepts.md's opening snippet, taken from the page's own text, runs as written.

It needs a concept projection from pretrained GeoCLIP's space into MiniLM's. When the GeoCLIP plugin's trained
``geoclip-minilm`` is installed with its weights, that one is used; otherwise a fixed random linear map stands in
for it (the snippet's plumbing is what is tested here; the trained projection's quality is tested in the plugin).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import geoembed
from geoembed.concepts.projection import clear_built_projections, find_concept_projection
from geoembed.errors import PluginWarning
from geoembed.registry import concept_banks, concept_projections

DOC = Path(__file__).resolve().parents[1] / "docs" / "concepts.md"
MINILM_SPACE = "text:all-MiniLM-L6-v2"


def opening_snippet() -> str:
    return re.search(r"```python\n(import geoembed\n.*?)^```", DOC.read_text(encoding="utf-8"),
                     re.MULTILINE | re.DOTALL).group(1)


def test_the_snippet_uses_text_banks_to_explain_places():
    code = opening_snippet()
    assert 'ConceptBank.from_texts(["desert", "snow", "palm tree"], text_encoder="minilm")' in code
    assert 'bank="my_bank"' in code and 'bank="geography"' in code and 'method="sparse"' in code


@pytest.fixture
def geoclip_to_minilm():
    """The registered projection from GeoCLIP's space into MiniLM's, or a fixed random stand-in for the test."""
    from geoembed.concepts import LinearConceptProjection, location_space

    space = location_space(geoembed.create_location_encoder("geoclip"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # a projection plugin installed without its weights
        found = find_concept_projection(space, MINILM_SPACE)
    stand_in = None
    if found is None:
        stand_in = "stand-in-geoclip-minilm"
        weight = np.random.default_rng(0).normal(size=(512, 384))
        geoembed.register_concept_projection(
            stand_in, LinearConceptProjection(weight, source_space=space, target_space=MINILM_SPACE))
    yield stand_in or found[0]
    if stand_in is not None:
        concept_projections.unregister(stand_in)
    clear_built_projections()


@pytest.mark.slow
def test_the_opening_snippet_runs_as_written(monkeypatch, geoclip_to_minilm):
    monkeypatch.setattr("geoembed.concepts.scoring.REFERENCE_POINTS", 500)  # 10,000 by default: same code, faster
    namespace: dict = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)
            exec(compile(opening_snippet(), str(DOC), "exec"), namespace)
        sahara = geoembed.explain_location(lat=23.0, lon=12.0, bank="my_bank", reference=200, standardize=True)
        assert set(sahara["concept"]) == {"desert", "snow", "palm tree"} and "raw_score" in sahara
        assert sahara.attrs["projection"] == geoclip_to_minilm
    finally:
        if "my_bank" in concept_banks.names():
            concept_banks.unregister("my_bank")
    assert len(namespace["bank"]) == 3


@pytest.mark.slow
def test_cli_explains_a_place_with_the_geography_bank(geoclip_to_minilm, capsys):
    from geoembed.cli import main

    assert main(["explain", "--lat", "48.857", "--lon", "2.352", "--bank", "geography", "--reference", "200",
                 "--top-k", "3", "--standardize"]) == 0
    out = capsys.readouterr().out
    assert f"through the concept projection {geoclip_to_minilm!r}" in out and "z-score against 200" in out
    assert main(["explain", "--lat", "48.857", "--lon", "2.352", "--bank", "geography", "--reference", "200",
                 "--method", "sparse"]) == 0
    assert "reconstruction_cosine" in capsys.readouterr().out
