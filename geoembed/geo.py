"""Small geographic helpers shared across geoembed: distances, land masks, sampling and grids on the sphere."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), the usual choice for geodesic accuracy thresholds


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (NumPy broadcasting applies)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@functools.lru_cache(maxsize=1)
def countries():
    """Natural Earth 1:110m countries (177 polygons, EPSG:4326) shipped with geoembed; see ``geoembed/data/README.md``."""
    import geopandas as gpd

    with resources.as_file(resources.files("geoembed") / "data" / "naturalearth_lowres.parquet") as path:
        return gpd.read_parquet(path)


@functools.lru_cache(maxsize=1)
def _land_union():
    import shapely

    geom = shapely.union_all(countries().geometry.array)
    shapely.prepare(geom)
    return geom


def is_land(lat, lon) -> np.ndarray:
    """True where a point lies on land (Natural Earth 1:110m countries, Antarctica included; ~10 km coastline detail)."""
    import shapely

    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    return shapely.contains_xy(_land_union(), lon, lat)


def sample_sphere(n: int, seed: int = 0) -> np.ndarray:
    """``n`` points uniform on the sphere (equal area, not equal degrees), as ``(n, 2)`` ``[lat, lon]``."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    lon = rng.uniform(-180.0, 180.0, n)
    return np.column_stack([lat, lon])


def sample_land_points(n: int, seed: int = 0, *, include_antarctica: bool = False) -> np.ndarray:
    """``n`` points uniform over land (by area), as ``(n, 2)`` ``[lat, lon]``; reproducible for a given seed."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}.")
    rng_seed = seed
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        candidates = sample_sphere(max(4 * (n - total), 1024), seed=rng_seed)
        rng_seed += 1_000_003  # a new, still deterministic, stream for the next round
        keep = is_land(candidates[:, 0], candidates[:, 1])
        if not include_antarctica:
            keep &= candidates[:, 0] > -60
        found.append(candidates[keep])
        total += int(keep.sum())
    return np.concatenate(found)[:n]


def global_grid(step_deg: float = 1.0, *, land_only: bool = False) -> np.ndarray:
    """Cell centres of a regular ``step_deg`` lat/lon grid as ``(M, 2)`` ``[lat, lon]``, optionally land cells only."""
    if not 0 < step_deg <= 90:
        raise ValueError(f"step_deg must be in (0, 90], got {step_deg}.")
    lats = np.arange(-90 + step_deg / 2, 90, step_deg)
    lons = np.arange(-180 + step_deg / 2, 180, step_deg)
    lat, lon = np.meshgrid(lats, lons, indexing="ij")
    grid = np.column_stack([lat.ravel(), lon.ravel()])
    if land_only:
        grid = grid[is_land(grid[:, 0], grid[:, 1])]
    return grid
