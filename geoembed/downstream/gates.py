"""Data gates for benchmark tasks: checks that a task's rows are what its record says they are.

A task declares its gates as plain data (``Task.gates``, stored in ``manifest.json`` for the built-in tasks), one
entry per gate name with that gate's parameters, e.g.::

    {"region": {"name": "Georgia, USA", "bbox": [-85.7, 30.3, -80.8, 35.05], "countries": ["United States of America"]},
     "values": {"min": 0, "max": 100, "sentinels": [-9999]},
     "land": {"min_fraction": 0.9, "per_geometry_min": 0.5},
     "source": {"max_abs_diff": 0.0}}

:func:`check_task` runs every declared gate and returns one :class:`GateResult` per gate; :func:`assert_task` raises
:class:`TaskGateError` naming each failed gate and its evidence. The gates (all in :data:`GATES`):

- ``region``: every point (polygons: area-uniform sample points) inside the documented bounding box, outside any
  ``exclude_countries`` and, with ``countries``, inside those Natural Earth countries
  (``geoembed/data/naturalearth_lowres.parquet``; 1:110m, so a ``tolerance_km`` absorbs its coarse coastlines);
  and near the finer outline the build reads from the source (``context.region_polygon``, ``outline_tolerance_km``).
  A dataset read in the wrong CRS lands elsewhere and fails here.
- ``values``: numeric targets within ``[min, max]`` in the documented units, none equal to a nodata ``sentinels``
  code; classification targets within the declared ``classes``.
- ``land``: points on land (global-land-mask, 30 arc-seconds; a point within ``tolerance_km`` of land counts), and
  for polygons at most half (``per_geometry_min``) of any polygon's area on water. The build adds inland water from
  its source (``context.water``), except for the rows listed in ``coarse_water_exempt`` (id: reason), islands
  smaller than that source's cells.
- ``anchors``: the point that places a polygon in a spatial CV block (``anchor_points``) lies within ``max_km`` of
  the polygon or in a block holding part of it: an antimeridian-crossing polygon whose centroid falls on the other
  side of the Earth fails.
- ``class_blocks``: every class occupies at least ``min_blocks`` spatial blocks of ``block_size_deg``, so spatial CV
  can train on it when one block is held out.
- ``min_spacing_km``: rows selected by ``where`` are at least ``km`` apart (spatially thinned occurrences).
- ``source``: the stored targets equal the source re-read at the stored rows (``context.source``, a callable the build
  gives; skipped where the source files are not available).

New tasks reuse these by declaring them; a new kind of check is one function added to :data:`GATES`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from geoembed.errors import DataFileError
from geoembed.geo import EARTH_RADIUS_KM, countries, haversine_km

KM_PER_DEG = np.pi * EARTH_RADIUS_KM / 180.0  # ~111.2 km per degree of latitude
SAMPLE_POINTS = 16  # area-uniform points per polygon for the region and land gates (as the benchmark embeds them)


class TaskGateError(DataFileError):
    """A task whose data fails one of its declared gates (wrong region, units, sentinels, water, source...)."""


@dataclass
class GateResult:
    """Outcome of one gate on one task: ``passed`` (or ``skipped``) and the evidence, in words and figures."""

    gate: str
    passed: bool
    message: str
    skipped: bool = False
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"gate": self.gate, "passed": self.passed, "skipped": self.skipped, "message": self.message,
                **({"figures": self.figures} if self.figures else {})}


@dataclass
class GateContext:
    """What the build knows beyond the shipped data.

    Attributes:
        source: ``source(task) -> array`` of the target re-read from the source files at the stored rows (same
            order); enables the ``source`` gate.
        water: ``water(latlon) -> bool array``, extra water (inland lakes, from a source raster) for the ``land``
            gate.
        region_polygon: a finer outline of the documented region (shapely geometry, EPSG:4326) from the source.
    """

    source: Callable[[Any], np.ndarray] | None = None
    water: Callable[[np.ndarray], np.ndarray] | None = None
    region_polygon: Any = None


# -- helpers -----------------------------------------------------------------------------------------------------
def _points_of(task, n_points: int = SAMPLE_POINTS):
    """``(latlon, owner)``: points as they are; polygons as area-uniform samples (seed 0, like the benchmark)."""
    from geoembed.downstream.geometry import geometry_points

    gp = geometry_points(task.data.geometry, n_points=n_points, method="sample", seed=0)
    return gp.latlon, gp.owner


def _is_point_task(task) -> bool:
    return bool((task.data.geom_type == "Point").all())


@functools.lru_cache(maxsize=1)
def _globe():
    try:
        from global_land_mask import globe
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return globe


def land_mask_available() -> bool:
    """True when the ``global-land-mask`` package (the land gate's mask) is installed."""
    return _globe() is not None


def is_land_fine(latlon: np.ndarray, tolerance_km: float = 0.0) -> np.ndarray:
    """Land at 30 arc-seconds (global-land-mask); with ``tolerance_km``, land within that distance (8 directions)."""
    globe = _globe()
    if globe is None:
        raise ImportError("the land gate needs the global-land-mask package: pip install global-land-mask")
    lat = np.clip(latlon[:, 0], -89.999, 89.999)
    lon = np.mod(latlon[:, 1] + 180.0, 360.0) - 180.0
    land = np.asarray(globe.is_land(lat, lon), dtype=bool)
    if tolerance_km > 0:
        dlat = tolerance_km / KM_PER_DEG
        dlon = dlat / np.maximum(np.cos(np.radians(lat)), 0.05)
        for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1), (0.7, 0.7), (0.7, -0.7), (-0.7, 0.7), (-0.7, -0.7)):
            la = np.clip(lat + a * dlat, -89.999, 89.999)
            lo = np.mod(lon + b * dlon + 180.0, 360.0) - 180.0
            land |= np.asarray(globe.is_land(la, lo), dtype=bool)
    return land


