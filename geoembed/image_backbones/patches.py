"""Image patches cut from rasters around points: satellite or environmental layers used wherever images are.

A :class:`RasterPatchSource` stacks bands from one or more rasters (GeoTIFF, NetCDF, HDF5, anything rasterio opens)
into a ``(C, H, W)`` float32 patch centred on a point, on a common latitude/longitude grid:

- **windowed reads**: only the block of the raster under the patch is read, so a 1 GB raster costs what a 1 MB one
  does, and files stay open between points;
- **nodata masking**: nodata cells (the file's nodata value, one you give, or NaN) become NaN, as do cells outside
  the raster; ``fill_value`` replaces them for networks that cannot take NaN;
- **reprojection**: patch pixels are laid out in EPSG:4326 (``pixel_size`` degrees) and each pixel centre is
  transformed to a raster's own CRS when it has another one (nearest-neighbour resampling, right for class maps and
  adequate for continuous layers at similar resolutions);
- **edges and the antimeridian**: rasters that go round the globe (longitudes -180..180 or 0..360) wrap, so a patch
  at 179.9 E reads both sides; off the edge of a regional raster is NaN;
- **categorical layers** can be one-hot encoded (one channel per class code), and raw codes rescaled
  (``value * scale + offset``).

This is how satellite imagery pairs with locations (as in SatCLIP): feed the patches to a backbone that takes any
channel count, e.g. ``geoembed.create_image_backbone("timm", model_name="resnet18", in_chans=source.num_channels)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from torch.utils.data import Dataset

from geoembed.coords import as_latlon
from geoembed.errors import DataFileError


@dataclass(frozen=True)
class RasterLayer:
    """One raster and how to turn its bands into patch channels.

    Attributes:
        path: a file or GDAL dataset name rasterio opens (``"dem.tif"``, ``"netcdf:era5.nc:t2m"``...).
        bands: 1-based band indices, or None for every band.
        name: channel name prefix (default: the file name).
        categories: class codes to one-hot encode (one channel per code per band); None keeps the values.
        scale, offset: raw values become ``raw * scale + offset`` (e.g. stored codes to physical units).
        nodata: the nodata value when the file does not declare it (or declares a wrong one).
        crs: the CRS when the file carries none (many NetCDF files); refused if the file says otherwise.
    """

    path: str | os.PathLike
    bands: Sequence[int] | None = None
    name: str | None = None
    categories: Sequence[int] | None = None
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    crs: Any = None


class _OpenLayer:
    """An open raster with what is needed to map ``[lat, lon]`` to its pixels."""

    def __init__(self, layer: RasterLayer):
        import rasterio
        from pyproj import CRS, Transformer

        self.layer = layer
        try:
            self.dataset = rasterio.open(layer.path)
        except rasterio.errors.RasterioIOError as exc:
            raise DataFileError(f"Cannot open raster {layer.path}: {exc}") from None
        src = self.dataset
        self.bands = list(range(1, src.count + 1)) if layer.bands is None else [int(b) for b in layer.bands]
        if not self.bands or any(not 1 <= b <= src.count for b in self.bands):
            raise ValueError(f"bands must be 1-based indices in 1..{src.count} for {layer.path}, got {layer.bands!r}.")
        if src.crs is not None and layer.crs is not None and CRS.from_user_input(layer.crs) != CRS(src.crs):
            raise DataFileError(f"{layer.path} declares CRS {src.crs}, not {layer.crs}; drop crs= or check the file.")
        if src.crs is None and layer.crs is None:
            raise DataFileError(f"{layer.path} has no CRS; pass it with RasterLayer(crs=...), e.g. 'EPSG:4326'.")
        self.crs = CRS(src.crs) if src.crs is not None else CRS.from_user_input(layer.crs)
        self.inverse = ~src.transform
        self.geographic = self.crs.is_geographic
        self.to_raster = None if self.geographic else Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        res_x = abs(src.transform.a)
        self.global_lon = self.geographic and abs(src.width * res_x - 360.0) <= 1.5 * res_x
        self.middle = (src.bounds.left + src.bounds.right) / 2
        self.nodata = layer.nodata if layer.nodata is not None else src.nodata

    @property
    def channel_names(self) -> list[str]:
        base = self.layer.name or os.path.basename(str(self.layer.path))
        names = []
        for band in self.bands:
            prefix = base if len(self.bands) == 1 else f"{base}[{band}]"
            names += [f"{prefix}={code}" for code in self.layer.categories] if self.layer.categories else [prefix]
        return names

    def sample(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Values ``(B, H, W)`` float64 at pixel centres (``lon`` unwrapped around the patch centre); NaN if none."""
        out = np.full((len(self.bands),) + lat.shape, np.nan)
        inside = np.abs(lat) <= 90
        if self.geographic:
            # shift by whole turns so that the patch centre is as close as possible to the raster's middle
            x = lon - 360.0 * np.round((lon.mean() - self.middle) / 360.0)
            y = lat
        else:
            wrapped = (lon + 180.0) % 360.0 - 180.0
            x, y = self.to_raster.transform(wrapped, np.clip(lat, -90, 90))
            inside &= np.isfinite(x) & np.isfinite(y)
        cols, rows = self.inverse @ (x, y)
        cols, rows = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
        src = self.dataset
        inside &= (rows >= 0) & (rows < src.height)
        if not self.global_lon:
            inside &= (cols >= 0) & (cols < src.width)
        if not inside.any():
            return out
        r0, r1 = rows[inside].min(), rows[inside].max()
        c0, c1 = cols[inside].min(), cols[inside].max()
        block = self._read(int(r0), int(r1), int(c0), int(c1))
        out[:, inside] = block[:, rows[inside] - r0, cols[inside] - c0]
        return out

    def _read(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Rows ``r0..r1`` and columns ``c0..c1`` (columns taken modulo the width for a global raster), nodata NaN."""
        from rasterio.windows import Window

        width = self.dataset.width
        pieces, col = [], c0
        while col <= c1:  # split at the raster's east/west edge (only a global raster can have columns beyond it)
            start = col % width
            length = min(c1 - col + 1, width - start)
            window = Window(start, r0, length, r1 - r0 + 1)
            data = self.dataset.read(self.bands, window=window, masked=True).astype(np.float64)
            values = np.ma.filled(data, np.nan)
            if self.nodata is not None and not (isinstance(self.nodata, float) and math.isnan(self.nodata)):
                values[values == self.nodata] = np.nan
            pieces.append(values)
            col += length
        return np.concatenate(pieces, axis=2)

    def channels(self, values: np.ndarray) -> np.ndarray:
        """Band values to channels: one-hot for categorical layers, else ``value * scale + offset``."""
        layer = self.layer
        if not layer.categories:
            return values * layer.scale + layer.offset
        onehot = np.stack([band == code for band in values for code in layer.categories]).astype(np.float64)
        missing = np.repeat(np.isnan(values), len(layer.categories), axis=0)
        onehot[missing] = np.nan
        return onehot


class RasterPatchSource:
    """Patches of stacked raster bands around points.

    Args:
        layers: :class:`RasterLayer` objects, or paths (all bands, values as stored).
        size: patch height and width in pixels (an int or ``(height, width)``).
        pixel_size: patch pixel size in degrees; default the first layer's native resolution (if geographic).
        fill_value: what nodata and out-of-raster pixels become (default NaN; use e.g. 0 for a network input).

    >>> source = RasterPatchSource(["elevation.tif", RasterLayer("landcover.tif", categories=range(17))], size=32)
    >>> source.patch(48.85, 2.35).shape   # doctest: +SKIP
    (18, 32, 32)
    """

    def __init__(self, layers: Sequence[RasterLayer | str | os.PathLike], *, size: int | tuple[int, int] = 32,
                 pixel_size: float | None = None, fill_value: float = float("nan")):
        if isinstance(layers, (str, os.PathLike, RasterLayer)):
            layers = [layers]
        if not layers:
            raise ValueError("A patch source needs at least one raster layer.")
        self.layers = [layer if isinstance(layer, RasterLayer) else RasterLayer(layer) for layer in layers]
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        if not (isinstance(height, int) and isinstance(width, int) and height >= 1 and width >= 1):
            raise ValueError(f"size must be a positive int or (height, width), got {size!r}.")
        self.size = (height, width)
        self.fill_value = float(fill_value)
        self._open: list[_OpenLayer] | None = None
        if pixel_size is None:
            first = self._layers()[0]
            if not first.geographic:
                raise ValueError(f"{first.layer.path} is not in degrees: give pixel_size= (degrees per patch pixel).")
            pixel_size = abs(first.dataset.transform.a)
        if not (isinstance(pixel_size, (int, float)) and 0 < pixel_size <= 10):
            raise ValueError(f"pixel_size must be in (0, 10] degrees, got {pixel_size!r}.")
        self.pixel_size = float(pixel_size)

    def _layers(self) -> list[_OpenLayer]:
        if self._open is None:  # opened lazily, and again in each DataLoader worker (see __getstate__)
            self._open = [_OpenLayer(layer) for layer in self.layers]
        return self._open

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open": None}

    def close(self) -> None:
        for opened in self._open or []:
            opened.dataset.close()
        self._open = None

    def __enter__(self) -> "RasterPatchSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def channel_names(self) -> list[str]:
        return [name for opened in self._layers() for name in opened.channel_names]

    @property
    def num_channels(self) -> int:
        return len(self.channel_names)

    def pixel_centres(self, lat: float, lon: float) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W)`` latitudes and (unwrapped) longitudes of the patch's pixel centres, north up."""
        height, width = self.size
        rows = (height / 2 - np.arange(height) - 0.5) * self.pixel_size
        cols = (np.arange(width) - width / 2 + 0.5) * self.pixel_size
        return np.meshgrid(lat + rows, lon + cols, indexing="ij")

    def patch(self, lat: float, lon: float) -> np.ndarray:
        """The ``(C, H, W)`` float32 patch centred on one point (degrees)."""
        point = as_latlon(lat=[lat], lon=[lon])[0]
        return self._patch(point[0], point[1])

    def _patch(self, lat: float, lon: float) -> np.ndarray:
        grid_lat, grid_lon = self.pixel_centres(lat, lon)
        stacked = np.concatenate([opened.channels(opened.sample(grid_lat, grid_lon)) for opened in self._layers()])
        if not math.isnan(self.fill_value):
            stacked = np.where(np.isnan(stacked), self.fill_value, stacked)
        return stacked.astype(np.float32)

    def patches(self, points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                progress: bool = False) -> np.ndarray:
        """Patches for many points: ``(N, C, H, W)`` float32 (points as :func:`geoembed.as_latlon` takes them)."""
        from geoembed.progress import progress_bar

        latlon = as_latlon(points, lat=lat, lon=lon, order=order)
        out = np.empty((len(latlon), self.num_channels) + self.size, dtype=np.float32)
        for i, (a, b) in enumerate(progress_bar(latlon, desc="patches", unit="pt", enabled=progress)):
            out[i] = self._patch(a, b)
        return out

    def dataset(self, points: Any = None, *, lat: Any = None, lon: Any = None, order: str | None = None,
                transform: Callable[[Any], Any] | None = None) -> "PatchDataset":
        """A torch ``Dataset`` of ``(patch, [lat, lon])`` pairs, read on demand (works with DataLoader workers)."""
        return PatchDataset(self, as_latlon(points, lat=lat, lon=lon, order=order), transform)


class PatchDataset(Dataset):
    """``(patch tensor, [lat, lon] tensor)`` pairs of a :class:`RasterPatchSource`, read on demand."""

    def __init__(self, source: RasterPatchSource, latlon: np.ndarray, transform: Callable[[Any], Any] | None = None):
        self.source, self.latlon, self.transform = source, latlon, transform

    def __len__(self) -> int:
        return len(self.latlon)

    def __getitem__(self, index: int):
        import torch

        lat, lon = self.latlon[index]
        patch = torch.from_numpy(self.source._patch(lat, lon))
        if self.transform is not None:
            patch = self.transform(patch)
        return patch, torch.tensor([lat, lon], dtype=torch.float64)
