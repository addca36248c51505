"""Baselines that use only coordinates and training labels: interpolation on the sphere.

A geostatistician's first question about any embedding is whether it beats interpolating the training labels. These
baselines answer it beside every encoder in :func:`~geoembed.downstream.benchmark.run_benchmark`. They are not
location encoders (they need the training labels, so they cannot embed a place on their own): the benchmark runs
them as *pseudo-encoders* whose "probe" is the interpolation itself (probe name :data:`PROBE`), on the same folds,
with the same buffers and the same inner cross-validation as the probes.

- ``idw``: inverse-distance-weighted mean of the ``k`` nearest training rows by great-circle distance, weights
  ``1 / d**power`` (a test row that coincides with training rows takes their mean). The inner CV picks ``k`` from
  :data:`IDW_NEIGHBOURS` (MIND's benchmark uses 50) and ``power`` from :data:`IDW_POWERS` (2 is Shepard's classic
  choice, 1 a smoother one). Classification: the class with the largest summed weight.
- ``nn_mean``: the label-only spatial prior: the plain mean (classification: the most common class) of the ``k``
  nearest training rows, ``k`` chosen by the same inner CV. It is IDW with ``power = 0``: what a map of local
  averages of the labels gives without any model.

Distances are haversine on the unit sphere (:class:`sklearn.neighbors.BallTree`, ``metric="haversine"``); polygons
are placed at their anchor point (:func:`~geoembed.downstream.geometry.anchor_points`), as for the spatial blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

PROBE = "interpolation"
IDW_NEIGHBOURS = (5, 10, 20, 50)
IDW_POWERS = (1.0, 2.0)
BASELINES: dict[str, str] = {
    "idw": "inverse-distance-weighted interpolation of the training labels on the sphere (k and power by inner CV)",
    "nn_mean": "label-only spatial prior: mean label of the k nearest training rows (k by inner CV)",
}
DEFAULT_BASELINES = ("idw", "nn_mean")
VERSION = "1"  # part of a baseline's identity in the benchmark's cell fingerprints
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def _radians(latlon: np.ndarray) -> np.ndarray:
    latlon = np.asarray(latlon, dtype=np.float64)
    if latlon.ndim != 2 or latlon.shape[1] != 2:
        raise ValueError(f"latlon must be an (N, 2) array of [lat, lon] degrees, got shape {latlon.shape}.")
    return np.radians(latlon)


def ball_tree(latlon: np.ndarray):
    """A haversine :class:`~sklearn.neighbors.BallTree` over ``[lat, lon]`` degree rows (distances in radians)."""
    from sklearn.neighbors import BallTree

    return BallTree(_radians(latlon), metric="haversine")


def distance_to_nearest_km(points: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Great-circle distance in km from each of ``points`` to the nearest of ``references`` (``[lat, lon]``)."""
    dist, _ = ball_tree(references).query(_radians(points), k=1)
    return dist[:, 0] * EARTH_RADIUS_KM


class SphericalIDW(BaseEstimator):
    """Inverse-distance-weighted interpolation of labels on the sphere, ``k`` and ``power`` chosen by inner CV.

    ``X`` is ``[lat, lon]`` degrees. ``powers=(0.0,)`` gives the unweighted nearest-neighbour mean (``nn_mean``).
    ``inner_cv``: the (train, test) index pairs of the inner CV (None: fit the first candidate without search).
    """

    def __init__(self, *, classification: bool, inner_cv: Any = None, neighbours=IDW_NEIGHBOURS, powers=IDW_POWERS,
                 max_neighbours: int | None = None):
        self.classification = classification
        self.inner_cv = inner_cv
        self.neighbours = neighbours
        self.powers = powers
        self.max_neighbours = max_neighbours

    def candidates(self) -> list[tuple[int, float]]:
        ks = [k for k in self.neighbours if self.max_neighbours is None or k <= self.max_neighbours]
        ks = ks or [max(1, int(self.max_neighbours or 1))]
        return [(int(k), float(p)) for k in ks for p in self.powers]

    def fit(self, X, y):
        from sklearn.metrics import f1_score, r2_score

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        candidates = self.candidates()
        scores = np.zeros(len(candidates))
        folds = list(self.inner_cv) if self.inner_cv is not None else []
        for train, test in folds:
            k_max = min(max(k for k, _ in candidates), len(train))
            dist, idx = ball_tree(X[train]).query(_radians(X[test]), k=k_max)
            labels = y[train][idx]
            for i, (k, power) in enumerate(candidates):
                pred = self._combine(dist[:, :k], labels[:, :k], power)
                scores[i] += (f1_score(y[test], pred, average="macro", zero_division=0) if self.classification
                              else r2_score(y[test], pred)) / len(folds)
        self.cv_scores_ = dict(zip(candidates, scores))
        k, power = candidates[int(np.argmax(scores))] if folds else candidates[0]
        self.best_params_ = {"probe__n_neighbors": k, "probe__power": power}
        self.k_, self.power_ = min(k, len(y)), power
        self.tree_, self.y_ = ball_tree(X), y
        if self.classification:
            self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        dist, idx = self.tree_.query(_radians(X), k=self.k_)
        return self._combine(dist, self.y_[idx], self.power_)

    def _combine(self, dist: np.ndarray, labels: np.ndarray, power: float) -> np.ndarray:
        """Weighted mean (or vote) of neighbour labels; rows with an exact match use only their exact matches."""
        exact = dist <= 1e-12
        with np.errstate(divide="ignore"):
            weights = np.ones_like(dist) if power == 0 else 1.0 / dist**power
        weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), weights)
        if not self.classification:
            return (weights * labels).sum(axis=1) / weights.sum(axis=1)
        classes, codes = np.unique(labels, return_inverse=True)
        votes = np.zeros((len(labels), len(classes)))
        np.add.at(votes, (np.repeat(np.arange(len(labels)), labels.shape[1]), codes.ravel()), weights.ravel())
        return classes[np.argmax(votes, axis=1)]


def make_baseline(name: str, *, classification: bool, inner_cv: Any = None,
                  max_neighbours: int | None = None) -> SphericalIDW:
    """An unfitted baseline (``"idw"`` or ``"nn_mean"``) tuned by ``inner_cv``."""
    if name not in BASELINES:
        raise ValueError(f"Unknown baseline {name!r}; choose from {sorted(BASELINES)}.")
    powers = IDW_POWERS if name == "idw" else (0.0,)
    return SphericalIDW(classification=classification, inner_cv=inner_cv, powers=powers,
                        max_neighbours=max_neighbours)


def fit_baseline(name: str, latlon_train: np.ndarray, y_train: np.ndarray, *, classification: bool, seed: int = 0,
                 groups: np.ndarray | None = None) -> SphericalIDW:
    """Fit a baseline on the training rows, its ``k`` (and power) chosen by the probes' inner CV: spatial over
    ``groups`` (the training rows' blocks) in the spatial split, random otherwise
    (:func:`geoembed.downstream.protocol.inner_splits`)."""
    from geoembed.downstream.protocol import _random_inner_cv, inner_splits

    inner = inner_splits(PROBE, y_train, groups, seed=seed) or _random_inner_cv(y_train, classification, seed)
    smallest = min(len(train) for train, _ in inner)
    model = make_baseline(name, classification=classification, inner_cv=inner, max_neighbours=smallest)
    return model.fit(latlon_train, y_train)
