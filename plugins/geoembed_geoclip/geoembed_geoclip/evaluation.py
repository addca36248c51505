"""Image-to-GPS retrieval for trained (concept-aware) GeoCLIP models: precomputed features in, geodesic accuracy out.

GeoCLIP's evaluation (paper section 4): the query image's embedding is compared with the embeddings of a gallery of
GPS coordinates and the best match is the prediction. Reported: the share of images placed within 1, 25, 200, 750
and 2500 km of the truth ("street", "city", "region", "country", "continent") and the median error in km.

This module only embeds, with a trained model's own towers (and concept space): the gallery through geoembed's
encoding loop (:func:`geoembed.location_encoders.encode.iter_embeddings`) and the model's location space, the image
features through the model's image tower. The search and the metric are geoembed's, shared with ``geoembed geolocate``
and ``geoembed evaluate-photos``: :func:`geoembed.retrieval.search.nearest` (the retrieval engine, top 1) and
:func:`geoembed.retrieval.evaluation.evaluate_embeddings` (:func:`~geoembed.retrieval.evaluation.accuracy_at`).

Galleries: ``"mp16"`` (the 100K MP-16 coordinates GeoCLIP uses, this plugin's gallery, shipped in the ``geoclip``
wheel), the training coordinates of a run (``"train"``, via :func:`geoembed_geoclip.training.evaluate_run`), an
``(M, 2)`` array, or a file (``.npy``, or anything :func:`geoembed.retrieval.gallery.load_gallery` reads).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoembed.coords import as_latlon
from geoembed.errors import DataFileError
from geoembed.retrieval.evaluation import RetrievalResult, evaluate_embeddings
from geoembed.retrieval.search import nearest

__all__ = [
    "RetrievalResult", "as_coordinates", "embed_gallery", "embed_image_features", "evaluate_retrieval",
    "gallery_coordinates", "load_features", "predict_locations", "read_coordinates",
]


def gallery_coordinates(gallery: Any) -> np.ndarray:
    """A GPS gallery as ``(M, 2)`` float64 ``[lat, lon]``: a ``.npy`` file, or anything
    :func:`geoembed.retrieval.gallery.load_gallery` takes (``"mp16"``, ``"land:0.5"``, a points file, an array...)."""
    if isinstance(gallery, (str, os.PathLike)) and Path(gallery).suffix == ".npy":
        return read_coordinates(gallery)
    if isinstance(gallery, str) and gallery in ("mp16", "mp16-100k"):  # this plugin's own gallery, registry or not
        from geoembed_geoclip.gallery import mp16_gallery

        return mp16_gallery().latlon
    from geoembed.retrieval.gallery import load_gallery

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


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def embed_gallery(model, gallery: np.ndarray, *, batch_size: int = 8192, location_features: torch.Tensor | None = None,
                  progress: bool = False) -> torch.Tensor:
    """L2-normalised retrieval embeddings of the gallery, on the model's device.

    The coordinates go through geoembed's encoding loop (:func:`~geoembed.location_encoders.encode.iter_embeddings`,
    which checks every batch) with the model's location encoder, then through the model's location space;
    ``location_features`` (the location encoder's outputs for the gallery, when already known) skip the encoder.
    """
    from geoembed.location_encoders.encode import iter_embeddings

    device = _device(model)
    if location_features is not None:
        chunks = (location_features[s : s + batch_size] for s in range(0, len(location_features), batch_size))
    else:
        latlon = np.array(gallery, dtype=np.float64)  # a writable copy: torch warns about read-only arrays
        chunks = iter_embeddings(latlon, model.location_encoder, batch_size=batch_size, progress=progress)
    embedded = [torch.nn.functional.normalize(model.location_space(torch.as_tensor(c).to(device)).float(), dim=-1)
                for c in chunks]
    return torch.cat(embedded)


@torch.no_grad()
def embed_image_features(model, features: Any, *, batch_size: int = 1024, progress: bool = False) -> torch.Tensor:
    """``(N, D)`` L2-normalised retrieval embeddings of precomputed image features ``(N, F)`` or ``(N, P, F)`` (the
    views' embeddings are averaged and renormalised, as GeoCLIP averages its Ten Crop predictions); on the CPU."""
    from geoembed.progress import progress_bar

    device = _device(model)
    chunks = []
    for start in progress_bar(range(0, len(features), batch_size), desc="images", unit="batch", enabled=progress):
        batch = torch.tensor(np.asarray(features[start : start + batch_size], dtype=np.float32), device=device)
        if not torch.isfinite(batch).all():
            raise ValueError(f"Image features rows {start}..{start + len(batch) - 1} contain NaN or infinite values.")
        if batch.ndim == 3:
            query = torch.nn.functional.normalize(model.embed_images(batch).float().mean(dim=1), dim=-1)
        else:
            query = model.embed_images(batch).float()
        chunks.append(query.cpu())
    return torch.cat(chunks)


def predict_locations(model, features: Any, gallery: np.ndarray, *, gallery_embeddings: torch.Tensor | None = None,
                      batch_size: int = 1024, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Best gallery row and its ``[lat, lon]`` for each image; ``features`` is ``(N, F)`` or ``(N, P, F)`` (the
    views' embeddings are averaged, as GeoCLIP averages its Ten Crop predictions)."""
    if gallery_embeddings is None:
        gallery_embeddings = embed_gallery(model, gallery, progress=progress)
    queries = embed_image_features(model, features, batch_size=batch_size, progress=progress)
    best = nearest(queries, gallery_embeddings, batch_size=batch_size, device=_device(model))
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

    Returns:
        :class:`geoembed.retrieval.evaluation.RetrievalResult`: metrics (``acc@1km`` ... ``acc@2500km`` as fractions,
        ``median_km``, ``mean_km``, ``n``, ``gallery_size``) and, per image, the prediction, its error and gallery row.
    """
    features = load_features(features)
    truth = as_coordinates(coordinates)
    if len(truth) != len(features):
        raise ValueError(f"{len(features)} image features but {len(truth)} coordinates; they must pair row by row.")
    gallery_latlon = gallery_coordinates(gallery)
    was_training = model.training
    model.eval()
    try:
        if gallery_embeddings is None:
            gallery_embeddings = embed_gallery(model, gallery_latlon, progress=progress)
        queries = embed_image_features(model, features, batch_size=batch_size, progress=progress)
    finally:
        model.train(was_training)
    return evaluate_embeddings(queries, gallery_embeddings, gallery_latlon, truth, batch_size=batch_size,
                               device=_device(model))


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
