"""Image geo-localization by retrieval (GeoCLIP): where on Earth was a photo taken?

A photo's embedding is compared with the embeddings of a *gallery* of GPS coordinates; the most similar coordinates
are the predictions, and a softmax over the whole gallery (scaled by GeoCLIP's learned logit scale) gives their
probabilities, exactly as the reference ``GeoCLIP.predict`` does. Unlike the reference, which re-encodes its 100K
gallery on every call, the gallery embeddings are computed once and cached on disk (memory-mapped, keyed by the
location encoder's identity and the gallery's checksum), and retrieval walks the gallery in chunks with a running
top-k and a running log-sum-exp, so memory stays bounded for galleries of millions of points.

Prior knowledge restricts the search: ``within=(lat, lon, radius_km)`` (GeoCLIP's Table 5 protocol; one row per image
also works) and ``inside=`` polygons (a country from a GeoDataFrame). Probabilities are then normalised over the
allowed gallery points only.

:func:`text_map` scores a text (through CLIP's text tower and GeoCLIP's head, paper section 4.4) against location
embeddings over the globe and draws the map of its similarity (the paper's Figure 4).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geoembed.cache import DiskCache, cache_key
from geoembed.coords import as_latlon
from geoembed.errors import GeoembedError, InvalidCoordinatesError, InvalidGeometryError

DEFAULT_GALLERY = "mp16"
#: GeoCLIP's evaluation thresholds (street, city, region, country, continent).
THRESHOLDS_KM = (1, 25, 200, 750, 2500)
#: Gallery rows scored per matrix product: bounds memory to ``queries x CHUNK`` logits.
CHUNK_ROWS = 65_536
_GALLERY_STORAGE = ("float32", "float16")


# -- galleries ---------------------------------------------------------------------------------------------------------
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


def load_gallery(gallery: Any = DEFAULT_GALLERY, *, lat_col: str | None = None, lon_col: str | None = None) -> Gallery:
    """A :class:`Gallery` from a name, a file, a table or coordinates.

    Args:
        gallery: ``"mp16"`` (GeoCLIP's 100K MP-16 coordinates, read from the ``geoclip`` wheel or the cache);
            ``"grid:STEP"`` / ``"land:STEP"`` (cell centres of a regular grid of ``STEP`` degrees over the globe /
            over land only); a table file (CSV, Parquet, GeoParquet, GeoJSON, GeoPackage...: see
            :func:`geoembed.io.read_points`); a GeoDataFrame/GeoSeries of points; a DataFrame with lat/lon columns;
            an ``(M, 2)`` ``[lat, lon]`` array; or a :class:`Gallery`.
        lat_col, lon_col: coordinate columns of a table, when their names are not recognised.
    """
    import pandas as pd

    if isinstance(gallery, Gallery):
        return gallery
    if isinstance(gallery, str) and gallery.lower() in ("mp16", "mp16-100k"):
        return _mp16_gallery()
    if isinstance(gallery, str) and gallery.split(":", 1)[0].lower() in ("grid", "land") and ":" in gallery:
        kind, step_text = gallery.split(":", 1)
        try:
            step = float(step_text)
        except ValueError:
            raise ValueError(f"Gallery {gallery!r}: the grid step must be a number of degrees, e.g. 'land:0.5'.") from None
        from geoembed.geo import global_grid

        return Gallery.from_latlon(global_grid(step, land_only=kind.lower() == "land"), f"{kind.lower()}-{step:g}deg",
                                   grid_step=step)
    if isinstance(gallery, (str, os.PathLike)):
        from geoembed.io import read_points

        path = Path(gallery).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"Gallery {str(gallery)!r} is neither a file nor a known gallery ('mp16', 'grid:STEP', 'land:STEP')."
            )
        _, latlon = read_points(path, lat_col=lat_col, lon_col=lon_col)
        return Gallery.from_latlon(latlon, f"file:{path.name}")
    if isinstance(gallery, pd.DataFrame):
        from geoembed.io import latlon_from_table

        return Gallery.from_latlon(latlon_from_table(gallery, lat_col=lat_col, lon_col=lon_col), "table")
    return Gallery.from_latlon(gallery)


def _mp16_gallery() -> Gallery:
    from geoembed.weights import resolve_weights
    from geoembed_geoclip.weights import GPS_GALLERY_100K

    return _read_mp16(str(resolve_weights(GPS_GALLERY_100K).path))


@functools.lru_cache(maxsize=2)
def _read_mp16(path: str) -> Gallery:
    import pandas as pd

    table = pd.read_csv(path, usecols=["LAT", "LON"])
    return Gallery.from_latlon(table[["LAT", "LON"]].to_numpy(), "mp16-100k")


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
    with a warning. ``dtype="float16"`` halves the file (scores are computed in float32 either way).
    """
    from geoembed.location_encoders.encode import get_location_encoder, iter_embeddings

    if dtype not in _GALLERY_STORAGE:
        raise ValueError(f"dtype must be one of {_GALLERY_STORAGE}, got {dtype!r}.")
    gallery = load_gallery(gallery)
    encoder = get_location_encoder(location_encoder, device=device)
    shape = (len(gallery), encoder.embedding_dim)

    def chunks():  # a writable copy of the coordinates: torch warns about read-only arrays
        return iter_embeddings(np.array(gallery.latlon), encoder, batch_size=batch_size, normalize=True,
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


# -- retrieval ---------------------------------------------------------------------------------------------------------
@dataclass
class Retrieval:
    """Top-k gallery rows per query: ``indices`` and ``logits`` ``(Q, k)`` (-inf where fewer than k were allowed),
    and ``log_norm`` ``(Q,)``, the log-sum-exp of every allowed logit (so ``exp(logits - log_norm)`` are softmax
    probabilities over the allowed gallery)."""

    indices: np.ndarray
    logits: np.ndarray
    log_norm: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(self.logits), np.exp(self.logits - self.log_norm[:, None]), 0.0)


def retrieve(
    queries: Any,
    embeddings: np.ndarray,
    top_k: int,
    *,
    logit_scale: float = 1.0,
    allowed: np.ndarray | None = None,
    within: np.ndarray | None = None,
    gallery_latlon: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
    device: Any = None,
) -> Retrieval:
    """Top-k of ``logit_scale * queries @ embeddings.T`` over a gallery, walked in chunks of ``chunk_rows``.

    Args:
        queries: ``(Q, D)`` L2-normalised query embeddings.
        embeddings: ``(M, D)`` L2-normalised gallery embeddings (a memory map is fine: read chunk by chunk).
        allowed: optional ``(M,)`` boolean mask of gallery rows that may be returned (polygon restrictions).
        within: optional ``(Q, 3)`` ``[lat, lon, radius_km]`` per query: only gallery points that close count.
        gallery_latlon: the gallery's ``(M, 2)`` coordinates, needed with ``within``.
    """
    import torch

    from geoembed.location_encoders.encode import resolve_device
    from geoembed.geo import haversine_km

    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer (how many gallery rows to return per query), got "
                         f"{top_k!r}.")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    dev = resolve_device(device)
    q = torch.as_tensor(np.asarray(queries, dtype=np.float32), device=dev)
    n_queries, m = q.shape[0], embeddings.shape[0]
    top_k = int(top_k)
    best_logits = torch.full((n_queries, 0), float("-inf"), device=dev)
    best_index = torch.zeros((n_queries, 0), dtype=torch.long, device=dev)
    log_norm = torch.full((n_queries,), float("-inf"), device=dev)
    if within is not None and gallery_latlon is None:
        raise ValueError("within= needs gallery_latlon (the gallery's coordinates).")
    for start in range(0, m, chunk_rows):
        stop = min(start + chunk_rows, m)
        keep = None if allowed is None else np.asarray(allowed[start:stop], dtype=bool)
        if keep is not None and not keep.any():
            continue
        block = _as_tensor(np.asarray(embeddings[start:stop]), dev).float()  # float16 storage is widened here
        logits = (q @ block.T) * logit_scale
        if keep is not None:
            logits[:, torch.as_tensor(~keep, device=dev)] = float("-inf")
        if within is not None:
            chunk_latlon = gallery_latlon[start:stop]
            far = haversine_km(within[:, :1], within[:, 1:2], chunk_latlon[None, :, 0], chunk_latlon[None, :, 1])
            logits[torch.as_tensor(far > within[:, 2:3], device=dev)] = float("-inf")
        log_norm = torch.logaddexp(log_norm, torch.logsumexp(logits, dim=1))
        values, index = logits.topk(min(top_k, stop - start), dim=1)
        merged_logits = torch.cat([best_logits, values], dim=1)
        merged_index = torch.cat([best_index, index + start], dim=1)
        best_logits, order = merged_logits.topk(min(top_k, merged_logits.shape[1]), dim=1)
        best_index = merged_index.gather(1, order)
    return Retrieval(best_index.cpu().numpy(), best_logits.cpu().numpy(), log_norm.cpu().numpy())


