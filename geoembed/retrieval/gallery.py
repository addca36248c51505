"""Galleries: the candidate places retrieval searches, and their location embeddings, cached on disk.

A :class:`Gallery` is an immutable ``(M, 2)`` array of ``[lat, lon]`` degrees with a name and a checksum of its
coordinates. Galleries come from three places:

- the *galleries registry* (``register_gallery(name, factory)``, ``create_gallery(name, **kwargs)``,
  ``list_galleries()``; third-party packages register under the entry point group ``geoembed.galleries``). The
  GeoCLIP plugin registers ``"mp16"``, GeoCLIP's 100K MP-16 coordinates, this way;
- regular grids over the globe or over land: ``"grid:STEP"`` and ``"land:STEP"`` (``STEP`` in degrees);
- the user's own points: a file, a table, a GeoDataFrame or an array.

:func:`load_gallery` takes any of these (it is what ``gallery=`` arguments and ``--gallery`` accept);
:func:`create_gallery` builds a registered gallery by name, with the factory's own options.

:func:`gallery_embeddings` embeds a gallery once with a location encoder and keeps the result in geoembed's disk
cache (:class:`geoembed.cache.DiskCache`, folder ``galleries``), keyed by the encoder's identity and the gallery's
checksum.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from geoembed.cache import DiskCache, cache_key
from geoembed.coords import as_latlon

#: The gallery geolocation searches by default: GeoCLIP's 100K MP-16 coordinates, registered by the GeoCLIP plugin.
DEFAULT_GALLERY = "mp16"
_GALLERY_STORAGE = ("float32", "float16")
_GRID_KINDS = ("grid", "land")


@dataclass(frozen=True, eq=False)
class Gallery:
    """Candidate coordinates for retrieval: ``latlon`` ``(M, 2)`` degrees, a name, and a checksum of the coordinates.

    ``grid_step`` is set for regular grids (``"grid:1"``, ``"land:0.5"``), so maps of scores over them draw as rasters.
    """

    latlon: np.ndarray
    name: str
    checksum: str
    grid_step: float | None = None

    def __len__(self) -> int:
        return len(self.latlon)

    @classmethod
    def from_latlon(cls, latlon: Any, name: str = "custom", grid_step: float | None = None) -> "Gallery":
        """A gallery of validated coordinates (any input :func:`geoembed.as_latlon` takes)."""
        points = np.array(_as_gallery_latlon(latlon), dtype=np.float64, order="C")  # our own copy, frozen below
        points.setflags(write=False)
        checksum = hashlib.sha256(points.astype("<f8").tobytes()).hexdigest()
        return cls(points, name, checksum, grid_step)


def _as_gallery_latlon(points: Any) -> np.ndarray:
    """Numbers in an ``(M, 2)`` array or nested list are ``[lat, lon]`` (the documented gallery order)."""
    if type(points).__module__.startswith("torch"):
        points = points.detach().cpu().numpy()
    if isinstance(points, (np.ndarray, list, tuple)):
        array = np.asarray(points, dtype=object if not isinstance(points, np.ndarray) else None)
        if array.dtype.kind in "iuf" or (array.dtype == object and _all_numbers(array)):
            return as_latlon(np.asarray(points, dtype=np.float64), order="latlon")
    return as_latlon(points)


def _all_numbers(array: np.ndarray) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in array.ravel())


# -- the galleries registry ----------------------------------------------------------------------------------------
def register_gallery(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register a gallery factory under ``name`` (usable as a decorator).

    The factory takes keyword arguments and returns a :class:`Gallery` (an ``(M, 2)`` ``[lat, lon]`` array is
    accepted too and becomes a gallery named ``name``). Packages register galleries without code running at import
    through the entry point group ``geoembed.galleries``.
    """
    from geoembed.registry import galleries

    return galleries.register(name, factory, overwrite=overwrite)


def create_gallery(name: str, **kwargs: Any) -> Gallery:
    """Build the gallery registered under ``name``, e.g. ``create_gallery("mp16")`` (with the GeoCLIP plugin).

    Unknown names raise :class:`geoembed.errors.UnknownPluginError` with close matches.
    """
    from geoembed.registry import describe_plugin, galleries

    built = galleries.create(name, **kwargs)
    if isinstance(built, Gallery):
        return built
    if isinstance(built, np.ndarray) or type(built).__module__.startswith("torch"):
        return Gallery.from_latlon(built, name)
    raise TypeError(f"The gallery plugin {name!r} ({describe_plugin(built, 'gallery')}) returned a "
                    f"{type(built).__name__}; a gallery factory must return a geoembed.Gallery or an (M, 2) "
                    f"[lat, lon] array.")


def list_galleries(pattern: str = "*") -> list[str]:
    """Names of registered galleries matching a wildcard pattern.

    The regular grids ``"grid:STEP"`` and ``"land:STEP"`` are not listed: they take a parameter in their name and
    :func:`load_gallery` always reads them."""
    from geoembed.registry import galleries

    return galleries.names(pattern)


