"""Turning whatever the user holds into validated ``(N, 2)`` latitude/longitude arrays.

Latitude/longitude order is the most common mistake in this field, so nothing here guesses it:

- ``lat=`` / ``lon=`` keywords say it by name;
- an ``(N, 2)`` array needs ``order="latlon"`` or ``order="lonlat"``;
- shapely points and GeoSeries/GeoDataFrames carry it in their geometry (x is longitude) and their CRS.

Values are checked (finite, latitude in [-90, 90], longitude in [-180, 180]) and every error names the offending rows;
a latitude outside its range whose longitude would fit suggests the swap.

Values that are not plain real numbers are refused rather than converted: booleans, complex numbers, dates and
durations, text, masked arrays with masked entries, tensors without data (the ``meta`` device). Two pandas Series
are paired by their index, so Series with different indexes are refused (align them first). Projected coordinates
must lie where their CRS is defined: a point that does not survive the round trip back to its CRS, or that lands
far outside the CRS's area of use, is refused (see :data:`AREA_OF_USE_MARGIN_DEG`).
"""

from __future__ import annotations

import decimal
import fractions
import numbers
from typing import Any, Sequence

import numpy as np

from geoembed.errors import InvalidCoordinatesError, InvalidGeometryError

ORDERS = ("latlon", "lonlat")
#: Column names recognised as latitude / longitude in tables (compared case-insensitively, surrounding spaces
#: ignored), in tiers: a match in an earlier tier wins, so a table with ``lat``, ``lon``, ``x`` and ``y`` (often
#: projected metres) uses ``lat`` and ``lon``. The one list every table reader uses (files, featurizers, galleries).
LAT_COLUMN_NAMES: tuple[tuple[str, ...], ...] = (("lat", "latitude", "decimallatitude"), ("y",))
LON_COLUMN_NAMES: tuple[tuple[str, ...], ...] = (("lon", "lng", "long", "longitude", "decimallongitude"), ("x",))
_MAX_ROWS_SHOWN = 5
#: How far (degrees) outside its CRS's published area of use a reprojected point may land. Beyond it the point is
#: refused: a UTM or Lambert easting off by a few thousand kilometres is a mistake, not a place.
AREA_OF_USE_MARGIN_DEG = 10.0
#: Values within this many degrees beyond +-90 / +-180 are reported as rounding errors, not as swapped columns.
_ROUNDING_SLACK_DEG = 1e-6


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
    if order is not None and (not isinstance(order, str) or order not in ORDERS):
        raise InvalidCoordinatesError(
            f"order must be 'latlon' or 'lonlat' (the column order of an (N, 2) array of points), got {order!r}."
        )
    if points is not None and (lat is not None or lon is not None):
        raise InvalidCoordinatesError("Pass either points or lat=/lon=, not both.")
    if points is None:
        if lat is None or lon is None:
            missing = "lat" if lat is None else "lon"
            raise InvalidCoordinatesError(
                f"{missing}= is missing. Call encode_location(lat=..., lon=...), or pass points with an explicit order."
            )
        if order == "lonlat":
            raise InvalidCoordinatesError(
                "order='lonlat' contradicts lat= and lon=, which already name each value. order= only describes "
                "the columns of an (N, 2) array passed as points; drop it, or check which values are latitudes."
            )
        if _is_pandas(lat) and _is_pandas(lon) and not lat.index.equals(lon.index):
            raise InvalidCoordinatesError(
                "lat and lon are pandas Series with different indexes, so pairing them by position could join one "
                "place's latitude to another's longitude. Align them first (lat, lon = lat.align(lon, join='inner')), "
                "or pass lat.to_numpy() and lon.to_numpy() if pairing by position is what you mean."
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
        # Swapped if every row would be valid the other way round (a whole column mix-up, not one stray value), and
        # the bad latitudes are not merely a rounding error past a pole.
        swappable = bool(((np.abs(lon) <= 90) & (np.abs(lat) <= 180)).all())
        rounding = bool((np.abs(lat[bad_lat]) - 90 <= _ROUNDING_SLACK_DEG).all())
        if rounding:
            hint = (" These are past a pole by a rounding error; clip them first (np.clip(lat, -90, 90)) if the "
                    "poles are meant.")
        elif swappable:
            hint = (" These look like swapped coordinates (the 'latitude' fits a longitude and the 'longitude' fits "
                    "a latitude): pass lat= and lon= (--lat-col and --lon-col in the shell) the other way round, or use order='lonlat' for an (N, 2) array "
                    "in (x, y) order.")
        else:
            hint = (" Latitude must lie in [-90, 90]; check the units (degrees, not metres: reproject projected data "
                    "to EPSG:4326 first) and the column order.")
        raise InvalidCoordinatesError(
            f"{source}: {_count(bad_lat)} with latitude outside [-90, 90]: {_rows(bad_lat, latlon, labels)}.{hint}"
        )

    bad_lon = np.abs(lon) > 180
    if bad_lon.any():
        wraps = bool(((lon >= 0) & (lon <= 360)).all())
        rounding = bool((np.abs(lon[bad_lon]) - 180 <= _ROUNDING_SLACK_DEG).all())
        if rounding:
            hint = " These are past the antimeridian by a rounding error; clip them first (np.clip(lon, -180, 180))."
        elif wraps:
            hint = " They look like longitudes in [0, 360]: convert with lon = ((lon + 180) % 360) - 180."
        else:
            hint = " Longitude must lie in [-180, 180]; check the units (degrees, not metres) and the column order."
        raise InvalidCoordinatesError(
            f"{source}: {_count(bad_lon)} with longitude outside [-180, 180]: {_rows(bad_lon, latlon, labels)}.{hint}"
        )
    return latlon


def _as_1d(values: Any, name: str) -> tuple[np.ndarray, list[Any] | None]:
    """A 1-D float64 array from a scalar, sequence, NumPy array, torch tensor or pandas Series (keeping its index)."""
    labels = list(values.index) if _is_pandas(values) else None
    arr = as_float_array(values, f"{name}=")
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
        _check_geometry_order(order)
        return _geoseries_to_latlon(geo)
    if _is_shapely(points):
        points = [points]
    if isinstance(points, (list, tuple)) and points and all(_is_shapely(p) for p in points):
        _check_geometry_order(order)
        return _shapely_to_latlon(list(points), labels=None)

    labels = list(points.index) if _is_pandas(points) else None  # a plain DataFrame with two columns
    arr = as_float_array(points, "points")
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


def as_float_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array, refusing anything that is not plain real numbers.

    Accepted: Python and NumPy integers and floats (any width, float16 and bfloat16 tensors included), ``None``/NaN
    (reported later as missing), pandas numeric columns (nullable ones too). Refused with
    :class:`InvalidCoordinatesError`: booleans, complex numbers, dates and durations, text, masked arrays with masked
    entries, tensors without data, and integers too large for a float.
    """
    if _is_pandas(values):
        values = _pandas_values(values, name)
    elif _is_torch(values):
        values = _torch_values(values, name)
    if isinstance(values, np.ma.MaskedArray):
        if np.ma.getmaskarray(values).any():
            raise InvalidCoordinatesError(
                f"{name} is a masked array with {int(np.ma.getmaskarray(values).sum())} masked value(s). Masked "
                f"entries have no coordinates: drop them (arr.compressed(), or select the rows with ~arr.mask) or "
                f"fill them (arr.filled(...)) first."
            )
        values = values.data
    if isinstance(values, (list, tuple)) and _holds_bool(values):  # np.asarray([True, 2.5]) would make True 1.0
        raise InvalidCoordinatesError(f"{name} must hold numbers (degrees), got booleans among them.{_HINTS['b']}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidCoordinatesError(
            f"{name} must hold numbers (degrees), got {type(values).__name__} that cannot be read as numbers: {exc}"
        ) from None
    kind = arr.dtype.kind
    if kind in "iuf":
        with np.errstate(over="ignore"):  # float128 beyond float64: infinite, reported as such by check_latlon
            return arr.astype(np.float64)
    if kind == "O":
        return _objects_to_float(arr, name)
    raise InvalidCoordinatesError(f"{name} must hold numbers (degrees), got {_describe_kind(arr.dtype)}.{_HINTS.get(kind, '')}")


_HINTS = {
    "b": " True/False are not coordinates; a boolean column usually means the wrong column was picked.",
    "c": " Complex numbers are not coordinates; take .real only if the imaginary part is known to be zero.",
    "m": " Durations are not coordinates.",
    "M": " Dates are not coordinates; the wrong column was probably picked.",
    "U": " Convert text to numbers first (pd.to_numeric(...) or float(...)), checking the decimal separator.",
    "S": " Convert text to numbers first (pd.to_numeric(...) or float(...)), checking the decimal separator.",
}


def _holds_bool(values: Any, depth: int = 0) -> bool:
    """True if a list/tuple (or a list of rows) holds a bool anywhere, which NumPy would turn into 0.0/1.0."""
    for value in values:
        if isinstance(value, (bool, np.bool_)):
            return True
        if depth == 0 and isinstance(value, (list, tuple)) and _holds_bool(value, 1):
            return True
    return False


def _describe_kind(dtype: np.dtype) -> str:
    names = {"b": "booleans", "c": "complex numbers", "m": "durations (timedelta)", "M": "dates (datetime)",
             "U": "text", "S": "bytes", "V": "structured records"}
    return f"{names.get(dtype.kind, 'values')} (dtype {dtype})"


def _objects_to_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Element by element: real numbers and None/NaN pass, anything else is named with its position."""
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    for i, value in enumerate(flat):
        if value is None:
            out[i] = np.nan
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Real, decimal.Decimal, fractions.Fraction, np.integer, np.floating)
        ):
            hint = _HINTS.get("U", "") if isinstance(value, (str, bytes)) else ""
            raise InvalidCoordinatesError(
                f"{name} must hold numbers (degrees); value {i} is {value!r} ({type(value).__name__}).{hint}"
            )
        try:
            out[i] = float(value)
        except OverflowError:
            raise InvalidCoordinatesError(
                f"{name}: value {i} ({str(value)[:30]}{'...' if len(str(value)) > 30 else ''}) is too large to be a "
                f"coordinate in degrees."
            ) from None
    return out.reshape(arr.shape)


