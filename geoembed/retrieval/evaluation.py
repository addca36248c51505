"""Geo-localization accuracy: the share of predictions within 1, 25, 200, 750 and 2500 km of the truth.

GeoCLIP's metric (paper section 4; the thresholds read "street", "city", "region", "country", "continent") and the
median error, for two kinds of input, both through the one retrieval engine
(:func:`geoembed.retrieval.search.retrieve`):

- :func:`evaluate_photos`: photos with known positions (a table, or GPS EXIF tags), located by
  :func:`geoembed.retrieval.geolocate.geolocate` (``geoembed evaluate-photos``);
- :func:`evaluate_embeddings`: query embeddings already in the gallery's space (the GeoCLIP plugin's evaluation of
  trained models, from precomputed image features, uses it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geoembed.coords import as_latlon
from geoembed.errors import GeoembedError

#: GeoCLIP's evaluation thresholds (street, city, region, country, continent).
THRESHOLDS_KM = (1, 25, 200, 750, 2500)
IMAGE_COLUMNS = ("image", "path", "image_path", "file", "filename", "photo")


def errors_km(predicted: Any, true: Any) -> np.ndarray:
    """Great-circle distance in km between ``(N, 2)`` ``[lat, lon]`` predictions and truths, row by row."""
    from geoembed.geo import haversine_km

    predicted = as_latlon(np.asarray(predicted, dtype=np.float64), order="latlon")
    true = as_latlon(np.asarray(true, dtype=np.float64), order="latlon")
    if predicted.shape != true.shape:
        raise ValueError(f"predicted and true must have the same shape, got {predicted.shape} and {true.shape}.")
    return np.asarray(haversine_km(predicted[:, 0], predicted[:, 1], true[:, 0], true[:, 1]), dtype=np.float64)


def accuracy_at(predicted: Any, true: Any, thresholds_km: Sequence[float] = THRESHOLDS_KM) -> dict[str, float]:
    """Share of predictions within each distance of the truth (GeoCLIP's metric), plus the median and mean error.

    ``predicted`` and ``true`` are ``(N, 2)`` ``[lat, lon]``. Returns ``{"acc@1km": ..., ..., "median_km": ...,
    "mean_km": ..., "n": N}`` (accuracies as fractions in [0, 1]).
    """
    return _summary(errors_km(predicted, true), thresholds_km)


def _summary(errors: np.ndarray, thresholds_km: Sequence[float]) -> dict[str, Any]:
    result: dict[str, Any] = {f"acc@{t:g}km": float(np.mean(errors <= t)) for t in thresholds_km}
    result.update(median_km=float(np.median(errors)), mean_km=float(np.mean(errors)), n=int(len(errors)))
    return result


# -- query embeddings against a gallery -------------------------------------------------------------------------------
@dataclass
class RetrievalResult:
    """Metrics (:func:`accuracy_at`'s ``acc@1km`` ... ``acc@2500km`` as fractions, ``median_km``, ``mean_km``,
    ``n``, plus ``gallery_size``) and, per query, the predicted ``[lat, lon]``, the error in km and the gallery row
    chosen."""

    metrics: dict[str, float]
    predictions: np.ndarray = field(repr=False)
    errors_km: np.ndarray = field(repr=False)
    gallery_index: np.ndarray = field(repr=False)


def evaluate_embeddings(
    queries: Any,
    embeddings: Any,
    gallery_latlon: Any,
    true: Any,
    *,
    thresholds_km: Sequence[float] = THRESHOLDS_KM,
    within_km: float | None = None,
    batch_size: int = 1024,
    device: Any = None,
    progress: bool = False,
) -> RetrievalResult:
    """Place each query at its best gallery row (:func:`~geoembed.retrieval.search.retrieve`, top 1) and score it.

    Args:
        queries: ``(N, D)`` L2-normalised query embeddings (array or tensor), in the gallery embeddings' space.
        embeddings: ``(M, D)`` L2-normalised gallery embeddings (array, memory map or tensor).
        gallery_latlon: the gallery's ``(M, 2)`` ``[lat, lon]`` (or a :class:`~geoembed.retrieval.gallery.Gallery`).
        true: the queries' true ``(N, 2)`` ``[lat, lon]``.
        within_km: search only this close to each query's true position (GeoCLIP's Table 5 protocol).
        batch_size: queries scored per call of the engine (memory: ``batch_size x CHUNK_ROWS`` logits).
    """
    import torch

    from geoembed.retrieval.search import nearest

    if not isinstance(queries, (np.ndarray, torch.Tensor)):
        queries = np.asarray(queries, dtype=np.float32)
    gallery_latlon = np.asarray(getattr(gallery_latlon, "latlon", gallery_latlon), dtype=np.float64)
    truth = as_latlon(np.asarray(true, dtype=np.float64), order="latlon")
    n = queries.shape[0]
    if len(truth) != n:
        raise ValueError(f"{n} queries but {len(truth)} true coordinates; they must pair row by row.")
    if len(gallery_latlon) != embeddings.shape[0]:
        raise ValueError(f"The gallery has {len(gallery_latlon)} coordinates but {embeddings.shape[0]} embeddings.")
    within = None
    if within_km is not None:
        within = np.column_stack([truth, np.full(n, float(within_km))])
    index = nearest(queries, embeddings, within=within, gallery_latlon=gallery_latlon, batch_size=batch_size,
                    device=device, progress=progress)
    predicted = gallery_latlon[index]
    errors = errors_km(predicted, truth)
    metrics = _summary(errors, thresholds_km)
    metrics["gallery_size"] = int(len(gallery_latlon))
    return RetrievalResult(metrics, predicted, errors, index)


# -- photos with known positions --------------------------------------------------------------------------------------
def load_photo_truth(
    source: Any,
    *,
    image_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    exif: bool = False,
    recursive: bool = False,
):
    """Photos and where they were really taken, for :func:`evaluate_photos`.

    Args:
        source: a table (CSV or Parquet) with an image path column (paths relative to the table's folder) and,
            unless ``exif``, latitude/longitude columns; or images/folders whose EXIF GPS tags give the truth.
        exif: read the truth from the photos' GPS tags even when the table has coordinate columns.

    Returns:
        ``(truth, skipped)``: a DataFrame ``image``, ``lat``, ``lon`` and ``(image, reason)`` for photos without a
        usable position (no GPS tags, unreadable file).
    """
    import pandas as pd

    from geoembed.image_backbones.images import collect_images, read_exif_latlon
    from geoembed.io import LAT_NAMES, latlon_from_table

    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    if path is not None and path.is_file() and path.suffix.lower() in (".csv", ".parquet"):
        table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        column = _image_column(table, image_col)
        if table[column].isna().any():
            raise GeoembedError(f"{path}: column {column!r} has empty cells (rows "
                                f"{table.index[table[column].isna()].tolist()[:5]}...); every row needs an image path.")
        images = [p if p.is_absolute() else path.parent / p for p in (Path(str(v)) for v in table[column])]
        has_coords = lat_col is not None or any(str(c).strip().lower() in LAT_NAMES[0] for c in table.columns)
        if has_coords and not exif:
            latlon = latlon_from_table(table, lat_col=lat_col, lon_col=lon_col)
            truth = pd.DataFrame({"image": [str(p) for p in images], "lat": latlon[:, 0], "lon": latlon[:, 1]})
            return _unique_images(truth), []
    else:
        images = [item.source for item in collect_images(source, recursive=recursive)]
    rows, skipped = [], []
    for image in images:
        try:
            found = read_exif_latlon(image)
        except Exception as exc:  # unreadable file: reported with the others
            skipped.append((str(image), f"{type(exc).__name__}: {exc}"))
            continue
        if found is None:
            skipped.append((str(image), "no GPS position in its EXIF tags"))
        else:
            rows.append((str(image), *found))
    return _unique_images(pd.DataFrame(rows, columns=["image", "lat", "lon"])), skipped


def _image_column(table, image_col: str | None) -> str:
    if image_col is not None:
        if image_col not in table.columns:
            raise GeoembedError(f"No column {image_col!r}; the columns are {list(table.columns)}.")
        return image_col
    matches = [c for c in table.columns if str(c).strip().lower() in IMAGE_COLUMNS]
    if len(matches) != 1:
        raise GeoembedError(
            f"Cannot tell which column holds the image paths (columns: {list(table.columns)}; recognised names: "
            f"{', '.join(IMAGE_COLUMNS)}). Name it with image_col= (--image-col)."
        )
    return matches[0]


def _unique_images(truth):
    duplicated = truth["image"][truth["image"].duplicated()]
    if len(duplicated):
        raise GeoembedError(f"Images listed more than once: {sorted(set(duplicated))[:5]}; list each photo once.")
    return truth


def evaluate_photos(
    source: Any,
    *,
    thresholds_km: Sequence[float] = THRESHOLDS_KM,
    within_km: float | None = None,
    image_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    exif: bool = False,
    **geolocate_kwargs: Any,
):
    """Geo-localization accuracy on photos with known positions (GeoCLIP's metric: share within 1/25/200/750/2500 km).

    Args:
        source: see :func:`load_photo_truth` (a table of image paths and coordinates, or photos with GPS tags).
        within_km: search only this close to each photo's true position (GeoCLIP's Table 5 protocol).
        **geolocate_kwargs: passed to :func:`geoembed.retrieval.geolocate.geolocate` (``model=``, ``gallery=``,
            ``ten_crop=``...).

    Returns:
        ``(summary, per_image)``: ``summary`` is :func:`accuracy_at`'s dict plus ``skipped`` (photos without a
        position or unreadable); ``per_image`` has ``image``, ``lat``, ``lon`` (truth), ``pred_lat``, ``pred_lon``,
        ``probability`` and ``error_km``.
    """
    import warnings

    from geoembed.image_backbones.images import SkippedImageWarning
    from geoembed.retrieval.geolocate import geolocate

    truth, skipped = load_photo_truth(source, image_col=image_col, lat_col=lat_col, lon_col=lon_col, exif=exif)
    for name, reason in skipped:
        warnings.warn(f"Skipping {name}: {reason}", SkippedImageWarning, stacklevel=2)
    if truth.empty:
        raise GeoembedError("No photo with a known position to evaluate (see the skipped-image warnings).")
    within = None
    if within_km is not None:
        within = np.column_stack([truth["lat"], truth["lon"], np.full(len(truth), float(within_km))])
    predictions = geolocate(truth["image"].tolist(), 1, within=within, **geolocate_kwargs)
    skipped += predictions.attrs["skipped"]
    top = predictions[predictions["rank"] == 1].rename(columns={"lat": "pred_lat", "lon": "pred_lon"})
    per_image = truth.merge(top[["image", "pred_lat", "pred_lon", "probability"]], on="image", how="inner")
    per_image["error_km"] = errors_km(per_image[["pred_lat", "pred_lon"]].to_numpy(),
                                      per_image[["lat", "lon"]].to_numpy())
    summary: dict[str, Any] = _summary(per_image["error_km"].to_numpy(), thresholds_km)
    summary["skipped"] = len(skipped)
    return summary, per_image


__all__ = [
    "IMAGE_COLUMNS", "RetrievalResult", "THRESHOLDS_KM", "accuracy_at", "errors_km", "evaluate_embeddings",
    "evaluate_photos", "load_photo_truth",
]