def _distance_to_geometry_km(geom, latlon: np.ndarray) -> np.ndarray:
    """Approximate distance in km from points to a lon/lat geometry (0 inside; degrees scaled at each point)."""
    import shapely

    inside = shapely.contains_xy(geom, latlon[:, 1], latlon[:, 0])
    out = np.zeros(len(latlon))
    rows = np.flatnonzero(~inside)
    if len(rows):
        pts = shapely.points(latlon[rows, 1], latlon[rows, 0])
        nearest = shapely.shortest_line(pts, geom)
        coords = shapely.get_coordinates(nearest).reshape(-1, 2, 2)
        out[rows] = haversine_km(coords[:, 0, 1], coords[:, 0, 0], coords[:, 1, 1], coords[:, 1, 0])
    return out


def _where(task, where: dict | None) -> np.ndarray:
    mask = np.ones(len(task.data), dtype=bool)
    for column, value in (where or {}).items():
        mask &= task.data[column].astype(str).to_numpy() == str(value)
    return mask


def _examples(labels, limit: int = 5) -> str:
    labels = list(labels)
    return ", ".join(map(str, labels[:limit])) + (f" (+{len(labels) - limit} more)" if len(labels) > limit else "")


# -- the gates -----------------------------------------------------------------------------------------------------
def gate_region(task, params: dict, context: GateContext) -> GateResult:
    """Points (or polygon samples) inside the documented bbox, countries and (from the source) outline."""
    import shapely

    name = params.get("name", "the documented region")
    tol = float(params.get("tolerance_km", 25.0))
    min_fraction = float(params.get("min_fraction", 1.0))
    latlon, owner = _points_of(task)
    ok = np.ones(len(latlon), dtype=bool)
    problems = []
    if "bbox" in params:
        west, south, east, north = params["bbox"]
        pad_lat = tol / KM_PER_DEG
        pad_lon = pad_lat / max(np.cos(np.radians(max(abs(south), abs(north)))), 0.05)
        in_box = (latlon[:, 0] >= south - pad_lat) & (latlon[:, 0] <= north + pad_lat)
        if west <= east:
            in_box &= (latlon[:, 1] >= west - pad_lon) & (latlon[:, 1] <= east + pad_lon)
        else:  # box across the antimeridian
            in_box &= (latlon[:, 1] >= west - pad_lon) | (latlon[:, 1] <= east + pad_lon)
        if not in_box.all():
            bad = np.flatnonzero(~in_box)
            problems.append(f"{len(bad)} of {len(latlon)} points outside the box {params['bbox']} (first at "
                            f"lat={latlon[bad[0], 0]:.3f}, lon={latlon[bad[0], 1]:.3f})")
        ok &= in_box
    outlines = []
    if params.get("countries"):
        ne = countries()
        wanted = set(params["countries"])
        known = set(ne["name"])
        if wanted - known:
            raise ValueError(f"region gate: unknown Natural Earth country names {sorted(wanted - known)}.")
        outlines.append(("Natural Earth " + "/".join(sorted(wanted)),
                         shapely.union_all(ne.loc[ne["name"].isin(wanted), "geometry"].array), tol))
    if params.get("exclude_countries"):
        ne = countries()
        excluded = ne.loc[ne["name"].isin(params["exclude_countries"]), "geometry"]
        if len(excluded) != len(set(params["exclude_countries"])):
            raise ValueError(f"region gate: unknown Natural Earth country names in {params['exclude_countries']}.")
        geom = shapely.union_all(excluded.array)
        shapely.prepare(geom)
        hit = shapely.contains_xy(geom, latlon[:, 1], latlon[:, 0])
        if hit.any():
            first = int(np.flatnonzero(hit)[0])
            problems.append(f"{int(hit.sum())} points in excluded {'/'.join(params['exclude_countries'])} (first at "
                            f"lat={latlon[first, 0]:.3f}, lon={latlon[first, 1]:.3f})")
        ok &= ~hit
    if context.region_polygon is not None:
        outlines.append(("the source outline", context.region_polygon, float(params.get("outline_tolerance_km", 2.0))))
    for label, geom, tolerance in outlines:
        shapely.prepare(geom)
        near = _distance_to_geometry_km(geom, latlon) <= tolerance
        if not near.all():
            bad = np.flatnonzero(~near)
            problems.append(f"{len(bad)} of {len(latlon)} points farther than {tolerance:g} km from {label} "
                            f"(first at lat={latlon[bad[0], 0]:.3f}, lon={latlon[bad[0], 1]:.3f})")
        ok &= near
    fraction = float(ok.mean())
    passed = fraction >= min_fraction
    figures = {"fraction_inside": round(fraction, 4), "points": int(len(latlon)),
               "bounds": [round(float(v), 3) for v in (latlon[:, 1].min(), latlon[:, 0].min(), latlon[:, 1].max(),
                                                       latlon[:, 0].max())]}
    if passed:
        return GateResult("region", True, f"{fraction:.1%} of {len(latlon)} points in {name}", figures=figures)
    return GateResult("region", False, f"only {fraction:.1%} of the points lie in {name} (need "
                                       f"{min_fraction:.0%}): " + "; ".join(problems), figures=figures)


