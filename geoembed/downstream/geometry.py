"""Turn any geometry into the points a location encoder embeds.

- Points are used as they are.
- Polygons and multipolygons are represented by ``n_points`` points drawn uniformly *by area*: sampling happens in an
  equal-area projection (EPSG:6933, WGS 84 / NSIDC EASE-Grid 2.0 Global), so a polygon's embedding is the area-weighted
  mean of its embeddings, not a mean skewed towards high latitudes as sampling in degrees would be. ``method=
  "centroid"`` uses the centroid (computed in the same equal-area CRS) instead.
- Lines are sampled uniformly along their length (same CRS).

Embeddings of a geometry's points are then averaged (:func:`aggregate_by_owner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geoembed.errors import InvalidGeometryError

EQUAL_AREA_CRS = "EPSG:6933"
# EPSG:6933 centred on the antimeridian, for the geometries that cross it
ANTIMERIDIAN_EQUAL_AREA_CRS = "+proj=cea +lat_ts=30 +lon_0=180 +datum=WGS84 +units=m +no_defs"
GEOMETRY_METHODS = ("sample", "centroid")


@dataclass(frozen=True)
class GeometryPoints:
    """Points standing for a sequence of geometries: ``latlon[i]`` belongs to geometry ``owner[i]``."""

    latlon: np.ndarray  # (M, 2) float64 [lat, lon]
    owner: np.ndarray  # (M,) int64, positions into the input
    n_geometries: int


def validated_geoseries(geoms: Any, what: str = "geometries"):
    """A GeoSeries in EPSG:4326 after checking CRS, emptiness and validity; errors say which rows and how to fix."""
    import geopandas as gpd

    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if not isinstance(geoms, gpd.GeoSeries):
        raise TypeError(f"{what} must be a GeoSeries or GeoDataFrame, got {type(geoms).__name__}.")
    if len(geoms) == 0:
        raise InvalidGeometryError(f"No {what} given (empty GeoSeries).")
    if geoms.crs is None:
        raise InvalidGeometryError(
            f"The {what} have no CRS, so their coordinates cannot be interpreted. Set it first, e.g. "
            f"gdf.set_crs('EPSG:4326') for longitude/latitude degrees."
        )
    missing = geoms.isna().to_numpy() | geoms.is_empty.to_numpy()
    if missing.any():
        raise InvalidGeometryError(
            f"{int(missing.sum())} of {len(geoms)} {what} are missing or empty (first at position "
            f"{int(np.flatnonzero(missing)[0])}); drop them (gdf[~gdf.geometry.is_empty & gdf.geometry.notna()])."
        )
    invalid = ~geoms.is_valid.to_numpy()
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        import shapely

        reason = shapely.is_valid_reason(geoms.array[first])
        raise InvalidGeometryError(
            f"{int(invalid.sum())} of {len(geoms)} {what} are invalid (first at position {first}: {reason}); repair "
            f"them with gdf.geometry = gdf.geometry.make_valid()."
        )
    types = set(geoms.geom_type)
    unsupported = types - {"Point", "Polygon", "MultiPolygon", "LineString", "MultiLineString"}
    if unsupported:
        raise InvalidGeometryError(
            f"Unsupported geometry types {sorted(unsupported)}: use points, (multi)polygons or (multi)lines."
        )
    return geoms.to_crs("EPSG:4326") if not geoms.crs.equals("EPSG:4326") else geoms


def geometry_points(geoms: Any, *, n_points: int = 16, method: str = "sample", seed: int = 0) -> GeometryPoints:
    """Points for each geometry: the point itself, or ``n_points`` area-uniform samples (or the centroid).

    Sampling is seeded (``seed``), so the same input always yields the same points and hits the embedding cache.
    """
    if method not in GEOMETRY_METHODS:
        raise ValueError(f"method must be one of {GEOMETRY_METHODS}, got {method!r}.")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer, got {n_points!r}.")
    geoms = validated_geoseries(geoms)
    is_point = (geoms.geom_type == "Point").to_numpy()
    latlon = np.empty((len(geoms), 2))
    latlon[is_point, 0] = geoms[is_point].y.to_numpy()
    latlon[is_point, 1] = geoms[is_point].x.to_numpy()
    pieces = [(latlon[is_point], np.flatnonzero(is_point))]
    others = np.flatnonzero(~is_point)
    if len(others):
        projected = geoms.iloc[others].reset_index(drop=True).to_crs(EQUAL_AREA_CRS)
        if method == "centroid":
            anchors = _antimeridian_safe(projected.centroid.to_crs("EPSG:4326"), geoms.iloc[others])
            pieces.append((np.column_stack([anchors.y.to_numpy(), anchors.x.to_numpy()]), others))
        else:
            samples = projected.sample_points(int(n_points), rng=seed).explode(index_parts=False)
            owners = others[samples.index.to_numpy()]
            samples = samples.to_crs("EPSG:4326")
            pieces.append((np.column_stack([samples.y.to_numpy(), samples.x.to_numpy()]), owners))
    all_latlon = np.concatenate([p[0] for p in pieces])
    all_owner = np.concatenate([p[1] for p in pieces]).astype(np.int64)
    order = np.argsort(all_owner, kind="stable")
    return GeometryPoints(all_latlon[order], all_owner[order], len(geoms))


def _antimeridian_safe(centroids: Any, geoms: Any) -> Any:
    """Centroids of geometries that cross the antimeridian (Fiji, Chukotka, the Aleutians West county, stored as parts
    near +180 and -180 degrees), recomputed in the equal-area projection centred on 180 degrees, where their parts are
    contiguous. In EPSG:6933 their centroid falls between the parts, on the far side of the Earth (the Aleutians West
    in Kansas), and with it the spatial block of the row. Geometries spanning over 180 degrees of longitude are
    recomputed when that makes them narrower in projection."""
    bounds = geoms.bounds.to_numpy()
    wide = np.flatnonzero(bounds[:, 2] - bounds[:, 0] > 180)
    if not len(wide):
        return centroids
    centroids = centroids.copy()
    candidates = geoms.iloc[wide]
    widths = [np.ptp(candidates.to_crs(crs).bounds.to_numpy()[:, [0, 2]], axis=1)
              for crs in (EQUAL_AREA_CRS, ANTIMERIDIAN_EQUAL_AREA_CRS)]
    better = wide[widths[1] < widths[0]]
    shifted = geoms.iloc[better].to_crs(ANTIMERIDIAN_EQUAL_AREA_CRS).centroid.to_crs("EPSG:4326")
    centroids.iloc[better] = shifted.to_numpy()
    return centroids


def anchor_points(geoms: Any) -> np.ndarray:
    """One ``[lat, lon]`` per geometry (the point, or the equal-area centroid): used to place rows in spatial blocks."""
    return geometry_points(geoms, method="centroid").latlon


def aggregate_by_owner(embeddings: np.ndarray, owner: np.ndarray, n_geometries: int) -> np.ndarray:
    """Mean embedding per geometry (points are area-uniform, so this is the area-weighted mean)."""
    sums = np.zeros((n_geometries, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, embeddings)
    counts = np.bincount(owner, minlength=n_geometries)
    if (counts == 0).any():
        raise InvalidGeometryError(
            f"{int((counts == 0).sum())} geometries got no sample points (first at position "
            f"{int(np.flatnonzero(counts == 0)[0])}); they may be degenerate (zero area or length)."
        )
    return (sums / counts[:, None]).astype(np.float32)