def _as_tensor(block: np.ndarray, device: Any):
    """A tensor view of a (possibly read-only, memory-mapped) array; retrieval only reads it."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(block, device=device)


def inside_mask(latlon: np.ndarray, inside: Any) -> np.ndarray:
    """``(M,)`` True where a point lies inside ``inside``: a GeoDataFrame/GeoSeries (any CRS) or shapely geometry."""
    import shapely

    geometry = _union_wgs84(inside)
    shapely.prepare(geometry)
    return shapely.intersects_xy(geometry, latlon[:, 1], latlon[:, 0])  # the boundary counts as inside


def _union_wgs84(inside: Any):
    import geopandas as gpd
    import shapely

    if isinstance(inside, gpd.GeoDataFrame):
        inside = inside.geometry
    if isinstance(inside, gpd.GeoSeries):
        if inside.crs is None:
            raise InvalidGeometryError(
                "The polygons in inside= have no CRS; set one (gdf.set_crs('EPSG:4326') for longitude/latitude)."
            )
        inside = shapely.union_all(inside.to_crs("EPSG:4326").geometry.array)
    if not isinstance(inside, shapely.Geometry):
        raise TypeError(f"inside= must be a GeoDataFrame, GeoSeries or shapely geometry, got {type(inside).__name__}.")
    if inside.is_empty or shapely.get_dimensions(inside) != 2:
        raise InvalidGeometryError("inside= must hold polygons (areas to search in), not points or lines.")
    return inside


def _within_rows(within: Any, n: int) -> np.ndarray | None:
    """``within`` as ``(n, 3)`` ``[lat, lon, radius_km]`` rows (one triple is repeated for every image)."""
    if within is None:
        return None
    rows = np.asarray(within, dtype=np.float64)
    if rows.shape == (3,):
        rows = np.repeat(rows[None], n, axis=0)
    if rows.shape != (n, 3):
        raise ValueError(
            f"within= must be (lat, lon, radius_km) or one such row per image ({n} rows); got shape {rows.shape}."
        )
    as_latlon(rows[:, :2], order="latlon")  # validates the centres (NaN, ranges, swapped columns)
    if not (np.isfinite(rows[:, 2]).all() and (rows[:, 2] > 0).all()):
        raise InvalidCoordinatesError("within= radii must be positive numbers of kilometres.")
    return rows


# -- geolocate ---------------------------------------------------------------------------------------------------------
def geolocate(
    images: Any,
    top_k: int = 5,
    *,
    model: Any = "geoclip",
    location_encoder: Any = "geoclip",
    gallery: Any = DEFAULT_GALLERY,
    within: Any = None,
    inside: Any = None,
    ten_crop: bool = False,
    batch_size: int = 32,
    device: Any = None,
    progress: bool = False,
    gallery_dtype: str = "float32",
    **model_kwargs: Any,
):
    """Predict where photos were taken: the ``top_k`` most likely gallery coordinates per image, with probabilities.

    >>> preds = geolocate(["photo1.jpg", "photo2.jpg"], top_k=5)                # doctest: +SKIP
    >>> preds = geolocate("photo.jpg", within=(48.85, 2.35, 750))               # doctest: +SKIP

    Args:
        images: paths, folders, PIL images, arrays or tensors (see :func:`geoembed.image_backbones.images.collect_images`); files that
            cannot be read are skipped with a :class:`~geoembed.image_backbones.images.SkippedImageWarning` and listed in
            ``result.attrs["skipped"]``.
        model: the image model: ``"geoclip"`` (CLIP ViT-L/14 + GeoCLIP's head) or any image backbone whose features
            live in the location encoder's space; its ``logit_scale`` (log temperature) scales the softmax.
        location_encoder: the location encoder that embeds the gallery (``"geoclip"``).
        gallery: where to search; see :func:`load_gallery`.
        within: ``(lat, lon, radius_km)``, or one such row per image: search only that close to a known point.
        inside: polygons (GeoDataFrame/GeoSeries/shapely) to search in, e.g. one country of ``geoembed.geo.countries()``.
        ten_crop: average the logits of the ten crops (GeoCLIP's evaluation protocol) instead of one centre crop.
        gallery_dtype: ``"float16"`` halves the cached gallery file.
        **model_kwargs: passed to the image model's factory (e.g. ``clip_pretrained="/path/ViT-L-14.safetensors"``).

    Returns:
        a DataFrame with one row per image and rank: ``image``, ``rank`` (1 = best), ``lat``, ``lon``,
        ``probability`` (softmax over the allowed gallery) and ``similarity`` (cosine, averaged over crops).
        An image restricted to fewer than ``top_k`` gallery points gets fewer rows.
    """
    import pandas as pd
    import torch

    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.image_backbones.images import collect_images, get_image_backbone, iter_feature_batches

    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
    items = collect_images(images)
    check_photos_exist(items)  # before any model or weights: a missing photo is the first thing to hear about
    image_model = get_image_backbone(model, device=device, **model_kwargs)
    encoder = get_location_encoder(location_encoder, device=device)
    _check_compatible(image_model, encoder)
    gallery = load_gallery(gallery)
    within_rows = _within_rows(within, len(items))
    allowed = None
    if inside is not None:
        allowed = inside_mask(gallery.latlon, inside)
        if not allowed.any():
            raise GeoembedError(f"No point of the gallery {gallery.name!r} lies inside the given polygons; use a denser "
                                f"gallery (e.g. gallery='land:0.1') or check the polygons' CRS.")
    embeddings = gallery_embeddings(gallery, encoder, dtype=gallery_dtype, device=device, progress=progress)
    logit_scale = float(torch.as_tensor(getattr(image_model, "logit_scale", 0.0)).exp())

    frames, skipped = [], []
    for rows, features, bad in iter_feature_batches(items, image_model, batch_size=batch_size,
                                                    views="ten_crop" if ten_crop else "center", progress=progress):
        skipped.extend((items[i].name, reason) for i, reason in bad)
        if not rows:
            continue
        queries = _normalize(features)
        if queries.ndim == 3:  # the mean of unit vectors: its dot products are the mean of the crops' cosines
            queries = queries.mean(axis=1)
        found = retrieve(queries, embeddings, top_k, logit_scale=logit_scale, allowed=allowed,
                         within=None if within_rows is None else within_rows[rows], gallery_latlon=gallery.latlon,
                         device=device)
        _check_found(found, [items[r].name for r in rows], within_rows, rows)
        frames.append(_predictions_frame([items[r].name for r in rows], found, gallery, logit_scale))
    columns = ["image", "rank", "lat", "lon", "probability", "similarity"]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    result.attrs["skipped"] = skipped
    result.attrs["gallery"] = gallery.name
    return result


def check_photos_exist(items: Sequence[Any]) -> None:
    """Raise when every photo given is a path that does not exist; when only some are missing, they are skipped later.

    Cheap and first: it runs before the model and its weights are looked for.
    """
    paths = [item.source for item in items if isinstance(item.source, Path)]
    missing = [str(p) for p in paths if not p.exists()]
    if items and len(missing) == len(items):
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FileNotFoundError(f"No such photo: {shown}.")


def _check_compatible(image_model: Any, encoder: Any) -> None:
    if image_model.feature_dim != encoder.embedding_dim:
        raise GeoembedError(
            f"The image model gives {image_model.feature_dim}-d features but the location encoder "
            f"{type(encoder).__name__} gives {encoder.embedding_dim}-d embeddings; geo-localization needs a model "
            f"trained to share the location space, such as the image backbone 'geoclip' with location encoder 'geoclip'."
        )


def _normalize(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def _check_found(found: Retrieval, names: list[str], within_rows: np.ndarray | None, rows: list[int]) -> None:
    empty = ~np.isfinite(found.log_norm)
    if not empty.any():
        return
    i = int(np.flatnonzero(empty)[0])
    where = ""
    if within_rows is not None:
        lat, lon, radius = within_rows[rows[i]]
        where = f" within {radius:g} km of ({lat:g}, {lon:g})"
    raise GeoembedError(
        f"No gallery point lies{where} in the allowed area for image {names[i]}; enlarge the radius or use a denser "
        f"gallery (e.g. gallery='land:0.1')."
    )


def _predictions_frame(names: list[str], found: Retrieval, gallery: Gallery, logit_scale: float):
    import pandas as pd

    valid = np.isfinite(found.logits)
    image_row, rank = np.nonzero(valid)
    index = found.indices[valid]
    return pd.DataFrame({
        "image": np.asarray(names, dtype=object)[image_row],
        "rank": rank + 1,
        "lat": gallery.latlon[index, 0],
        "lon": gallery.latlon[index, 1],
        "probability": found.probabilities[valid],
        "similarity": found.logits[valid] / logit_scale,
    })


# -- evaluation --------------------------------------------------------------------------------------------------------
def accuracy_at(predicted: Any, true: Any, thresholds_km: Sequence[float] = THRESHOLDS_KM) -> dict[str, float]:
    """Share of predictions within each distance of the truth (GeoCLIP's metric), plus the median and mean error.

    ``predicted`` and ``true`` are ``(N, 2)`` ``[lat, lon]``. Returns ``{"acc@1km": ..., ..., "median_km": ...,
    "mean_km": ..., "n": N}`` (accuracies as fractions in [0, 1]).
    """
    from geoembed.geo import haversine_km

    predicted = as_latlon(np.asarray(predicted, dtype=np.float64), order="latlon")
    true = as_latlon(np.asarray(true, dtype=np.float64), order="latlon")
    if predicted.shape != true.shape:
        raise ValueError(f"predicted and true must have the same shape, got {predicted.shape} and {true.shape}.")
    errors = haversine_km(predicted[:, 0], predicted[:, 1], true[:, 0], true[:, 1])
    result: dict[str, float] = {f"acc@{t:g}km": float(np.mean(errors <= t)) for t in thresholds_km}
    result.update(median_km=float(np.median(errors)), mean_km=float(np.mean(errors)), n=int(len(errors)))
    return result


IMAGE_COLUMNS = ("image", "path", "image_path", "file", "filename", "photo")


def load_photo_truth(
    source: Any,
    *,
    image_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    exif: bool = False,
    recursive: bool = False,
):
    """Photos and where they were really taken, for :func:`evaluate_photos`.

    Args:
        source: a table (CSV or Parquet) with an image path column (paths relative to the table's folder) and,
            unless ``exif``, latitude/longitude columns; or images/folders whose EXIF GPS tags give the truth.
        exif: read the truth from the photos' GPS tags even when the table has coordinate columns.

    Returns:
        ``(truth, skipped)``: a DataFrame ``image``, ``lat``, ``lon`` and ``(image, reason)`` for photos without a
        usable position (no GPS tags, unreadable file).
    """
    import pandas as pd

    from geoembed.image_backbones.images import collect_images, read_exif_latlon
    from geoembed.io import LAT_NAMES, latlon_from_table

    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    if path is not None and path.is_file() and path.suffix.lower() in (".csv", ".parquet"):
        table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        column = _image_column(table, image_col)
        if table[column].isna().any():
            raise GeoembedError(f"{path}: column {column!r} has empty cells (rows "
                                f"{table.index[table[column].isna()].tolist()[:5]}...); every row needs an image path.")
        images = [p if p.is_absolute() else path.parent / p for p in (Path(str(v)) for v in table[column])]
        has_coords = lat_col is not None or any(str(c).strip().lower() in LAT_NAMES[0] for c in table.columns)
        if has_coords and not exif:
            latlon = latlon_from_table(table, lat_col=lat_col, lon_col=lon_col)
            truth = pd.DataFrame({"image": [str(p) for p in images], "lat": latlon[:, 0], "lon": latlon[:, 1]})
            return _unique_images(truth), []
    else:
        images = [item.source for item in collect_images(source, recursive=recursive)]
    rows, skipped = [], []
    for image in images:
        try:
            found = read_exif_latlon(image)
        except Exception as exc:  # unreadable file: reported with the others
            skipped.append((str(image), f"{type(exc).__name__}: {exc}"))
            continue
        if found is None:
            skipped.append((str(image), "no GPS position in its EXIF tags"))
        else:
            rows.append((str(image), *found))
    return _unique_images(pd.DataFrame(rows, columns=["image", "lat", "lon"])), skipped


def _image_column(table, image_col: str | None) -> str:
    if image_col is not None:
        if image_col not in table.columns:
            raise GeoembedError(f"No column {image_col!r}; the columns are {list(table.columns)}.")
        return image_col
    matches = [c for c in table.columns if str(c).strip().lower() in IMAGE_COLUMNS]
    if len(matches) != 1:
        raise GeoembedError(
            f"Cannot tell which column holds the image paths (columns: {list(table.columns)}; recognised names: "
            f"{', '.join(IMAGE_COLUMNS)}). Name it with image_col= (--image-col)."
        )
    return matches[0]


def _unique_images(truth):
    duplicated = truth["image"][truth["image"].duplicated()]
    if len(duplicated):
        raise GeoembedError(f"Images listed more than once: {sorted(set(duplicated))[:5]}; list each photo once.")
    return truth


def evaluate_photos(
    source: Any,
    *,
    thresholds_km: Sequence[float] = THRESHOLDS_KM,
    within_km: float | None = None,
    image_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    exif: bool = False,
    **geolocate_kwargs: Any,
):
    """Geo-localization accuracy on photos with known positions (GeoCLIP's metric: share within 1/25/200/750/2500 km).

    Args:
        source: see :func:`load_photo_truth` (a table of image paths and coordinates, or photos with GPS tags).
        within_km: search only this close to each photo's true position (GeoCLIP's Table 5 protocol).
        **geolocate_kwargs: passed to :func:`geolocate` (``model=``, ``gallery=``, ``ten_crop=``...).

    Returns:
        ``(summary, per_image)``: ``summary`` is :func:`accuracy_at`'s dict plus ``skipped`` (photos without a
        position or unreadable); ``per_image`` has ``image``, ``lat``, ``lon`` (truth), ``pred_lat``, ``pred_lon``,
        ``probability`` and ``error_km``.
    """
    import warnings

    from geoembed.geo import haversine_km
    from geoembed.image_backbones.images import SkippedImageWarning

    truth, skipped = load_photo_truth(source, image_col=image_col, lat_col=lat_col, lon_col=lon_col, exif=exif)
    for name, reason in skipped:
        warnings.warn(f"Skipping {name}: {reason}", SkippedImageWarning, stacklevel=2)
    if truth.empty:
        raise GeoembedError("No photo with a known position to evaluate (see the skipped-image warnings).")
    within = None
    if within_km is not None:
        within = np.column_stack([truth["lat"], truth["lon"], np.full(len(truth), float(within_km))])
    predictions = geolocate(truth["image"].tolist(), 1, within=within, **geolocate_kwargs)
    skipped += predictions.attrs["skipped"]
    top = predictions[predictions["rank"] == 1].rename(columns={"lat": "pred_lat", "lon": "pred_lon"})
    per_image = truth.merge(top[["image", "pred_lat", "pred_lon", "probability"]], on="image", how="inner")
    per_image["error_km"] = haversine_km(per_image["lat"], per_image["lon"], per_image["pred_lat"], per_image["pred_lon"])
    summary: dict[str, Any] = accuracy_at(per_image[["pred_lat", "pred_lon"]].to_numpy(),
                                          per_image[["lat", "lon"]].to_numpy(), thresholds_km)
    summary["skipped"] = len(skipped)
    return summary, per_image


# -- text queries ------------------------------------------------------------------------------------------------------
def text_map(
    text: str,
    out: str | os.PathLike | None = None,
    *,
    model: Any = "geoclip",
    location_encoder: Any = "geoclip",
    gallery: Any = "grid:1",
    device: Any = None,
    progress: bool = False,
    title: str | None = None,
    cmap: str = "magma",
    **model_kwargs: Any,
):
    """Cosine similarity of a text with location embeddings over the globe (GeoCLIP's Figure 4), optionally as a PNG.

    The text goes through CLIP's text tower and GeoCLIP's head (``model.encode_text``); the locations are a gallery
    (default: a 1-degree grid over the whole globe; ``"land:0.5"`` for a finer land-only map), embedded once and
    cached like any gallery.

    Returns:
        a DataFrame ``lat``, ``lon``, ``similarity``; with ``out``, the map is also saved there as a PNG.
    """
    import pandas as pd
    import torch

    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.image_backbones.images import get_image_backbone

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}.")
    image_model = get_image_backbone(model, device=device, **model_kwargs)
    if not hasattr(image_model, "encode_text"):
        raise GeoembedError(f"The image model {type(image_model).__name__} has no text tower (encode_text); use a CLIP "
                            f"model such as 'geoclip'.")
    encoder = get_location_encoder(location_encoder, device=device)
    _check_compatible(image_model, encoder)
    gallery = load_gallery(gallery)
    embeddings = gallery_embeddings(gallery, encoder, device=device, progress=progress)
    with torch.inference_mode():
        query = _normalize(image_model.encode_text([text]).float().cpu().numpy())[0]
    similarity = np.concatenate([
        np.asarray(embeddings[s : s + CHUNK_ROWS], dtype=np.float32) @ query for s in range(0, len(gallery), CHUNK_ROWS)
    ])
    result = pd.DataFrame({"lat": gallery.latlon[:, 0], "lon": gallery.latlon[:, 1], "similarity": similarity})
    if out is not None:
        from geoembed.maps import plot_world

        plot_world(gallery.latlon, similarity, out, title=title if title is not None else f'"{text}"',
                   label="cosine similarity", cmap=cmap, grid_step=gallery.grid_step)
    return result
