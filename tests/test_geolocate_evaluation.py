"""Geo-localization accuracy (geoembed.retrieval.evaluation): accuracy at 1/25/200/750/2500 km, of query embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from geoembed.geo import haversine_km
from geoembed.retrieval.evaluation import accuracy_at, evaluate_embeddings


def test_accuracy_at_thresholds():
    true = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # about 0 km, 111 km and 1112 km from the truth
    predicted = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    result = accuracy_at(predicted, true)
    assert result["acc@1km"] == pytest.approx(1 / 3)
    assert result["acc@200km"] == pytest.approx(2 / 3)
    assert result["acc@2500km"] == 1.0
    assert result["median_km"] == pytest.approx(111.19, rel=1e-3) and result["n"] == 3
    with pytest.raises(ValueError, match="same shape"):
        accuracy_at(predicted[:2], true)


def test_evaluate_embeddings_places_each_query_at_its_best_gallery_row():
    rng = np.random.default_rng(4)
    latlon = np.column_stack([rng.uniform(-60, 60, 200), rng.uniform(-180, 180, 200)])
    gallery = rng.normal(size=(200, 16)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    queries = gallery[rng.integers(0, 200, 30)] + 0.05 * rng.normal(size=(30, 16)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = latlon[rng.integers(0, 200, 30)]
    result = evaluate_embeddings(queries, gallery, latlon, truth, batch_size=8)
    best = np.argmax(queries @ gallery.T, axis=1)
    np.testing.assert_array_equal(result.gallery_index, best)
    np.testing.assert_array_equal(result.predictions, latlon[best])
    expected_km = haversine_km(latlon[best, 0], latlon[best, 1], truth[:, 0], truth[:, 1])
    np.testing.assert_allclose(result.errors_km, expected_km)
    assert result.metrics == {**accuracy_at(latlon[best], truth), "gallery_size": 200}
    near = evaluate_embeddings(queries, gallery, latlon, latlon[best], within_km=1.0)
    assert near.metrics["acc@1km"] == 1.0
    with pytest.raises(ValueError, match="30 queries but 2 true coordinates"):
        evaluate_embeddings(queries, gallery, latlon, truth[:2])
    with pytest.raises(ValueError, match="200 coordinates but 10 embeddings"):
        evaluate_embeddings(queries, gallery[:10], latlon, truth)
