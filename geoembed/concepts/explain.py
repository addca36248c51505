"""Explain places with concepts: top concepts per place, full concept profiles, sparse explanations and concept maps.

Any bank works whose space the location encoder reaches: a bank in the encoder's own space (fitted on geodata with
that encoder), or a text bank (``ConceptBank.from_texts(...)``, ``geography``, ``generic``) through a registered
concept projection from the encoder's space into the bank's text space (:mod:`geoembed.concepts.projection`).
Anything else is refused, because similarities between vectors of two unrelated spaces are meaningless even when
their widths match. Cosine scores are standardised against a global reference sample of places by default, so that
scores of different concepts compare (:mod:`geoembed.concepts.scoring`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.concepts.bank import load_concept_bank
from geoembed.concepts.scoring import SPARSE_ALPHA, ConceptScorer, sparse_decompose

DEFAULT_BANK = "geodata.geoclip"
DEFAULT_ENCODER = "geoclip"
METHODS = ("top", "sparse")


def score_places(
    latlon: np.ndarray,
    bank: Any = DEFAULT_BANK,
    encoder: Any = DEFAULT_ENCODER,
    *,
    category: str | None = None,
    projection: Any = None,
    standardize: bool = False,
    reference: Any = None,
    device: Any = None,
    batch_size: int = 8192,
    progress: bool = False,
    **encoder_kwargs: Any,
):
    """Scores ``(N, K)`` of validated ``[lat, lon]`` rows against a bank (optionally one category of it).

    Returns ``(bank, scores)``: raw scores (cosine or probability) unless ``standardize`` (then z-scores against the
    reference places).
    """
    scorer = ConceptScorer(bank, encoder, category=category, projection=projection, device=device, **encoder_kwargs)
    raw, z = scorer.scores(latlon, standardize=standardize, reference=reference, batch_size=batch_size,
                           progress=progress)
    return scorer.bank, raw if z is None else z


def concept_profile(points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                    bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, category: str | None = None,
                    projection: Any = None, standardize: bool = False, reference: Any = None,
                    device: Any = None, progress: bool = False, **encoder_kwargs: Any):
    """Every concept's score for every place: a DataFrame with one row per place and one column per concept.

    Scores are as in :func:`explain_locations` (raw, or z-scores with ``standardize=True``).
    """
    import pandas as pd

    from geoembed.coords import as_latlon

    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    scorer = ConceptScorer(bank, encoder, category=category, projection=projection, device=device, **encoder_kwargs)
    raw, z = scorer.scores(latlon, standardize=standardize, reference=reference, progress=progress)
    frame = pd.DataFrame(raw if z is None else z, columns=scorer.bank.names)
    frame.attrs.update(_describe(scorer, z is not None, reference))
    return frame


def explain_locations(points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                      bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, top_k: int = 5,
                      category: str | None = None, method: str = "top", standardize: bool = False,
                      reference: Any = None, projection: Any = None, alpha: float = SPARSE_ALPHA,
                      device: Any = None, progress: bool = False, **encoder_kwargs: Any):
    """The ``top_k`` concepts of each place, as a tidy DataFrame.

    Args:
        bank: a registered name, a saved folder or a :class:`~geoembed.ConceptBank`; a text bank is scored through
            the registered concept projection from ``encoder``'s space into the bank's (or ``projection=``).
        method: ``"top"``: the highest-scoring concepts; ``"sparse"``: a non-negative sparse decomposition of each
            place's vector over the bank's concept vectors (cosine banks; see
            :func:`geoembed.concepts.scoring.sparse_decompose`), with L1 penalty ``alpha``.
        standardize: ``"top"`` only. ``False`` (default): raw scores (cosine, or probability for linear banks);
            ``True``: z-scores of each concept against the reference places ("how unusual is this concept's score
            here"), which favour distinctive concepts over strong ones (see ``docs/concepts.md`` for what each
            measured).
        reference: the reference places (``None``: 10,000 land points, seed 0; an int: that many; or ``[lat, lon]``
            rows); also the places whose mean centres the vectors for ``"sparse"``.
        projection: a registered concept projection name or object, to choose one explicitly.

    Columns: ``point`` (row of the input), ``lat``, ``lon``, ``rank`` (1 = best), ``concept``, ``category``, then
    for ``"top"``: ``score`` (the z-score when standardised, else the raw score) and, when standardised,
    ``raw_score`` (cosine); for ``"sparse"``: ``weight`` (the concept's coefficient, > 0; only concepts with one are
    listed) and ``reconstruction_cosine`` (cosine between the place's centred vector and the weighted sum of
    concepts: how much of the place the few concepts explain).
    """
    import pandas as pd

    from geoembed.coords import as_latlon

    _check_top_k(top_k)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    scorer = ConceptScorer(bank, encoder, category=category, projection=projection, device=device, **encoder_kwargs)
    bank = scorer.bank
    names = np.asarray(bank.names, dtype=object)
    categories = np.asarray(bank.categories, dtype=object)
    if method == "sparse":
        weights, cosine = _sparse(scorer, latlon, alpha=alpha, reference=reference, progress=progress)
        rows = []
        for i in range(len(latlon)):
            chosen = np.flatnonzero(weights[i] > 0)
            chosen = chosen[np.argsort(-weights[i, chosen], kind="stable")][:top_k]
            for rank, j in enumerate(chosen, start=1):
                rows.append((i, latlon[i, 0], latlon[i, 1], rank, names[j], categories[j], float(weights[i, j]),
                             float(cosine[i])))
        table = pd.DataFrame(rows, columns=["point", "lat", "lon", "rank", "concept", "category", "weight",
                                            "reconstruction_cosine"])
        table.attrs.update(_describe(scorer, False, reference), method="sparse", alpha=float(alpha),
                           score="sparse weight (non-negative lasso coefficient)")
        return table

    raw, z = scorer.scores(latlon, standardize=standardize, reference=reference, progress=progress)
    scores = raw if z is None else z
    k = min(top_k, len(bank))
    order_idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    n = len(latlon)
    point = np.repeat(np.arange(n), k)
    concept_idx = order_idx.ravel()
    columns = {
        "point": point,
        "lat": latlon[point, 0],
        "lon": latlon[point, 1],
        "rank": np.tile(np.arange(1, k + 1), n),
        "concept": names[concept_idx],
        "category": categories[concept_idx],
        "score": scores[point, concept_idx],
    }
    if z is not None:
        columns["raw_score"] = raw[point, concept_idx]
    table = pd.DataFrame(columns)
    table.attrs.update(_describe(scorer, z is not None, reference), method="top")
    return table


def explain_location(lat: float | None = None, lon: float | None = None, *, point: Any = None,
                     bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, top_k: int = 5,
                     category: str | None = None, method: str = "top", standardize: bool = False,
                     reference: Any = None, projection: Any = None, alpha: float = SPARSE_ALPHA,
                     device: Any = None, **encoder_kwargs: Any):
    """The ``top_k`` concepts of one place: a DataFrame with ``concept``, ``category``, ``score``, ``rank`` (and
    ``raw_score`` when standardised); with ``method="sparse"``: ``concept``, ``category``, ``weight``, ``rank``,
    ``reconstruction_cosine``. Options as in :func:`explain_locations`.

    >>> geoembed.explain_location(lat=27.98, lon=86.92, top_k=3)                           # doctest: +SKIP
    >>> geoembed.explain_location(lat=48.86, lon=2.35, bank="geography", method="sparse")  # doctest: +SKIP
    """
    from geoembed.coords import as_latlon

    latlon = as_latlon(point, lat=lat, lon=lon, order="latlon" if point is not None else None)
    if len(latlon) != 1:
        raise ValueError(f"explain_location explains one place, got {len(latlon)}; use explain_locations for many.")
    table = explain_locations(latlon, order="latlon", bank=bank, encoder=encoder, top_k=top_k, category=category,
                              method=method, standardize=standardize, reference=reference, projection=projection,
                              alpha=alpha, device=device, **encoder_kwargs)
    if method == "sparse":
        keep = ["concept", "category", "weight", "rank", "reconstruction_cosine"]
    else:
        keep = ["concept", "category", "score", "rank"] + (["raw_score"] if "raw_score" in table else [])
    out = table[keep].reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def sparse_explanation(points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                       bank: Any = DEFAULT_BANK, encoder: Any = DEFAULT_ENCODER, category: str | None = None,
                       alpha: float = SPARSE_ALPHA, reference: Any = None, projection: Any = None,
                       center: bool = True, device: Any = None, progress: bool = False, **encoder_kwargs: Any):
    """The full sparse decomposition of places over a cosine bank: ``(weights, reconstruction_cosine)``.

    ``weights`` is a DataFrame (one row per place, one column per concept, zeros where a concept is not used);
    ``reconstruction_cosine`` an array with one value per place. ``center=False`` skips SpLiCE's mean-centring.
    """
    import pandas as pd

    from geoembed.coords import as_latlon

    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    scorer = ConceptScorer(bank, encoder, category=category, projection=projection, device=device, **encoder_kwargs)
    weights, cosine = _sparse(scorer, latlon, alpha=alpha, reference=reference, center=center, progress=progress)
    return pd.DataFrame(weights, columns=scorer.bank.names), cosine


def _sparse(scorer: ConceptScorer, latlon: np.ndarray, *, alpha: float, reference: Any, center: bool = True,
            progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    from geoembed.errors import ConceptBankError

    bank = scorer.bank
    if bank.scoring != "cosine":
        raise ConceptBankError(
            f"method='sparse' writes a place's vector as a sum of concept directions, so it needs a cosine bank (text "
            f"concepts or prototypes); this bank holds linear probes (scoring='linear') in {bank.space!r}. Use "
            f"method='top' with it, or a text bank such as 'geography'."
        )
    vectors = scorer.vectors(latlon, progress=progress)
    concepts = bank.embeddings.numpy().astype(np.float64)
    vector_mean = concept_mean = None
    if center:
        vector_mean = scorer.reference(reference, progress=progress).center
        unit = concepts / np.maximum(np.linalg.norm(concepts, axis=1, keepdims=True), 1e-12)
        concept_mean = unit.mean(axis=0)
    return sparse_decompose(vectors, concepts, alpha=alpha, vector_mean=vector_mean, concept_mean=concept_mean)


def _describe(scorer: ConceptScorer, standardized: bool, reference: Any) -> dict:
    """What the scores of a table are, for its ``attrs``."""
    from geoembed.concepts.scoring import REFERENCE_POINTS

    if standardized:
        size = (REFERENCE_POINTS if reference is None else reference if isinstance(reference, (int, np.integer))
                else len(reference))
        score = f"z-score against {size:,} reference places"
    else:
        score = "probability" if scorer.bank.scoring == "linear" else "cosine similarity"
    return {"score": score, "bank_space": scorer.bank.space, "location_space": scorer.space,
            "projection": scorer.projection_name or (None if scorer.projection is None
                                                     else type(scorer.projection).__name__)}


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
                cmap: str = "magma", projection: Any = None, standardize: bool = False,
                reference: Any = None, device: Any = None, progress: bool = False,
                memory_limit_gb: float = MAP_MEMORY_LIMIT_GB, **encoder_kwargs: Any) -> Path:
    """Draw one concept's score over a global grid as a PNG world map (like GeoCLIP's text-query maps).

    ``extent`` (``lon_min, lon_max, lat_min, lat_max``) limits the map to a region, for example to leave out
    Antarctica when the bank was fitted without it. A grid whose estimated memory (:func:`map_memory_bytes`) exceeds
    ``memory_limit_gb`` is refused up front, with the step that would fit. Text banks are scored through a concept
    projection; ``standardize=True`` draws z-scores against the reference places (as in :func:`explain_locations`).
    """
    from geoembed.geo import global_grid
    from geoembed.maps import plot_world

    single = load_concept_bank(bank).select(names=[concept])  # an unknown concept fails here, before encoding
    scorer = ConceptScorer(single, encoder, projection=projection, device=device, **encoder_kwargs)
    width = scorer.model.embedding_dim + (0 if scorer.projection is None else scorer.projection.embedding_dim)
    check_map_size(step_deg, width, memory_limit_gb)
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
    raw, z = scorer.scores(grid, standardize=standardize, reference=reference, progress=progress)
    linear = scorer.bank.scoring == "linear" and z is None
    label = _describe(scorer, z is not None, reference)["score"]
    plot_world(grid, (raw if z is None else z)[:, 0], out, grid_step=step_deg, extent=extent, cmap=cmap,
               vmin=0.0 if linear else None, vmax=1.0 if linear else None, title=title or f"concept: {concept}",
               label=label)
    return Path(out)


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