def _pandas_values(values: Any, name: str) -> Any:
    """The values of a pandas Series/DataFrame as NumPy, nullable numeric columns with NaN for missing values."""
    import pandas as pd

    dtypes = [values.dtype] if hasattr(values, "dtype") and not hasattr(values, "columns") else list(values.dtypes)
    for dtype in dtypes:
        if pd.api.types.is_bool_dtype(dtype):
            raise InvalidCoordinatesError(f"{name} must hold numbers (degrees), got booleans (dtype {dtype}).{_HINTS['b']}")
        if not pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            kind = getattr(dtype, "kind", "O")
            raise InvalidCoordinatesError(
                f"{name} must hold numbers (degrees), got a column of dtype {dtype}.{_HINTS.get(kind, _HINTS['U'])}"
            )
    if all(pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_complex_dtype(d) for d in dtypes):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.to_numpy()


def _torch_values(values: Any, name: str) -> np.ndarray:
    import torch

    if values.device.type == "meta":
        raise InvalidCoordinatesError(
            f"{name} is a tensor on the 'meta' device, which has a shape but no values. Pass a tensor holding data."
        )
    if values.dtype == torch.bool or values.dtype.is_complex:
        kind = "b" if values.dtype == torch.bool else "c"
        raise InvalidCoordinatesError(f"{name} must hold numbers (degrees), got a {values.dtype} tensor.{_HINTS[kind]}")
    if values.is_sparse:
        values = values.to_dense()
    values = values.detach()
    if values.dtype.is_floating_point and values.dtype != torch.float64:
        values = values.to(torch.float64)  # bfloat16 and float16 have no NumPy equivalent; widening is exact
    return values.cpu().numpy()


