"""Values of GeoTIFF / NetCDF rasters at points, so raster layers can be benchmark targets or extra features.

Reads go through rasterio, one small window per point (:meth:`rasterio.io.DatasetReader.sample`), so a 1 GB raster
costs no more memory than a 1 MB one. Points are reprojected to the raster's CRS; global rasters stored with
longitudes in [0, 360) (ERA5, many NetCDF climatologies) are handled by wrapping longitudes.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from geoembed.coords import as_latlon
from geoembed.errors import DataFileError, InvalidGeometryError


def sample_raster(
    source: str | os.PathLike,
    points: Any = None,
    *,
    lat: Any = None,
    lon: Any = None,
    order: str | None = None,
    bands: int | Sequence[int] | None = 1,
    crs: Any = None,
    outside: str = "nan",
) -> np.ndarray:
    """Raster values at points: ``(N,)`` for one band, ``(N, B)`` for several; NaN where the raster has no data.

    Args:
        source: a raster file rasterio opens (GeoTIFF, ``netcdf:file.nc:variable``, VRT...).
        points, lat, lon, order: the points, as accepted by :func:`geoembed.as_latlon` (any CRS for GeoSeries).
        bands: a 1-based band index, a list of them, or None for every band.
        crs: the raster's CRS when its file carries none (many NetCDF files); refused if the file has one that
            differs, so a mistake cannot pass silently.
        outside: what to do with points outside the raster's extent: ``"nan"`` (default) or ``"error"``.

    Nodata cells (the file's nodata value, or NaN) become NaN: check ``np.isnan`` before using the values.
    """
    import rasterio
    from pyproj import CRS, Transformer

    if outside not in ("nan", "error"):
        raise ValueError(f"outside must be 'nan' or 'error', got {outside!r}.")
    latlon = as_latlon(points, lat=lat, lon=lon, order=order)
    try:
        dataset = rasterio.open(source)
    except rasterio.errors.RasterioIOError as exc:
        raise DataFileError(f"Cannot open raster {source}: {exc}") from None
    with dataset as src:
        band_list = list(range(1, src.count + 1)) if bands is None else ([bands] if np.isscalar(bands) else list(bands))
        bad = [b for b in band_list if not isinstance(b, (int, np.integer)) or not 1 <= b <= src.count]
        if bad or not band_list:
            raise ValueError(f"bands must be 1-based indices in 1..{src.count} for {source}, got {bands!r}.")
        raster_crs = _raster_crs(src, crs, source)
        x, y = latlon[:, 1].copy(), latlon[:, 0].copy()
        if raster_crs.is_geographic:
            if src.bounds.left >= -1.0 and src.bounds.right > 180.0:  # stored as 0..360
                x = np.mod(x, 360.0)
        if not raster_crs.equals(CRS.from_epsg(4326)) and not raster_crs.is_geographic:
            x, y = Transformer.from_crs("EPSG:4326", raster_crs, always_xy=True).transform(x, y)
        inside = _inside(src, x, y)
        if outside == "error" and not inside.all():
            first = int(np.flatnonzero(~inside)[0])
            raise InvalidGeometryError(
                f"{int((~inside).sum())} point(s) lie outside raster {source} (bounds {tuple(src.bounds)}), first "
                f"at row {first}: lat={latlon[first, 0]}, lon={latlon[first, 1]}. Pass outside='nan' to get NaN there."
            )
        values = np.full((len(latlon), len(band_list)), np.nan, dtype=np.float64)
        rows = np.flatnonzero(inside)
        if len(rows):
            sampled = src.sample(zip(x[rows], y[rows]), indexes=band_list, masked=True)
            for row, value in zip(rows, sampled):
                values[row] = np.ma.filled(value.astype(np.float64), np.nan)
    return values[:, 0] if np.isscalar(bands) else values


def _raster_crs(src, crs: Any, source: Any):
    from pyproj import CRS

    if crs is not None:
        given = CRS.from_user_input(crs)
        if src.crs is not None and not CRS.from_user_input(src.crs.to_wkt()).equals(given, ignore_axis_order=True):
            raise ValueError(f"Raster {source} declares CRS {src.crs}, but crs={crs!r} was given; drop the argument.")
        return given
    if src.crs is None:
        raise InvalidGeometryError(
            f"Raster {source} carries no CRS, so its coordinates cannot be interpreted. If it is a longitude/latitude "
            f"grid, pass crs='EPSG:4326'."
        )
    return CRS.from_user_input(src.crs.to_wkt())


def _inside(src, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    b = src.bounds
    return np.isfinite(x) & np.isfinite(y) & (x >= b.left) & (x < b.right) & (y > b.bottom) & (y <= b.top)
