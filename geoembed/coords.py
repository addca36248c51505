"""Turning whatever the user holds into validated ``(N, 2)`` latitude/longitude arrays.

Latitude/longitude order is the most common mistake in this field, so nothing here guesses it:

- ``lat=`` / ``lon=`` keywords say it by name;
- an ``(N, 2)`` array needs ``order="latlon"`` or ``order="lonlat"``;
- shapely points and GeoSeries/GeoDataFrames carry it in their geometry (x is longitude) and their CRS.

Values are checked (finite, latitude in [-90, 90], longitude in [-180, 180]) and every error names the offending rows;
a latitude outside its range whose longitude would fit suggests the swap.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from geoembed.errors import InvalidCoordinatesError, InvalidGeometryError

ORDERS = ("latlon", "lonlat")
_MAX_ROWS_SHOWN = 5


def as_latlon(
    points: Any = None,
    *,
    lat: Any = None,
    lon: Any = None,
    order: str | None = None,
) -> np.ndarray:
    """Validate coordinates and return a float64 array of shape ``(N, 2)`` with columns ``[lat, lon]`` in degrees.

    Give either ``lat`` and ``lon`` (scalars or 1-D sequences, NumPy arrays, torch tensors, pandas Series), or
    ``points``: an ``(N, 2)`` array with ``order=``, a shapely Point or sequence of Points, or a GeoSeries /
    GeoDataFrame of points in any CRS (reprojected to EPSG:4326).
    """
    if points is not None and (lat is not None or lon is not None):
        raise InvalidCoordinatesError("Pass either points or lat=/lon=, not both.")
    if points is None:
        if lat is None or lon is None:
            missing = "lat" if lat is None else "lon"
            raise InvalidCoordinatesError(
                f"{missing}= is missing. Call encode_location(lat=..., lon=...), or pass points with an explicit order."
            )
        lat_arr, labels = _as_1d(lat, "lat")
        lon_arr, _ = _as_1d(lon, "lon")
        if lat_arr.shape != lon_arr.shape:
            raise InvalidCoordinatesError(
                f"lat has {lat_arr.size} values but lon has {lon_arr.size}; they must pair up one to one."
            )
        return check_latlon(np.column_stack([lat_arr, lon_arr]), labels=labels, source="lat/lon")
    return _points_to_latlon(points, order)


def check_latlon(latlon: np.ndarray, *, labels: Sequence[Any] | None = None, source: str = "input") -> np.ndarray:
    """Check an ``(N, 2)`` ``[lat, lon]`` float array; raise :class:`InvalidCoordinatesError` naming bad rows."""
    latlon = np.ascontiguousarray(latlon, dtype=np.float64)  # (x, y) -> (lat, lon) views have negative strides
    if latlon.ndim != 2 or latlon.shape[1] != 2:
        raise InvalidCoordinatesError(f"Expected an (N, 2) array of [lat, lon], got shape {latlon.shape}.")
    if latlon.shape[0] == 0:
        raise InvalidCoordinatesError(f"The {source} holds no points: nothing to encode.")
    lat, lon = latlon[:, 0], latlon[:, 1]

    bad = ~np.isfinite(latlon).all(axis=1)
    if bad.any():
        raise InvalidCoordinatesError(
            f"{source}: {_count(bad)} with NaN or infinite coordinates: {_rows(bad, latlon, labels)}. Drop or fill "
            f"them first (e.g. df.dropna(subset=[lat_col, lon_col]))."
        )

    bad_lat = np.abs(lat) > 90
    if bad_lat.any():
        # Swapped if every row would be valid the other way round (a whole column mix-up, not one stray value).
        swappable = bool(((np.abs(lon) <= 90) & (np.abs(lat) <= 180)).all())
        hint = (
            " These look like swapped coordinates (the 'latitude' fits a longitude and the 'longitude' fits a "
            "latitude): pass lat= and lon= (--lat-col and --lon-col in the shell) the other way round, or use "
            "order='lonlat' for an (N, 2) array in (x, y) order."
            if swappable
            else " Latitude must lie in [-90, 90]; check the units (degrees, not metres: reproject projected data "
            "to EPSG:4326 first) and the column order."
        )
        raise InvalidCoordinatesError(
            f"{source}: {_count(bad_lat)} with latitude outside [-90, 90]: {_rows(bad_lat, latlon, labels)}.{hint}"
        )

    bad_lon = np.abs(lon) > 180
    if bad_lon.any():
        wraps = bool(((lon >= 0) & (lon <= 360)).all())
        hint = (
            " They look like longitudes in [0, 360]: convert with lon = ((lon + 180) % 360) - 180."
            if wraps
            else " Longitude must lie in [-180, 180]; check the units (degrees, not metres) and the column order."
        )
        raise InvalidCoordinatesError(
            f"{source}: {_count(bad_lon)} with longitude outside [-180, 180]: {_rows(bad_lon, latlon, labels)}.{hint}"
        )
    return latlon


def _as_1d(values: Any, name: str) -> tuple[np.ndarray, list[Any] | None]:
    """A 1-D float64 array from a scalar, sequence, NumPy array, torch tensor or pandas Series (keeping its index)."""
    labels = None
    if _is_pandas(values):
        labels = list(values.index)
        values = values.to_numpy()
    elif _is_torch(values):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinatesError(
            f"{name}= must hold numbers (degrees), got {type(values).__name__} that cannot be read as numbers: {exc}"
        ) from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidCoordinatesError(
            f"{name}= must be a scalar or 1-D, got shape {arr.shape}. For an (N, 2) array, pass it as points with "
            f"order='latlon' or order='lonlat'."
        )
    return arr, labels


def _points_to_latlon(points: Any, order: str | None) -> np.ndarray:
    geo = _geoseries_of(points)
    if geo is not None:
        return _geoseries_to_latlon(geo)
    if _is_shapely(points):
        points = [points]
    if isinstance(points, (list, tuple)) and points and all(_is_shapely(p) for p in points):
        return _shapely_to_latlon(list(points), labels=None)

    if _is_pandas(points):  # a plain DataFrame with two columns
        labels = list(points.index)
        arr = points.to_numpy()
    else:
        labels = None
        arr = points.detach().cpu().numpy() if _is_torch(points) else points
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinatesError(
            f"Cannot read points of type {type(points).__name__} as coordinates: {exc}. Pass lat= and lon=, an (N, 2) "
            f"array with order=, shapely Points, or a GeoSeries/GeoDataFrame."
        ) from None
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidCoordinatesError(
            f"points must have shape (N, 2), got {arr.shape}. Pass lat= and lon= for separate 1-D arrays."
        )
    if order not in ORDERS:
        raise InvalidCoordinatesError(
            f"An (N, 2) array needs an explicit order='latlon' (columns are lat, lon) or order='lonlat' (columns are "
            f"lon, lat, i.e. x, y); got order={order!r}. geoembed never guesses: swapped coordinates would give "
            f"silently wrong embeddings."
        )
    latlon = arr if order == "latlon" else arr[:, ::-1]
    return check_latlon(latlon, labels=labels, source=f"points (order={order!r})")


def _geoseries_of(obj: Any):
    """The geometry GeoSeries of a GeoSeries/GeoDataFrame, or None for anything else (without importing geopandas)."""
    module = type(obj).__module__
    if not module.startswith("geopandas"):
        return None
    import geopandas

    if isinstance(obj, geopandas.GeoDataFrame):
        return obj.geometry
    if isinstance(obj, geopandas.GeoSeries):
        return obj
    return None


def _geoseries_to_latlon(geo) -> np.ndarray:
    if geo.crs is None:
        raise InvalidGeometryError(
            "The GeoSeries/GeoDataFrame has no CRS, so its coordinates cannot be interpreted. Set the CRS it is in, "
            "e.g. gdf = gdf.set_crs('EPSG:4326') for longitude/latitude degrees (or the projected CRS it uses)."
        )
    if not geo.crs.equals("EPSG:4326"):
        geo = geo.to_crs("EPSG:4326")
    return _shapely_to_latlon(list(geo.array), labels=list(geo.index))


def _shapely_to_latlon(geoms: list, labels: Sequence[Any] | None) -> np.ndarray:
    import shapely

    arr = np.asarray(geoms, dtype=object)
    missing = np.array([g is None for g in arr])
    if missing.any():
        raise InvalidGeometryError(f"{_count(missing)} with a missing geometry (None): {_labels(missing, labels)}.")
    types = shapely.get_type_id(arr)
    not_points = types != shapely.GeometryType.POINT
    if not_points.any():
        names = sorted({geoms[i].geom_type for i in np.flatnonzero(not_points)})
        raise InvalidGeometryError(
            f"{_count(not_points)} not Points ({', '.join(names)}): {_labels(not_points, labels)}. encode_location "
            f"takes points; for lines and polygons use the downstream featurizer (geoembed.downstream), or pass "
            f"representative points (gdf.representative_point())."
        )
    empty = shapely.is_empty(arr)
    if empty.any():
        raise InvalidGeometryError(f"{_count(empty)} with an empty Point: {_labels(empty, labels)}.")
    xy = shapely.get_coordinates(arr)
    return check_latlon(xy[:, ::-1], labels=labels, source="geometries")


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "index") and hasattr(obj, "to_numpy")


def _is_torch(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "detach")


def _is_shapely(obj: Any) -> bool:
    return type(obj).__module__.startswith("shapely")


def _count(mask: np.ndarray) -> str:
    n = int(mask.sum())
    return f"{n} row{'s' if n != 1 else ''}"


def _labels(mask: np.ndarray, labels: Sequence[Any] | None) -> str:
    idx = np.flatnonzero(mask)
    shown = [f"row {labels[i] if labels is not None else i}" for i in idx[:_MAX_ROWS_SHOWN]]
    more = f" and {len(idx) - _MAX_ROWS_SHOWN} more" if len(idx) > _MAX_ROWS_SHOWN else ""
    return ", ".join(shown) + more


def _rows(mask: np.ndarray, latlon: np.ndarray, labels: Sequence[Any] | None) -> str:
    idx = np.flatnonzero(mask)
    shown = [
        f"row {labels[i] if labels is not None else i} (lat={latlon[i, 0]:g}, lon={latlon[i, 1]:g})"
        for i in idx[:_MAX_ROWS_SHOWN]
    ]
    more = f" and {len(idx) - _MAX_ROWS_SHOWN} more" if len(idx) > _MAX_ROWS_SHOWN else ""
    return ", ".join(shown) + more
