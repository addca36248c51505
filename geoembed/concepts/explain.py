"""Explain places with concepts: top concepts per place, full concept profiles, and concept maps of the world.

The bank must live in the location encoder's space (a bank fitted on geodata with that encoder, or a text bank whose
text encoder was trained into the same space); anything else is refused, because similarities between vectors of two
unrelated spaces are meaningless even when their widths match.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.concepts.bank import ConceptBank, load_concept_bank, location_space

DEFAULT_BANK = "geodata.geoclip"
DEFAULT_ENCODER = "geoclip"
GEOCLIP_SPACE = "location:geoclip.mp16"  # pretrained GeoCLIP's location space (see location_space)


def score_places(
    latlon: np.ndarray,
    bank: Any = DEFAULT_BANK,
    encoder: Any = DEFAULT_ENCODER,
    *,
    category: str | None = None,
    device: Any = None,
    batch_size: int = 8192,
    progress: bool = False,
    **encoder_kwargs: Any,
) -> tuple[ConceptBank, np.ndarray]:
    """Scores ``(N, K)`` of validated ``[lat, lon]`` rows against a bank (optionally one category of it)."""
    from geoembed.location_encoders.encode import encode_location, get_location_encoder

    bank = load_concept_bank(bank)
    if category is not None:
        bank = bank.select(category=category)
    model = get_location_encoder(encoder, device=device, **encoder_kwargs)
    encoder_name = encoder if isinstance(encoder, str) else type(encoder).__name__
    space = location_space(model)
    hint = (" For pretrained GeoCLIP: bank='geodata.geoclip' (shipped), or a text bank embedded into GeoCLIP's space "
            "with load_concept_bank('geography', text_encoder='geoclip') when the CLIP ViT-L/14 weights are available."
            if space == GEOCLIP_SPACE else "")
    bank.check_compatible(model.embedding_dim, space, what=f"the location embeddings of {encoder_name!r}", hint=hint)
    embeddings = encode_location(latlon, order="latlon", encoder=model, batch_size=batch_size, progress=progress)
    return bank, bank.score(embeddings)


def concept_profile(points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                    bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, category: str | None = None,
                    device: Any = None, progress: bool = False, **encoder_kwargs: Any):
    """Every concept's score for every place: a DataFrame with one row per place and one column per concept."""
    import pandas as pd

    from geoembed.coords import as_latlon

    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    bank, scores = score_places(latlon, bank, encoder, category=category, device=device, progress=progress,
                                **encoder_kwargs)
    return pd.DataFrame(scores, columns=bank.names)


def explain_locations(points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                      bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, top_k: int = 5,
                      category: str | None = None, device: Any = None, progress: bool = False,
                      **encoder_kwargs: Any):
    """The ``top_k`` concepts of each place, as a tidy DataFrame.

    Columns: ``point`` (row of the input), ``lat``, ``lon``, ``rank`` (1 = best), ``concept``, ``category``,
    ``score`` (probability for a linear bank such as ``geodata.geoclip``, cosine similarity for a cosine bank).
    """
    import pandas as pd

    from geoembed.coords import as_latlon

    _check_top_k(top_k)
    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    bank, scores = score_places(latlon, bank, encoder, category=category, device=device, progress=progress,
                                **encoder_kwargs)
    k = min(top_k, len(bank))
    order_idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    n = len(latlon)
    point = np.repeat(np.arange(n), k)
    concept_idx = order_idx.ravel()
    return pd.DataFrame({
        "point": point,
        "lat": latlon[point, 0],
        "lon": latlon[point, 1],
        "rank": np.tile(np.arange(1, k + 1), n),
        "concept": np.asarray(bank.names, dtype=object)[concept_idx],
        "category": np.asarray(bank.categories, dtype=object)[concept_idx],
        "score": scores[point, concept_idx],
    })


def explain_location(lat: float | None = None, lon: float | None = None, *, point: Any = None,
                     bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, top_k: int = 5,
                     category: str | None = None, device: Any = None, **encoder_kwargs: Any):
    """The ``top_k`` concepts of one place: a DataFrame with ``concept``, ``category``, ``score``, ``rank``.

    >>> geoembed.explain_location(lat=27.98, lon=86.92, top_k=3)     # doctest: +SKIP
    """
    from geoembed.coords import as_latlon

    latlon = as_latlon(point, lat=lat, lon=lon, order="latlon" if point is not None else None)
    if len(latlon) != 1:
        raise ValueError(f"explain_location explains one place, got {len(latlon)}; use explain_locations for many.")
    table = explain_locations(latlon, order="latlon", bank=bank, encoder=encoder, top_k=top_k, category=category,
                              device=device, **encoder_kwargs)
    return table[["concept", "category", "score", "rank"]].reset_index(drop=True)