# -- any gallery from a name, a file, a table or coordinates -------------------------------------------------------
def load_gallery(gallery: Any = DEFAULT_GALLERY, *, lat_col: str | None = None, lon_col: str | None = None) -> Gallery:
    """A :class:`Gallery` from a name, a file, a table or coordinates.

    Args:
        gallery: a registered gallery name (:func:`list_galleries`; ``"mp16"`` with the GeoCLIP plugin: GeoCLIP's
            100K MP-16 coordinates); ``"grid:STEP"`` / ``"land:STEP"`` (cell centres of a regular grid of ``STEP``
            degrees over the globe / over land only); a table file (CSV, Parquet, GeoParquet, GeoJSON,
            GeoPackage...: see :func:`geoembed.io.read_points`); a GeoDataFrame/GeoSeries of points; a DataFrame with
            lat/lon columns; an ``(M, 2)`` ``[lat, lon]`` array; or a :class:`Gallery`.
        lat_col, lon_col: coordinate columns of a table, when their names are not recognised.

    Names are looked up before files: a file that happens to be called like a registered gallery is read with a path
    that shows it is one (``./mp16``).
    """
    import pandas as pd

    if isinstance(gallery, Gallery):
        return gallery
    if isinstance(gallery, str) and ":" in gallery and gallery.split(":", 1)[0].lower() in _GRID_KINDS:
        kind, step_text = gallery.split(":", 1)
        try:
            step = float(step_text)
        except ValueError:
            raise ValueError(f"Gallery {gallery!r}: the grid step must be a number of degrees, "
                             f"e.g. 'land:0.5'.") from None
        return grid_gallery(step, land_only=kind.lower() == "land")
    if isinstance(gallery, str) and gallery in list_galleries():
        return create_gallery(gallery)
    if isinstance(gallery, (str, os.PathLike)):
        from geoembed.io import read_points

        path = Path(gallery).expanduser()
        if not path.exists():
            known = ", ".join(repr(n) for n in [*list_galleries(), "grid:STEP", "land:STEP"])
            raise FileNotFoundError(f"Gallery {str(gallery)!r} is neither a file nor a known gallery ({known}). "
                                    f"Galleries of plugins appear once the plugin is installed (geoembed plugins "
                                    f"--kind gallery lists them).")
        _, latlon = read_points(path, lat_col=lat_col, lon_col=lon_col)
        return Gallery.from_latlon(latlon, f"file:{path.name}")
    if isinstance(gallery, pd.DataFrame):
        from geoembed.io import latlon_from_table

        return Gallery.from_latlon(latlon_from_table(gallery, lat_col=lat_col, lon_col=lon_col), "table")
    return Gallery.from_latlon(gallery)


def grid_gallery(step: float, *, land_only: bool = False) -> Gallery:
    """Cell centres of a regular ``step``-degree grid over the globe (or over land only): the galleries
    ``"grid:STEP"`` and ``"land:STEP"``."""
    from geoembed.geo import global_grid

    kind = "land" if land_only else "grid"
    return Gallery.from_latlon(global_grid(step, land_only=land_only), f"{kind}-{step:g}deg", grid_step=step)


# -- gallery embeddings, cached ---------------------------------------------------------------------------------------
GALLERY_CACHE = DiskCache("galleries")


def _gallery_cache_key(gallery: Gallery, location_encoder: Any, dtype: str) -> str:
    return cache_key("gallery-embeddings", location_encoder.identity, gallery.checksum, dtype)


def gallery_cache_path(gallery: Gallery, location_encoder: Any, dtype: str = "float32") -> Path:
    """Where the embeddings of ``gallery`` under ``location_encoder`` are cached (under ``cache_dir()/galleries``).

    The file name starts with the gallery's name made file-safe and cut to 64 characters (any name works, however
    long), followed by the cache key."""
    return GALLERY_CACHE.path(_gallery_cache_key(gallery, location_encoder, dtype), label=gallery.name)


def gallery_embeddings(
    gallery: Any = DEFAULT_GALLERY,
    location_encoder: Any = "geoclip",
    *,
    dtype: str = "float32",
    cache: bool = True,
    batch_size: int = 8192,
    device: Any = None,
    progress: bool = False,
) -> np.ndarray:
    """L2-normalised location embeddings of a gallery, ``(M, D)``: computed once, then read from the disk cache.

    The cache file is a ``.npy`` opened memory-mapped (read-only), written atomically, and keyed by the encoder's
    ``identity`` (its weights checksum) and the gallery's checksum, so a new encoder or gallery never reuses stale
    embeddings. Its checksum is verified on every read (:mod:`geoembed.cache`): a damaged or edited file is rebuilt
    with a warning. ``dtype="float16"`` halves the file (scores are computed in float32 either way). The gallery is
    encoded by :func:`geoembed.location_encoders.encode.iter_embeddings`, geoembed's one encoding loop.
    """
    from geoembed.location_encoders import encode

    if dtype not in _GALLERY_STORAGE:
        raise ValueError(f"dtype must be one of {_GALLERY_STORAGE}, got {dtype!r}.")
    gallery = load_gallery(gallery)
    encoder = encode.get_location_encoder(location_encoder, device=device)
    shape = (len(gallery), encoder.embedding_dim)

    def chunks():  # a writable copy of the coordinates: torch warns about read-only arrays
        return encode.iter_embeddings(np.array(gallery.latlon), encoder, batch_size=batch_size, normalize=True,
                                      progress=progress)

    if not cache:
        return np.concatenate(list(chunks())).astype(dtype, copy=False)
    key = _gallery_cache_key(gallery, encoder, dtype)
    cached = GALLERY_CACHE.load(key, shape=shape, dtype=dtype, label=gallery.name, mmap=True)
    if cached is not None:
        return cached
    info = {"gallery": gallery.name, "points": len(gallery), "checksum": gallery.checksum,
            "location_encoder": encoder.identity}
    with GALLERY_CACHE.writer(key, shape, dtype, label=gallery.name, info=info) as out:
        start = 0
        for chunk in chunks():
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
    return np.load(GALLERY_CACHE.path(key, label=gallery.name), mmap_mode="r")


__all__ = [
    "DEFAULT_GALLERY", "GALLERY_CACHE", "Gallery", "create_gallery", "gallery_cache_path", "gallery_embeddings",
    "grid_gallery", "list_galleries", "load_gallery", "register_gallery",
]
