"""The retrieval engine: the nearest gallery places of query embeddings, in chunks, with GeoCLIP's softmax.

Every retrieval in geoembed and its plugins goes through :func:`retrieve`: photo geolocation
(:func:`geoembed.retrieval.geolocate.geolocate`), its evaluation (:mod:`geoembed.retrieval.evaluation`) and the
GeoCLIP plugin's evaluation of trained models. It scores ``logit_scale * queries @ gallery.T`` (cosines of
L2-normalised embeddings, scaled by GeoCLIP's learned logit scale) and keeps, per query, the ``top_k`` best gallery
rows and the log-sum-exp of every allowed logit, so ``exp(logit - log_norm)`` are exactly the probabilities of a
softmax over the whole (allowed) gallery, as the reference ``GeoCLIP.predict`` computes them. Unlike the reference,
the gallery is walked in chunks of :data:`CHUNK_ROWS` rows with a running top-k and a running log-sum-exp, so memory
stays bounded (``queries x CHUNK_ROWS`` logits) for galleries of millions of points, and a memory-mapped gallery is
read chunk by chunk.

Prior knowledge restricts the search: ``allowed`` (a mask of gallery rows, e.g. :func:`inside_mask` of polygons) and
``within`` (``[lat, lon, radius_km]`` per query, GeoCLIP's Table 5 protocol; :func:`within_rows` checks it).
Probabilities are then normalised over the allowed rows only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from geoembed.coords import as_latlon
from geoembed.errors import InvalidCoordinatesError, InvalidGeometryError

#: Gallery rows scored per matrix product: bounds memory to ``queries x CHUNK_ROWS`` logits.
CHUNK_ROWS = 65_536


@dataclass
class Retrieval:
    """Top-k gallery rows per query: ``indices`` and ``logits`` ``(Q, k)`` (-inf where fewer than k were allowed),
    and ``log_norm`` ``(Q,)``, the log-sum-exp of every allowed logit (so ``exp(logits - log_norm)`` are softmax
    probabilities over the allowed gallery)."""

    indices: np.ndarray
    logits: np.ndarray
    log_norm: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(self.logits), np.exp(self.logits - self.log_norm[:, None]), 0.0)


def retrieve(
    queries: Any,
    embeddings: Any,
    top_k: int,
    *,
    logit_scale: float = 1.0,
    allowed: np.ndarray | None = None,
    within: np.ndarray | None = None,
    gallery_latlon: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
    device: Any = None,
) -> Retrieval:
    """Top-k of ``logit_scale * queries @ embeddings.T`` over a gallery, walked in chunks of ``chunk_rows``.

    Args:
        queries: ``(Q, D)`` L2-normalised query embeddings (array or tensor).
        embeddings: ``(M, D)`` L2-normalised gallery embeddings: an array (a memory map is fine: read chunk by
            chunk; float16 storage is widened to float32 chunk by chunk) or a tensor on any device.
        top_k: rows to keep per query (fewer come back where fewer are allowed; their logits are -inf).
        logit_scale: multiplies the cosines before the softmax (GeoCLIP: ``exp`` of its learned log scale). It
            changes the probabilities, never the order.
        allowed: optional ``(M,)`` boolean mask of gallery rows that may be returned (polygon restrictions).
        within: optional ``(Q, 3)`` ``[lat, lon, radius_km]`` per query: only gallery points that close count.
        gallery_latlon: the gallery's ``(M, 2)`` coordinates, needed with ``within``.
        device: where the products run (default: the best available).
    """
    import torch

    from geoembed.geo import haversine_km
    from geoembed.location_encoders.encode import resolve_device

    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer (how many gallery rows to return per query), got "
                         f"{top_k!r}.")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    if within is not None and gallery_latlon is None:
        raise ValueError("within= needs gallery_latlon (the gallery's coordinates).")
    dev = resolve_device(device)
    q = _queries(queries, dev)
    m = embeddings.shape[0]
    if q.ndim != 2 or len(embeddings.shape) != 2 or q.shape[1] != embeddings.shape[1]:
        raise ValueError(f"queries must be (Q, D) and the gallery embeddings (M, D) with the same D; got "
                         f"{tuple(q.shape)} and {tuple(embeddings.shape)}.")
    if allowed is not None and len(allowed) != m:
        raise ValueError(f"allowed= has {len(allowed)} entries but the gallery has {m} rows.")
    n_queries, top_k = q.shape[0], int(top_k)
    best_logits = torch.full((n_queries, 0), float("-inf"), device=dev)
    best_index = torch.zeros((n_queries, 0), dtype=torch.long, device=dev)
    log_norm = torch.full((n_queries,), float("-inf"), device=dev)
    for start in range(0, m, chunk_rows):
        stop = min(start + chunk_rows, m)
        keep = None if allowed is None else np.asarray(allowed[start:stop], dtype=bool)
        if keep is not None and not keep.any():
            continue
        logits = (q @ _rows(embeddings, start, stop, dev).T) * logit_scale
        if keep is not None:
            logits[:, torch.as_tensor(~keep, device=dev)] = float("-inf")
        if within is not None:
            chunk_latlon = gallery_latlon[start:stop]
            far = haversine_km(within[:, :1], within[:, 1:2], chunk_latlon[None, :, 0], chunk_latlon[None, :, 1])
            logits[torch.as_tensor(far > within[:, 2:3], device=dev)] = float("-inf")
        log_norm = torch.logaddexp(log_norm, torch.logsumexp(logits, dim=1))
        values, index = logits.topk(min(top_k, stop - start), dim=1)
        merged_logits = torch.cat([best_logits, values], dim=1)
        merged_index = torch.cat([best_index, index + start], dim=1)
        best_logits, order = merged_logits.topk(min(top_k, merged_logits.shape[1]), dim=1)
        best_index = merged_index.gather(1, order)
    return Retrieval(best_index.cpu().numpy(), best_logits.cpu().numpy(), log_norm.cpu().numpy())


def nearest(
    queries: Any,
    embeddings: Any,
    *,
    within: np.ndarray | None = None,
    gallery_latlon: np.ndarray | None = None,
    batch_size: int = 1024,
    device: Any = None,
    progress: bool = False,
) -> np.ndarray:
    """``(Q,)`` the best gallery row of each query (:func:`retrieve` with ``top_k=1``), ``batch_size`` queries at a
    time so memory stays at ``batch_size x CHUNK_ROWS`` logits however many queries there are.

    ``within`` (``(Q, 3)`` ``[lat, lon, radius_km]``, with ``gallery_latlon``) restricts each query's search; a query
    left with no gallery row raises :class:`~geoembed.errors.GeoembedError`. Rows with NaN or infinite values raise
    ``ValueError`` naming them.
    """
    import torch

    from geoembed.errors import GeoembedError
    from geoembed.progress import progress_bar

    if not isinstance(queries, (np.ndarray, torch.Tensor)):
        queries = np.asarray(queries, dtype=np.float32)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    n = queries.shape[0]
    if within is not None and len(within) != n:
        raise ValueError(f"within= has {len(within)} rows but there are {n} queries.")
    index = np.empty(n, dtype=np.int64)
    for start in progress_bar(range(0, n, batch_size), desc="queries", unit="batch", enabled=progress):
        batch = queries[start : start + batch_size]
        finite = bool(torch.isfinite(batch).all()) if isinstance(batch, torch.Tensor) else np.isfinite(batch).all()
        if not finite:
            raise ValueError(f"Query rows {start}..{start + len(batch) - 1} contain NaN or infinite values.")
        rows = None if within is None else within[start : start + batch_size]
        found = retrieve(batch, embeddings, 1, within=rows, gallery_latlon=gallery_latlon, device=device)
        empty = np.flatnonzero(~np.isfinite(found.log_norm))
        if len(empty):
            lat, lon, radius = rows[empty[0]] if rows is not None else (np.nan, np.nan, np.nan)
            raise GeoembedError(f"No gallery point lies within {radius:g} km of ({lat:g}, {lon:g}) for query "
                                f"{start + int(empty[0])}; enlarge the radius or use a denser gallery.")
        index[start : start + len(batch)] = found.indices[:, 0]
    return index


def similarities(query: Any, embeddings: Any, *, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """``(M,)`` cosine of one L2-normalised ``(D,)`` query with every gallery row (for maps of a score over a
    gallery), read chunk by chunk like :func:`retrieve`."""
    query = np.asarray(query, dtype=np.float32)
    return np.concatenate([
        np.asarray(embeddings[s : s + chunk_rows], dtype=np.float32) @ query
        for s in range(0, len(embeddings), chunk_rows)
    ])


def normalize(features: np.ndarray) -> np.ndarray:
    """Rows (the last axis) scaled to unit L2 norm; zero rows stay zero."""
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def _queries(queries: Any, device: Any):
    import torch

    if isinstance(queries, torch.Tensor):
        return queries.detach().to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(queries, dtype=np.float32), device=device)


def _rows(embeddings: Any, start: int, stop: int, device: Any):
    """Gallery rows ``start:stop`` as a float32 tensor on ``device`` (float16 storage is widened here)."""
    import torch

    if isinstance(embeddings, torch.Tensor):
        return embeddings[start:stop].to(device=device, dtype=torch.float32)
    with warnings.catch_warnings():  # a read-only memory map: retrieval only reads it
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(np.asarray(embeddings[start:stop]), device=device).float()


# -- restrictions ------------------------------------------------------------------------------------------------------
def inside_mask(latlon: np.ndarray, inside: Any) -> np.ndarray:
    """``(M,)`` True where a point lies inside ``inside``: a GeoDataFrame/GeoSeries (any CRS) or shapely geometry."""
    import shapely

    geometry = _union_wgs84(inside)
    shapely.prepare(geometry)
    return shapely.intersects_xy(geometry, latlon[:, 1], latlon[:, 0])  # the boundary counts as inside


def _union_wgs84(inside: Any):
    import geopandas as gpd
    import shapely

    if isinstance(inside, gpd.GeoDataFrame):
        inside = inside.geometry
    if isinstance(inside, gpd.GeoSeries):
        if inside.crs is None:
            raise InvalidGeometryError(
                "The polygons in inside= have no CRS; set one (gdf.set_crs('EPSG:4326') for longitude/latitude)."
            )
        inside = shapely.union_all(inside.to_crs("EPSG:4326").geometry.array)
    if not isinstance(inside, shapely.Geometry):
        raise TypeError(f"inside= must be a GeoDataFrame, GeoSeries or shapely geometry, got {type(inside).__name__}.")
    if inside.is_empty or shapely.get_dimensions(inside) != 2:
        raise InvalidGeometryError("inside= must hold polygons (areas to search in), not points or lines.")
    return inside


def within_rows(within: Any, n: int) -> np.ndarray | None:
    """``within`` as ``(n, 3)`` ``[lat, lon, radius_km]`` rows (one triple is repeated for every query)."""
    if within is None:
        return None
    rows = np.asarray(within, dtype=np.float64)
    if rows.shape == (3,):
        rows = np.repeat(rows[None], n, axis=0)
    if rows.shape != (n, 3):
        raise ValueError(
            f"within= must be (lat, lon, radius_km) or one such row per image ({n} rows); got shape {rows.shape}."
        )
    as_latlon(rows[:, :2], order="latlon")  # validates the centres (NaN, ranges, swapped columns)
    if not (np.isfinite(rows[:, 2]).all() and (rows[:, 2] > 0).all()):
        raise InvalidCoordinatesError("within= radii must be positive numbers of kilometres.")
    return rows


__all__ = ["CHUNK_ROWS", "Retrieval", "inside_mask", "nearest", "normalize", "retrieve", "similarities", "within_rows"]