def gate_values(task, params: dict, context: GateContext) -> GateResult:
    """Targets in the documented range / classes, and no nodata sentinels."""
    column = task.data[task.target]
    units = params.get("units", task.units or "")
    if task.kind == "classification":
        labels = set(column.astype(str))
        allowed = params.get("classes")
        extra = sorted(labels - set(map(str, allowed))) if allowed else []
        sentinel_labels = sorted(labels & set(map(str, params.get("sentinels", []))))
        if extra or sentinel_labels:
            return GateResult("values", False, f"labels outside the documented classes: {_examples(extra)}"
                              if extra else f"sentinel labels present: {sentinel_labels}")
        return GateResult("values", True, f"{len(labels)} classes, all documented", figures={"classes": len(labels)})
    values = column.to_numpy(dtype=np.float64)
    problems = []
    sentinels = [float(s) for s in params.get("sentinels", [])]
    hits = {s: int(np.sum(values == s)) for s in sentinels if np.any(values == s)}
    if hits:
        problems.append(f"nodata sentinels present ({', '.join(f'{int(n)} x {s:g}' for s, n in hits.items())})")
    lo, hi = params.get("min", -np.inf), params.get("max", np.inf)
    outside = (values < lo) | (values > hi)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        problems.append(f"{int(outside.sum())} values outside [{lo}, {hi}] {units} (first at row {first}: "
                        f"{values[first]:g})")
    if params.get("integer") and not np.all(values == np.round(values)):
        problems.append("non-integer values in an integer target")
    figures = {"min": float(values.min()), "max": float(values.max()), "median": float(np.median(values))}
    if problems:
        return GateResult("values", False, "; ".join(problems), figures=figures)
    return GateResult("values", True, f"values {values.min():g}..{values.max():g} {units} within [{lo}, {hi}], "
                                      f"no sentinels", figures=figures)