#: Default memory limit of :func:`concept_map`, in GB (10**9 bytes): a map whose estimate exceeds it is refused.
MAP_MEMORY_LIMIT_GB = 4.0
_GRID_BYTES_PER_CELL = 48  # building the global grid: meshgrid lat + lon, the stacked (M, 2) copy, the land mask
_MAP_BYTES_PER_CELL = 32  # per scored cell besides its embedding: coordinates, score, the plotted raster


def map_cells(step_deg: float) -> int:
    """Cells of the global ``step_deg`` grid (what :func:`geoembed.geo.global_grid` builds before any filter)."""
    n_lat = int(np.ceil(180 / step_deg - 0.5))
    n_lon = int(np.ceil(360 / step_deg - 0.5))
    return n_lat * n_lon


def map_memory_bytes(step_deg: float, embedding_dim: int) -> int:
    """Estimated peak memory of a concept map: every cell of the grid, its ``embedding_dim`` float32 embedding, its
    score and its pixel. Land-only maps and extents keep fewer cells; the estimate is the whole grid's."""
    return map_cells(step_deg) * (_GRID_BYTES_PER_CELL + _MAP_BYTES_PER_CELL + 4 * int(embedding_dim))


def check_map_size(step_deg: float, embedding_dim: int, memory_limit_gb: float = MAP_MEMORY_LIMIT_GB) -> None:
    """Refuse, before any allocation, a map whose estimated memory exceeds ``memory_limit_gb``."""
    if not (isinstance(step_deg, (int, float)) and np.isfinite(step_deg) and 0 < step_deg <= 90):
        raise ValueError(f"step_deg (--step) must be a number of degrees in (0, 90], got {step_deg!r}.")
    if not (isinstance(memory_limit_gb, (int, float)) and np.isfinite(memory_limit_gb) and memory_limit_gb > 0):
        raise ValueError(f"memory_limit_gb (--memory-limit) must be a positive number, got {memory_limit_gb!r}.")
    need = map_memory_bytes(step_deg, embedding_dim)
    if need <= memory_limit_gb * 1e9:
        return
    from geoembed.errors import ResourceLimitError

    per_cell = need / map_cells(step_deg)
    fitting = float(f"{np.sqrt(180 * 360 * per_cell / (memory_limit_gb * 1e9)) * 1.05:.2g}")
    raise ResourceLimitError(
        f"A concept map with step {step_deg:g} deg has {map_cells(step_deg):,} cells; with {embedding_dim}-d "
        f"embeddings it needs about {need / 1e9:,.1f} GB of memory, over the limit of {memory_limit_gb:g} GB. Use a "
        f"coarser step (step_deg={fitting:g}, --step {fitting:g}, fits), or raise the limit (memory_limit_gb=, "
        f"--memory-limit GB) if this machine has the memory."
    )


def concept_map(concept: str, *, bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER,
                out: str | os.PathLike = "concept_map.png", step_deg: float = 1.0, land_only: bool = False,
                extent: tuple[float, float, float, float] | None = None, title: str | None = None,
                cmap: str = "magma", device: Any = None, progress: bool = False,
                memory_limit_gb: float = MAP_MEMORY_LIMIT_GB, **encoder_kwargs: Any) -> Path:
    """Draw one concept's score over a global grid as a PNG world map (like GeoCLIP's text-query maps).

    ``extent`` (``lon_min, lon_max, lat_min, lat_max``) limits the map to a region, for example to leave out
    Antarctica when the bank was fitted without it. A grid whose estimated memory (:func:`map_memory_bytes`) exceeds
    ``memory_limit_gb`` is refused up front, with the step that would fit.
    """
    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.geo import global_grid
    from geoembed.maps import plot_world

    single = load_concept_bank(bank).select(names=[concept])  # an unknown concept fails here, before encoding
    model = get_location_encoder(encoder, device=device, **encoder_kwargs)
    check_map_size(step_deg, model.embedding_dim, memory_limit_gb)
    grid = global_grid(step_deg, land_only=land_only)
    if extent is not None:
        lon_min, lon_max, lat_min, lat_max = extent
        if not (lon_min < lon_max and lat_min < lat_max):
            raise ValueError(f"extent must be (lon_min, lon_max, lat_min, lat_max) with min < max, got {extent}.")
        inside = ((grid[:, 1] >= lon_min) & (grid[:, 1] <= lon_max) & (grid[:, 0] >= lat_min)
                  & (grid[:, 0] <= lat_max))
        if not inside.any():
            raise ValueError(f"No {step_deg} deg grid cell lies inside extent {extent}.")
        grid = grid[inside]
    resolved, scores = score_places(grid, single, encoder, device=device, progress=progress, **encoder_kwargs)
    linear = resolved.scoring == "linear"
    plot_world(grid, scores[:, 0], out, grid_step=step_deg, extent=extent, cmap=cmap, vmin=0.0 if linear else None,
               vmax=1.0 if linear else None, title=title or f"concept: {concept}",
               label="probability" if linear else "cosine similarity")
    return Path(out)


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
