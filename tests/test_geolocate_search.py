"""The retrieval engine (geoembed.retrieval.search): chunked top-k with GeoCLIP's softmax, restrictions, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoembed.geo import haversine_km
from geoembed.retrieval.search import nearest, retrieve


def normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# -- top-k ---------------------------------------------------------------------------------------------------------
def test_chunked_retrieval_equals_a_full_softmax_and_sort():
    rng = np.random.default_rng(0)
    gallery = normalized(rng.normal(size=(1000, 16))).astype(np.float32)
    queries = normalized(rng.normal(size=(4, 16))).astype(np.float32)
    found = retrieve(queries, gallery, 7, logit_scale=30.0, chunk_rows=128)
    logits = 30.0 * queries @ gallery.T
    order = np.argsort(-logits, axis=1)[:, :7]
    np.testing.assert_array_equal(found.indices, order)
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(found.probabilities, np.take_along_axis(probabilities, order, 1), rtol=1e-4)


def test_retrieval_restricted_by_mask_and_radius():
    rng = np.random.default_rng(1)
    latlon = np.column_stack([rng.uniform(-60, 60, 500), rng.uniform(-180, 180, 500)])
    gallery = normalized(rng.normal(size=(500, 8))).astype(np.float32)
    queries = normalized(rng.normal(size=(2, 8))).astype(np.float32)
    allowed = latlon[:, 1] > 0
    within = np.array([[0.0, 90.0, 3000.0], [10.0, 20.0, 4000.0]])
    found = retrieve(queries, gallery, 3, logit_scale=10.0, allowed=allowed, within=within, gallery_latlon=latlon,
                     chunk_rows=64)
    for q in range(2):
        near = allowed & (haversine_km(within[q, 0], within[q, 1], latlon[:, 0], latlon[:, 1]) <= within[q, 2])
        candidates = np.flatnonzero(near)
        logits = 10.0 * gallery[candidates] @ queries[q]
        np.testing.assert_array_equal(found.indices[q], candidates[np.argsort(-logits)[:3]])
        top = np.sort(logits)[::-1][:3]
        np.testing.assert_allclose(found.probabilities[q], np.exp(top - np.logaddexp.reduce(logits)), rtol=1e-4)


# -- batches of queries, tensors, checks -------------------------------------------------------------------------------
def test_nearest_walks_queries_in_batches_and_takes_tensors():
    rng = np.random.default_rng(2)
    gallery = normalized(rng.normal(size=(300, 8))).astype(np.float32)
    queries = normalized(rng.normal(size=(50, 8))).astype(np.float32)
    expected = np.argmax(queries @ gallery.T, axis=1)
    np.testing.assert_array_equal(nearest(queries, gallery, batch_size=7), expected)
    from_tensors = nearest(torch.from_numpy(queries), torch.from_numpy(gallery), batch_size=64)
    np.testing.assert_array_equal(from_tensors, expected)
    half = retrieve(queries, gallery.astype(np.float16), 1)  # float16 storage is widened, not compared in float16
    assert np.mean(half.indices[:, 0] == expected) > 0.9


def test_retrieval_checks_its_inputs():
    gallery = normalized(np.random.default_rng(3).normal(size=(20, 4))).astype(np.float32)
    with pytest.raises(ValueError, match="same D"):
        retrieve(np.ones((2, 5), dtype=np.float32), gallery, 1)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        retrieve(gallery[:2], gallery, 0)
    with pytest.raises(ValueError, match="allowed= has 3 entries"):
        retrieve(gallery[:2], gallery, 1, allowed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="within= needs gallery_latlon"):
        retrieve(gallery[:2], gallery, 1, within=np.array([[0.0, 0.0, 10.0]] * 2))
    bad = gallery[:3].copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="Query rows 0..2 contain NaN"):
        nearest(bad, gallery)


def test_nearest_within_a_radius_and_when_nothing_is_allowed():
    from geoembed.errors import GeoembedError

    latlon = np.array([[0.0, 0.0], [0.0, 10.0], [0.0, 20.0]])
    gallery = normalized(np.eye(3, dtype=np.float32))
    queries = normalized(np.array([[0.0, 0.5, 1.0]] * 2, dtype=np.float32))  # both prefer row 2, then row 1...
    within = np.array([[0.0, 0.0, 1200.0], [0.0, 20.0, 100.0]])  # ...but the first may only reach rows 0 and 1
    assert nearest(queries, gallery, within=within, gallery_latlon=latlon).tolist() == [1, 2]
    with pytest.raises(GeoembedError, match=r"No gallery point lies within 1 km of \(50, 50\) for query 1"):
        nearest(queries, gallery, within=np.array([[0.0, 0.0, 1200.0], [50.0, 50.0, 1.0]]), gallery_latlon=latlon)