def gate_land(task, params: dict, context: GateContext) -> GateResult:
    """Points on land; polygons mostly on land (global-land-mask, plus the source's inland water in the build)."""
    if not land_mask_available():
        return GateResult("land", False, "skipped: global-land-mask is not installed (pip install global-land-mask)",
                          skipped=True)
    tol = float(params.get("tolerance_km", 0.0))
    latlon, owner = _points_of(task)
    land = is_land_fine(latlon, tol)
    water_source = "global-land-mask"
    if context.water is not None:
        extra = np.asarray(context.water(latlon), dtype=bool)
        exempt = set(map(str, params.get("coarse_water_exempt", {})))
        if exempt:  # islands smaller than the coarse water cells: checked against the fine mask alone
            keys = task.data.drop(columns=task.data.geometry.name).iloc[:, 0].astype(str).to_numpy()
            extra &= ~np.isin(keys[owner], list(exempt))
        land &= ~extra
        water_source += " + the source's inland water"
    if _is_point_task(task):
        fraction = float(land.mean())
        need = float(params.get("min_fraction", 1.0))
        figures = {"fraction_on_land": round(fraction, 4), "mask": water_source}
        if fraction < need:
            bad = np.flatnonzero(~land)
            return GateResult("land", False, f"{len(bad)} of {len(land)} points are on water ({water_source}, "
                              f"tolerance {tol:g} km; need {need:.1%} on land); first at lat={latlon[bad[0], 0]:.4f}, "
                              f"lon={latlon[bad[0], 1]:.4f}", figures=figures)
        return GateResult("land", True, f"{fraction:.2%} of points on land ({water_source}, tolerance {tol:g} km)",
                          figures=figures)
    per_geom = np.bincount(owner, weights=land, minlength=len(task.data)) / np.bincount(owner, minlength=len(task.data))
    need_each = float(params.get("per_geometry_min", 0.5))
    need_all = float(params.get("min_fraction", 0.0))
    wet = np.flatnonzero(per_geom < need_each)
    fraction = float(land.mean())
    figures = {"fraction_on_land": round(fraction, 4), "geometries_below": int(len(wet)), "mask": water_source}
    if len(wet) or fraction < need_all:
        names = task.data.iloc[wet].drop(columns=task.data.geometry.name).iloc[:, 0].astype(str)
        return GateResult("land", False, f"{len(wet)} of {len(task.data)} polygons have less than {need_each:.0%} of "
                          f"their sample points on land ({water_source}): {_examples(names)}; {fraction:.1%} of all "
                          f"sample points on land", figures=figures)
    return GateResult("land", True, f"every polygon has >= {need_each:.0%} of its sample points on land "
                      f"({fraction:.1%} overall, {water_source})", figures=figures)


def gate_anchors(task, params: dict, context: GateContext) -> GateResult:
    """A polygon's spatial-CV anchor lies near the polygon (catches antimeridian-crossing centroids).

    An anchor passes when it is within ``max_km`` of its polygon, or when its spatial block (``block_size_deg``,
    default the task's) holds part of the polygon (France's centroid, pulled south by French Guiana, lies in Spain
    but in a block with south-west France).
    """
    from geoembed.downstream.geometry import anchor_points
    from geoembed.downstream.protocol import block_ids

    if _is_point_task(task):
        return GateResult("anchors", True, "point task: every row is its own anchor")
    max_km = float(params.get("max_km", 300.0))
    block = float(params.get("block_size_deg", task.block_size_deg))
    anchors = anchor_points(task.data.geometry)
    dist = np.array([_distance_to_geometry_km(geom, anchors[i:i + 1])[0]
                     for i, geom in enumerate(task.data.geometry.array)])
    far = np.flatnonzero(dist > max_km)
    if len(far):
        latlon, owner = _points_of(task, n_points=64)
        sample_blocks = block_ids(latlon, block)
        anchor_blocks = block_ids(anchors, block)
        far = np.array([i for i in far if anchor_blocks[i] not in set(sample_blocks[owner == i])], dtype=np.int64)
    figures = {"max_km": round(float(dist.max()), 1)}
    if len(far):
        names = task.data.iloc[far].drop(columns=task.data.geometry.name).iloc[:, 0].astype(str)
        details = [f"{n} ({dist[i]:.0f} km away, at lat={anchors[i, 0]:.1f}, lon={anchors[i, 1]:.1f})"
                   for n, i in zip(names, far)]
        return GateResult("anchors", False, f"{len(far)} polygons are placed in spatial blocks of {block:g} deg that "
                          f"hold none of their area, more than {max_km:g} km from themselves: {_examples(details)}",
                          figures=figures)
    return GateResult("anchors", True, f"every anchor within {max_km:g} km of its polygon or in a {block:g} deg "
                      f"block holding part of it (farthest {dist.max():.0f} km)", figures=figures)


def gate_class_blocks(task, params: dict, context: GateContext) -> GateResult:
    """Each class spans at least ``min_blocks`` spatial blocks (else spatial CV may never train on it)."""
    from geoembed.downstream.geometry import anchor_points
    from geoembed.downstream.protocol import block_ids

    block = float(params.get("block_size_deg", task.block_size_deg))
    need = int(params.get("min_blocks", 3))
    blocks = block_ids(anchor_points(task.data.geometry), block)
    labels = task.data[task.target].astype(str).to_numpy()
    import pandas as pd

    spans = pd.Series(blocks).groupby(labels).nunique()
    few = spans[spans < need]
    figures = {"min_blocks": int(spans.min()), "block_size_deg": block}
    if len(few):
        return GateResult("class_blocks", False, f"{len(few)} classes occupy fewer than {need} blocks of {block:g} "
                          f"deg: {_examples(f'{k} ({v})' for k, v in few.items())}", figures=figures)
    return GateResult("class_blocks", True, f"every class spans >= {need} blocks of {block:g} deg (fewest "
                      f"{int(spans.min())})", figures=figures)


