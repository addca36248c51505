"""On-disk cache of embeddings, so repeated benchmark runs and pipelines never recompute the same points.

A cache entry is keyed by the encoder's :attr:`~geoembed.LocationEncoder.identity` (class, width and weights sha256,
or a hash of random weights), the ``normalize`` flag and the exact float64 coordinates. Any change to one of them
misses the cache; nothing stale can be returned. Entries are ``.npy`` files under ``<cache_dir>/embeddings/``,
written atomically. Set ``GEOEMBED_CACHE_DIR`` to move the cache; delete the folder to empty it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.atomic import atomic_write
from geoembed.weights import cache_dir

CACHE_FORMAT = "1"


def embeddings_cache_dir() -> Path:
    """Folder of cached embeddings (inside :func:`geoembed.cache_dir`)."""
    return cache_dir() / "embeddings"


def cache_key(identity: str, latlon: np.ndarray, normalize: bool) -> str:
    """sha256 of everything that determines the embeddings of ``latlon``."""
    digest = hashlib.sha256()
    digest.update(f"{CACHE_FORMAT}|{identity}|normalize={bool(normalize)}|".encode())
    digest.update(np.ascontiguousarray(latlon, dtype=np.float64).tobytes())
    return digest.hexdigest()


def embed_points(
    latlon: np.ndarray,
    model: Any,
    *,
    batch_size: int = 8192,
    normalize: bool = False,
    cache: bool = True,
    identity: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """float32 ``(N, D)`` embeddings of validated ``[lat, lon]`` rows, read from / written to the cache.

    ``identity`` may be passed when already known (hashing random weights costs time on large models).
    """
    from geoembed.encode import iter_embeddings

    latlon = np.ascontiguousarray(latlon, dtype=np.float64)
    path = None
    if cache:
        key = cache_key(identity or model.identity, latlon, normalize)
        path = embeddings_cache_dir() / key[:2] / f"{key}.npy"
        if path.is_file():
            try:
                cached = np.load(path, allow_pickle=False)
            except (OSError, ValueError):  # a damaged entry is recomputed, never trusted
                cached = None
            if cached is not None and cached.shape == (len(latlon), model.embedding_dim):
                return cached
    result = np.empty((len(latlon), model.embedding_dim), dtype=np.float32)
    start = 0
    for chunk in iter_embeddings(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress):
        result[start : start + len(chunk)] = chunk
        start += len(chunk)
    if path is not None:
        with atomic_write(path) as tmp:
            np.save(tmp, result, allow_pickle=False)
    return result
