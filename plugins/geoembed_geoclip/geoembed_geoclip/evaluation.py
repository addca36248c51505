"""Image-to-GPS retrieval for trained (concept-aware) GeoCLIP models: precomputed features in, geodesic accuracy out.

GeoCLIP's evaluation (paper section 4): the query image's embedding is compared with the embeddings of a gallery of
GPS coordinates and the best match is the prediction. Reported: the share of images placed within 1, 25, 200, 750
and 2500 km of the truth ("street", "city", "region", "country", "continent") and the median error in km.

Galleries: ``"mp16"`` (the 100K MP-16 coordinates GeoCLIP uses, shipped in the ``geoclip`` wheel), the training
coordinates of a run (``"train"``, via :func:`geoembed_geoclip.training.evaluate_run`), an ``(M, 2)`` array, or a file
(``.npy``, or anything :func:`geoembed.retrieval.geolocate.load_gallery` reads). The metric is
:func:`geoembed.retrieval.geolocate.accuracy_at`, shared with ``geoembed evaluate-photos``; this module differs from
:mod:`geoembed.retrieval.geolocate` in what it scores: a trained model's own towers (and concept space), from feature arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoembed.coords import as_latlon
from geoembed.errors import DataFileError
from geoembed.geo import haversine_km
from geoembed.retrieval.geolocate import accuracy_at


@dataclass
class RetrievalResult:
    """Metrics (:func:`geoembed.retrieval.geolocate.accuracy_at`'s ``acc@1km`` ... ``acc@2500km`` as fractions, ``median_km``,
    ``mean_km``, ``n``, plus ``gallery_size``) and, per query, the predicted ``[lat, lon]``, the error in km and the
    gallery row chosen."""

    metrics: dict[str, float]
    predictions: np.ndarray = field(repr=False)
    errors_km: np.ndarray = field(repr=False)
    gallery_index: np.ndarray = field(repr=False)


def gallery_coordinates(gallery: Any) -> np.ndarray:
    """A GPS gallery as ``(M, 2)`` float64 ``[lat, lon]``: a ``.npy`` file, or anything
    :func:`geoembed.retrieval.geolocate.load_gallery` takes (``"mp16"``, ``"land:0.5"``, a points file, an array...)."""
    if isinstance(gallery, (str, os.PathLike)) and Path(gallery).suffix == ".npy":
        return read_coordinates(gallery)
    from geoembed.retrieval.geolocate import load_gallery

    return load_gallery(gallery).latlon


def as_coordinates(coordinates: Any) -> np.ndarray:
    """Validated ``(N, 2)`` ``[lat, lon]``: an array with columns lat, lon (the order this plugin's API documents),
    shapely points / a GeoSeries, or a file (:func:`read_coordinates`)."""
    if isinstance(coordinates, (str, os.PathLike)):
        return read_coordinates(coordinates)
    return as_latlon(coordinates, order="latlon")


def read_coordinates(path: str | os.PathLike) -> np.ndarray:
    """``(N, 2)`` ``[lat, lon]`` from a ``.npy`` file (columns lat, lon) or any points file geoembed reads."""
    path = Path(path)
    if path.suffix == ".npy":
        if not path.is_file():
            raise FileNotFoundError(f"Coordinates file {path} does not exist.")
        try:
            array = np.load(path, mmap_mode="r")
        except ValueError as exc:
            raise DataFileError(f"Cannot read {path} as a NumPy array: {exc}") from None
        return as_latlon(np.asarray(array, dtype=np.float64), order="latlon")
    from geoembed.io import read_points

    return read_points(path)[1]


@torch.no_grad()
def embed_gallery(model, gallery: np.ndarray, *, batch_size: int = 8192, location_features: torch.Tensor | None = None,
                  progress: bool = False) -> torch.Tensor:
    """L2-normalised retrieval embeddings of the gallery (``location_features``: the location encoder's outputs for
    the gallery, when already known, skip the encoder)."""
    from geoembed.progress import progress_bar

    device = next(model.parameters()).device
    chunks = []
    for start in progress_bar(range(0, len(gallery), batch_size), desc="gallery", unit="batch", enabled=progress):
        if location_features is not None:
            encoded = location_features[start : start + batch_size].to(device)
        else:
            encoded = model.location_encoder(torch.tensor(gallery[start : start + batch_size], device=device).float())
        chunks.append(torch.nn.functional.normalize(model.location_space(encoded).float(), dim=-1))
    return torch.cat(chunks)


@torch.no_grad()
def predict_locations(model, features: Any, gallery: np.ndarray, *, gallery_embeddings: torch.Tensor | None = None,
                      batch_size: int = 1024, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Best gallery row and its ``[lat, lon]`` for each image; ``features`` is ``(N, F)`` or ``(N, P, F)`` (the
    views' embeddings are averaged, as GeoCLIP averages its Ten Crop predictions)."""
    from geoembed.progress import progress_bar

    device = next(model.parameters()).device
    if gallery_embeddings is None:
        gallery_embeddings = embed_gallery(model, gallery, progress=progress)
    gallery_embeddings = gallery_embeddings.to(device)
    best = np.empty(len(features), dtype=np.int64)
    for start in progress_bar(range(0, len(features), batch_size), desc="queries", unit="batch", enabled=progress):
        batch = torch.tensor(np.asarray(features[start : start + batch_size], dtype=np.float32), device=device)
        if not torch.isfinite(batch).all():
            raise ValueError(f"Image features rows {start}..{start + len(batch) - 1} contain NaN or infinite values.")
        if batch.ndim == 3:
            query = torch.nn.functional.normalize(model.embed_images(batch).float().mean(dim=1), dim=-1)
        else:
            query = model.embed_images(batch).float()
        best[start : start + len(batch)] = (query @ gallery_embeddings.T).argmax(dim=1).cpu().numpy()
    return best, gallery[best]


def evaluate_retrieval(model, features: Any, coordinates: Any, gallery: Any = "mp16", *, batch_size: int = 1024,
                       gallery_embeddings: torch.Tensor | None = None, progress: bool = False) -> RetrievalResult:
    """Image-to-GPS retrieval accuracy of ``model`` (a :class:`~geoembed_geoclip.concept_aware.ConceptAwareGeoCLIP`).

    Args:
        features: ``(N, F)`` or ``(N, P, F)`` precomputed image features (array, memory map or ``.npy`` path).
        coordinates: the images' true ``[lat, lon]`` (array or file).
        gallery: ``"mp16"`` (100K MP-16 coordinates), an ``(M, 2)`` array or a coordinates file (see
            :func:`gallery_coordinates`).
        gallery_embeddings: the gallery's retrieval embeddings when already computed (reuse across calls).
    """
    features = load_features(features)
    truth = as_coordinates(coordinates)
    if len(truth) != len(features):
        raise ValueError(f"{len(features)} image features but {len(truth)} coordinates; they must pair row by row.")
    gallery_latlon = gallery_coordinates(gallery)
    was_training = model.training
    model.eval()
    try:
        index, predicted = predict_locations(model, features, gallery_latlon, gallery_embeddings=gallery_embeddings,
                                             batch_size=batch_size, progress=progress)
    finally:
        model.train(was_training)
    metrics = accuracy_at(predicted, truth)
    metrics["gallery_size"] = int(len(gallery_latlon))
    errors = haversine_km(predicted[:, 0], predicted[:, 1], truth[:, 0], truth[:, 1])
    return RetrievalResult(metrics, predicted, errors, index)


def load_features(features: Any) -> np.ndarray:
    """Image features as an array: a ``.npy`` path is memory-mapped (read lazily, batch by batch)."""
    if isinstance(features, (str, os.PathLike)):
        path = Path(features)
        if not path.is_file():
            raise FileNotFoundError(f"Image features file {path} does not exist.")
        if path.suffix != ".npy":
            raise DataFileError(f"Image features must be a .npy file of shape (N, F) or (N, P, F), got {path}.")
        try:
            features = np.load(path, mmap_mode="r")
        except ValueError as exc:
            raise DataFileError(f"Cannot memory-map {path}: {exc}") from None
    elif isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    features = features if isinstance(features, np.ndarray) else np.asarray(features)
    if features.ndim not in (2, 3) or features.shape[0] == 0 or features.shape[-1] == 0:
        raise ValueError(f"Image features must have shape (N, F) or (N, P, F) with N, F > 0, got {features.shape}.")
    if not np.issubdtype(features.dtype, np.floating):
        raise ValueError(f"Image features must be floating point, got {features.dtype}.")
    return features