def gate_min_spacing_km(task, params: dict, context: GateContext) -> GateResult:
    """Selected rows (``where``) at least ``km`` apart: spatial thinning of clustered occurrences."""
    from scipy.spatial import cKDTree

    km = float(params["km"])
    rows = _where(task, params.get("where"))
    geoms = task.data.geometry[rows]
    lat, lon = np.radians(geoms.y.to_numpy()), np.radians(geoms.x.to_numpy())
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    if len(xyz) < 2:
        return GateResult("min_spacing_km", True, "fewer than 2 selected rows")
    dist, _ = cKDTree(xyz).query(xyz, k=2)
    nearest_km = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(dist[:, 1] / 2, 0, 1))
    close = int(np.sum(nearest_km < km * 0.999))
    figures = {"nearest_km_min": round(float(nearest_km.min()), 3), "rows": int(len(xyz))}
    if close:
        return GateResult("min_spacing_km", False, f"{close} of {len(xyz)} selected rows have a neighbour closer than "
                          f"{km:g} km (closest pair {nearest_km.min():.3f} km)", figures=figures)
    return GateResult("min_spacing_km", True, f"{len(xyz)} selected rows all >= {km:g} km apart (closest "
                      f"{nearest_km.min():.2f} km)", figures=figures)


def gate_source(task, params: dict, context: GateContext) -> GateResult:
    """Stored targets equal the source re-read at the stored rows."""
    if context.source is None:
        return GateResult("source", False, "skipped: the source files are not available here", skipped=True)
    fresh = np.asarray(context.source(task))
    stored = task.data[task.target].to_numpy()
    if fresh.shape != stored.shape:
        return GateResult("source", False, f"the source gives {fresh.shape[0]} values for {stored.shape[0]} rows")
    if task.kind == "classification":
        agree = fresh.astype(str) == stored.astype(str)
    else:
        tol = float(params.get("max_abs_diff", 0.0))
        with np.errstate(invalid="ignore"):
            agree = np.abs(fresh.astype(np.float64) - stored.astype(np.float64)) <= tol
    fraction = float(agree.mean())
    need = float(params.get("min_agreement", 1.0))
    figures = {"agreement": round(fraction, 4)}
    if fraction < need:
        first = int(np.flatnonzero(~agree)[0])
        return GateResult("source", False, f"{int((~agree).sum())} of {len(agree)} stored values differ from the "
                          f"source (first at row {first}: stored {stored[first]!r}, source {fresh[first]!r})",
                          figures=figures)
    return GateResult("source", True, f"{fraction:.2%} of {len(agree)} rows agree with the source", figures=figures)


GATES: dict[str, Callable[[Any, dict, GateContext], GateResult]] = {
    "region": gate_region,
    "values": gate_values,
    "land": gate_land,
    "anchors": gate_anchors,
    "class_blocks": gate_class_blocks,
    "min_spacing_km": gate_min_spacing_km,
    "source": gate_source,
}


def check_task(task, gates: dict | None = None, *, context: GateContext | None = None) -> list[GateResult]:
    """Run the gates declared in ``gates`` (default: ``task.gates``) on ``task``; one result per gate."""
    spec = task.gates if gates is None else gates
    unknown = sorted(set(spec) - set(GATES))
    if unknown:
        raise ValueError(f"Unknown task gates {unknown}; known gates: {sorted(GATES)}.")
    context = context or GateContext()
    return [GATES[name](task, dict(params or {}), context) for name, params in spec.items()]


def assert_task(task, gates: dict | None = None, *, context: GateContext | None = None,
                allow_skipped: bool = True) -> list[GateResult]:
    """:func:`check_task`, raising :class:`TaskGateError` that lists every failed gate with its evidence."""
    results = check_task(task, gates, context=context)
    failed = [r for r in results if not r.passed and (not r.skipped or not allow_skipped)]
    if failed:
        lines = "\n".join(f"  - {r.gate}: {r.message}" for r in failed)
        raise TaskGateError(f"Task {task.name!r} fails {len(failed)} of its data gates:\n{lines}")
    return results
