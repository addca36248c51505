"""explain_task: a standardised linear probe on concept features explains a downstream task, drawn as a chart.

The encoder is a tiny made-up one whose four outputs are named concepts (``feature_names``), and the task's target
is built from two of them, so the right explanation is known.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import torch

import geoembed
from geoembed.concepts import ConceptBank, LinearConceptProjection, location_space
from geoembed.concepts.projection import clear_built_projections
from geoembed.downstream.tasks import Task
from geoembed.errors import ConceptBankError
from geoembed.geo import sample_land_points
from geoembed.registry import concept_projections


class NamedConceptEncoder(geoembed.LocationEncoder):
    """Four named outputs: how far north, how far east, how tropical, and a wiggle unrelated to both."""

    embedding_dim = 4
    feature_names = ("northness", "eastness", "tropicality", "wiggle")

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        lat, lon = latlon[:, 0], latlon[:, 1]
        return torch.stack([lat / 90, lon / 180, torch.cos(torch.deg2rad(lat)) ** 8, torch.sin(lon / 7)], dim=1)


def make_task(kind: str = "regression") -> Task:
    latlon = sample_land_points(400, seed=5)
    rng = np.random.default_rng(0)
    lat = latlon[:, 0]
    value = 2.0 * lat / 90 - 1.0 * np.cos(np.deg2rad(lat)) ** 8 + rng.normal(scale=0.1, size=len(lat))
    target = value if kind == "regression" else np.where(lat > 0, "north", "south")
    data = gpd.GeoDataFrame({"y": target}, geometry=gpd.points_from_xy(latlon[:, 1], latlon[:, 0]), crs="EPSG:4326")
    return Task(name=f"toy_{kind}", data=data, target="y", kind=kind, block_size_deg=20.0)


def test_explains_a_regression_task_by_its_concepts(tmp_path):
    result = geoembed.explain_task(make_task(), encoder=NamedConceptEncoder(), out=tmp_path / "chart.png", top_n=2)
    table = result.coefficients
    assert list(table.columns) == ["concept", "coefficient"] and len(table) == 4
    assert table.loc[0, "concept"] == "northness" and table.iloc[-1]["concept"] == "tropicality"
    assert abs(table.set_index("concept").loc["wiggle", "coefficient"]) < 0.1
    assert result.cv_metric == "r2" and result.cv_score > 0.8  # the probe predicts held-out blocks
    assert result.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "NamedConceptEncoder concept activations" in result.features
    assert list(result.top(1)["concept"]) == ["northness", "tropicality"]
    strong = geoembed.explain_task(make_task(), encoder=NamedConceptEncoder(), alpha=1e4)
    assert strong.alpha == 1e4 and strong.coefficients["coefficient"].abs().max() < table["coefficient"].abs().max()
    with pytest.raises(ValueError, match="alpha"):
        geoembed.explain_task(make_task(), encoder=NamedConceptEncoder(), alpha=-1)


def test_explains_a_classification_task():
    task = make_task("classification")
    result = geoembed.explain_task(task, encoder=NamedConceptEncoder())
    assert result.target == "y = south" and result.cv_metric == "roc_auc" and result.cv_score > 0.9
    assert result.coefficients.iloc[-1]["concept"] == "northness"  # "south" goes with low northness
    north = geoembed.explain_task(task, encoder=NamedConceptEncoder(), target_class="north")
    assert north.coefficients.loc[0, "concept"] == "northness"
    with pytest.raises(ValueError, match="not a class"):
        geoembed.explain_task(task, encoder=NamedConceptEncoder(), target_class="east")


def test_an_encoder_without_feature_names_needs_a_bank():
    task = make_task()
    with pytest.raises(ConceptBankError, match="no feature_names.*bank="):
        geoembed.explain_task(task, encoder="rff")
    model = geoembed.create_location_encoder("rff")
    projection = LinearConceptProjection(np.random.default_rng(0).normal(size=(model.embedding_dim, 8)),
                                         source_space=location_space(model), target_space="text:toy")
    bank = ConceptBank.from_array([f"c{i}" for i in range(6)], np.random.default_rng(1).normal(size=(6, 8)),
                                  space="text:toy")
    geoembed.register_concept_projection("toy_projection", projection)
    try:
        result = geoembed.explain_task(task, encoder="rff", bank=bank, standardize=True, reference=100)
    finally:
        concept_projections.unregister("toy_projection")
        clear_built_projections()
    assert sorted(result.coefficients["concept"]) == bank.names
    assert "a bank (6 concepts) through 'toy_projection'" in result.features