def _geoseries_of(obj: Any):
    """The geometry GeoSeries of a GeoSeries/GeoDataFrame, or None for anything else (without importing geopandas)."""
    module = type(obj).__module__
    if not module.startswith("geopandas"):
        return None
    import geopandas

    if isinstance(obj, geopandas.GeoDataFrame):
        try:
            return obj.geometry
        except AttributeError:  # no active geometry column
            candidates = [str(c) for c in obj.columns if str(getattr(obj[c], "dtype", "")) == "geometry"]
            hint = (f" Choose one of its geometry columns {candidates} with gdf.set_geometry({candidates[0]!r})."
                    if candidates else " It has no geometry column at all: build one (geopandas.points_from_xy).")
            raise InvalidGeometryError(f"The GeoDataFrame has no active geometry column.{hint}") from None
    if isinstance(obj, geopandas.GeoSeries):
        return obj
    return None


def _check_geometry_order(order: str | None) -> None:
    if order == "latlon":
        raise InvalidCoordinatesError(
            "order='latlon' contradicts geometries, whose x is always the longitude and y the latitude. If your "
            "Points were built as Point(lat, lon), rebuild them as Point(lon, lat); otherwise drop order=."
        )


def _geoseries_to_latlon(geo) -> np.ndarray:
    if geo.crs is None:
        raise InvalidGeometryError(
            "The GeoSeries/GeoDataFrame has no CRS, so its coordinates cannot be interpreted. Set the CRS it is in, "
            "e.g. gdf = gdf.set_crs('EPSG:4326') for longitude/latitude degrees (or the projected CRS it uses)."
        )
    labels = list(geo.index)
    if geo.crs.equals("EPSG:4326"):
        return _shapely_to_latlon(list(geo.array), labels=labels)
    xy = _point_coordinates(list(geo.array), labels)
    return check_latlon(_reproject_checked(xy, geo.crs, labels), labels=labels, source="geometries")


