"""On-disk cache of embeddings, so repeated benchmark runs and pipelines never recompute the same points.

A cache entry is keyed by the encoder's :attr:`~geoembed.LocationEncoder.identity` (class, width and weights sha256,
or a hash of random weights), the ``normalize`` flag and the exact float64 coordinates. Any change to one of them
misses the cache; nothing stale can be returned. Entries live under ``<cache_dir>/embeddings/`` in geoembed's one
disk cache (:mod:`geoembed.cache`): each is checksummed together with the key it answers for, so an entry that was
damaged, edited or copied from other points is recomputed (with a warning), never returned. Set
``GEOEMBED_CACHE_DIR`` to move the cache; delete the folder to empty it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geoembed import cache as disk
from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE

CACHE_FORMAT = "2"
STORE = disk.DiskCache("embeddings", shard=True)


def embeddings_cache_dir() -> Path:
    """Folder of cached embeddings (inside :func:`geoembed.cache_dir`)."""
    return STORE.directory


def cache_key(identity: str, latlon: np.ndarray, normalize: bool) -> str:
    """sha256 of everything that determines the embeddings of ``latlon``."""
    return disk.cache_key("point-embeddings", CACHE_FORMAT, identity, f"normalize={bool(normalize)}",
                          np.ascontiguousarray(latlon, dtype=np.float64))


def embed_points(
    latlon: np.ndarray,
    model: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    normalize: bool = False,
    cache: bool = True,
    identity: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """float32 ``(N, D)`` embeddings of validated ``[lat, lon]`` rows, read from / written to the cache (computed by
    :func:`geoembed.location_encoders.encode.embed_latlon`, the one encode loop).

    ``identity`` may be passed when already known (hashing random weights costs time on large models).
    """
    from geoembed.location_encoders.encode import embed_latlon

    latlon = np.ascontiguousarray(latlon, dtype=np.float64)
    key = None
    if cache:
        identity = identity or model.identity
        key = cache_key(identity, latlon, normalize)
        cached = STORE.load(key, shape=(len(latlon), model.embedding_dim), dtype=np.float32)
        if cached is not None:
            return cached
    result = embed_latlon(latlon, model, batch_size=batch_size, normalize=normalize, progress=progress)
    if key is not None:
        STORE.save(key, result, info={"points": len(latlon), "encoder": identity, "normalize": bool(normalize)})
    return result