def _reproject_checked(xy: np.ndarray, crs: Any, labels: Sequence[Any] | None) -> np.ndarray:
    """``[lat, lon]`` of ``(x, y)`` points in ``crs``, refusing points outside the CRS's domain or area of use.

    A projection's inverse formulas return *some* longitude/latitude for any input, wrapped or folded, so
    EPSG:3857 x=1e10 would become longitude -168.47. Two checks stop that: the result must project back onto the
    input (round trip), and it must lie within :data:`AREA_OF_USE_MARGIN_DEG` degrees of the CRS's area of use.
    """
    import pyproj

    crs = pyproj.CRS.from_user_input(crs)
    to_wgs84 = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    back = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    with np.errstate(invalid="ignore", over="ignore"):
        lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1], errcheck=False)
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        x2, y2 = back.transform(lon, lat, errcheck=False)
        tol = 1e-6 + 1e-9 * np.abs(xy).max(axis=1)
        trip = np.isfinite(xy).all(axis=1)  # non-finite input is reported as such by check_latlon
        bad = trip & ~((np.abs(np.asarray(x2) - xy[:, 0]) <= tol) & (np.abs(np.asarray(y2) - xy[:, 1]) <= tol))
    name = crs.to_string()
    if bad.any():
        raise InvalidCoordinatesError(
            f"geometries: {_count(bad)} outside the domain of {name}, where its coordinates map to no place on Earth: "
            f"{_xy_rows(bad, xy, labels)}. Check the CRS (set_crs) and the units of these coordinates."
        )
    area = crs.area_of_use
    if area is not None and not crs.is_geographic:
        margin = AREA_OF_USE_MARGIN_DEG
        in_lat = (lat >= area.south - margin) & (lat <= area.north + margin)
        width = area.east - area.west if area.east >= area.west else area.east - area.west + 360  # west > east: spans the antimeridian
        offset = (lon - area.west) % 360  # degrees east of the area's western edge (handles the antimeridian)
        in_lon = (width + 2 * margin >= 360) | (offset <= width + margin) | (offset >= 360 - margin)
        far = np.isfinite(lon) & np.isfinite(lat) & ~(in_lat & in_lon)
        if far.any():
            shown = ", ".join(
                f"row {labels[i] if labels is not None else i} (x={_num(xy[i, 0])}, y={_num(xy[i, 1])} -> "
                f"lat={lat[i]:.4f}, lon={lon[i]:.4f})" for i in np.flatnonzero(far)[:_MAX_ROWS_SHOWN]
            )
            more = f" and {int(far.sum()) - _MAX_ROWS_SHOWN} more" if far.sum() > _MAX_ROWS_SHOWN else ""
            raise InvalidCoordinatesError(
                f"geometries: {_count(far)} more than {margin:g} degrees outside the area of use of {name} "
                f"({area.name}: lon {area.west:g}..{area.east:g}, lat {area.south:g}..{area.north:g}): {shown}{more}. "
                f"The CRS is probably not the one these coordinates are in (check set_crs, and UTM zones), or the "
                f"coordinates are not in its units."
            )
    return np.column_stack([lat, lon])


def _xy_rows(mask: np.ndarray, xy: np.ndarray, labels: Sequence[Any] | None) -> str:
    idx = np.flatnonzero(mask)
    shown = [f"row {labels[i] if labels is not None else i} (x={_num(xy[i, 0])}, y={_num(xy[i, 1])})"
             for i in idx[:_MAX_ROWS_SHOWN]]
    more = f" and {len(idx) - _MAX_ROWS_SHOWN} more" if len(idx) > _MAX_ROWS_SHOWN else ""
    return ", ".join(shown) + more


def _shapely_to_latlon(geoms: list, labels: Sequence[Any] | None) -> np.ndarray:
    xy = _point_coordinates(geoms, labels)
    return check_latlon(xy[:, ::-1], labels=labels, source="geometries")


def _point_coordinates(geoms: list, labels: Sequence[Any] | None) -> np.ndarray:
    """The ``(N, 2)`` x, y of a list of shapely Points, refusing missing, empty and non-point geometries."""
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
    return shapely.get_coordinates(arr)


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "index") and hasattr(obj, "to_numpy")


def _is_torch(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "detach")


def _is_shapely(obj: Any) -> bool:
    return type(obj).__module__.startswith("shapely")


def _num(value: float) -> str:
    """A coordinate written with every digit needed to tell it apart (90.0000000001, not 90)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


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
        f"row {labels[i] if labels is not None else i} (lat={_num(latlon[i, 0])}, lon={_num(latlon[i, 1])})"
        for i in idx[:_MAX_ROWS_SHOWN]
    ]
    more = f" and {len(idx) - _MAX_ROWS_SHOWN} more" if len(idx) > _MAX_ROWS_SHOWN else ""
    return ", ".join(shown) + more
