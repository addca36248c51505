"""``LocationFeaturizer``: frozen location embeddings as a scikit-learn transformer.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.linear_model import RidgeCV
>>> pipe = make_pipeline(LocationFeaturizer(encoder="geoclip"), RidgeCV())   # doctest: +SKIP
>>> pipe.fit(gdf, gdf["income"])                                            # doctest: +SKIP

Inputs: a GeoDataFrame / GeoSeries (points, polygons, lines; any CRS), a DataFrame with latitude/longitude columns,
or an ``(N, 2)`` array (``order="latlon"`` by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from geoembed.coords import LAT_COLUMN_NAMES, LON_COLUMN_NAMES, as_latlon
from geoembed.errors import DataFileError, InvalidCoordinatesError
from geoembed.downstream.cache import embed_points
from geoembed.downstream.geometry import aggregate_by_owner, geometry_points
from geoembed.downstream.raster import sample_raster
from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE


def embed_geometries(
    geoms: Any,
    model: Any,
    *,
    n_points: int = 16,
    method: str = "sample",
    seed: int = 0,
    normalize: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: bool = True,
    identity: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """float32 ``(N, D)``: one embedding per geometry (points as is, polygons/lines as the mean over sampled points)."""
    points = geometry_points(geoms, n_points=n_points, method=method, seed=seed)
    emb = embed_points(points.latlon, model, batch_size=batch_size, normalize=normalize, cache=cache,
                       identity=identity, progress=progress)
    if len(points.latlon) == points.n_geometries and np.array_equal(points.owner, np.arange(points.n_geometries)):
        return emb
    return aggregate_by_owner(emb, points.owner, points.n_geometries)


def latlon_columns(frame: Any) -> tuple[str, str]:
    """The (latitude, longitude) column names of a DataFrame, found by the names of :data:`geoembed.coords.LAT_COLUMN_NAMES`
    and :data:`~geoembed.coords.LON_COLUMN_NAMES` (case-insensitive), as every table reader of geoembed finds them."""
    from geoembed.io import coordinate_columns

    try:
        return coordinate_columns(frame)
    except DataFileError as exc:
        known = ", ".join(repr(n) for tier in (LAT_COLUMN_NAMES, LON_COLUMN_NAMES) for names in tier for n in names)
        raise InvalidCoordinatesError(
            f"Cannot find latitude/longitude columns among {list(frame.columns)[:10]} ({exc}). Name them 'lat' and "
            f"'lon' (recognised names, any case: {known}), or pass a GeoDataFrame."
        ) from None


class LocationFeaturizer(TransformerMixin, BaseEstimator):
    """Embed locations with a frozen location encoder; use it as the first step of any scikit-learn pipeline.

    Args:
        encoder: a registered location encoder name (``geoembed.list_location_encoders()``) or an instance.
        encoder_kwargs: options for the encoder's factory (e.g. ``{"pretrained": False}``).
        order: column order of plain arrays: ``"latlon"`` or ``"lonlat"``.
        n_points: points sampled per polygon or line (area- / length-uniform; see :mod:`geoembed.downstream.geometry`).
        geometry_method: ``"sample"`` (mean over sampled points) or ``"centroid"``.
        seed: seed of the point sampling.
        normalize: L2-normalise each point's embedding before aggregation.
        batch_size, device: as in :func:`geoembed.encode_location`.
        cache: reuse embeddings from the on-disk cache (:mod:`geoembed.downstream.cache`).

    The encoder is built in :meth:`fit` (``encoder_`` attribute); ``transform`` returns float32 ``(N, D)``.
    """

    def __init__(
        self,
        encoder: Any = "geoclip",
        *,
        encoder_kwargs: dict | None = None,
        order: str = "latlon",
        n_points: int = 16,
        geometry_method: str = "sample",
        seed: int = 0,
        normalize: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: Any = None,
        cache: bool = True,
        progress: bool = False,
    ):
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.order = order
        self.n_points = n_points
        self.geometry_method = geometry_method
        self.seed = seed
        self.normalize = normalize
        self.batch_size = batch_size
        self.device = device
        self.cache = cache
        self.progress = progress

    def fit(self, X: Any, y: Any = None) -> "LocationFeaturizer":
        """Check ``X`` and build the encoder (no training: the embeddings are frozen)."""
        from geoembed.location_encoders.encode import get_location_encoder

        self._inputs(X, reset=True)
        self.encoder_ = get_location_encoder(self.encoder, device=self.device, **(self.encoder_kwargs or {}))
        self.embedding_dim_ = int(self.encoder_.embedding_dim)
        self.encoder_identity_ = self.encoder_.identity
        return self

    def transform(self, X: Any) -> np.ndarray:
        """float32 ``(N, embedding_dim_)`` embeddings of the rows of ``X``."""
        check_is_fitted(self, "encoder_")
        kind, value = self._inputs(X, reset=False)
        options = dict(normalize=self.normalize, batch_size=self.batch_size, cache=self.cache,
                       identity=self.encoder_identity_, progress=self.progress)
        if kind == "geometries":
            return embed_geometries(value, self.encoder_, n_points=self.n_points, method=self.geometry_method,
                                    seed=self.seed, **options)
        return embed_points(value, self.encoder_, **options)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The embedding column names of :func:`geoembed.io.embedding_column_names`, as ``geoembed encode`` writes
        them: ``geoclip_000 ... geoclip_511`` (or the encoder's own ``feature_names``); so
        ``set_output(transform="pandas")`` gets named columns."""
        from geoembed.io import embedding_column_names

        check_is_fitted(self, "encoder_")
        return np.asarray(embedding_column_names(self.embedding_dim_, encoder=self.encoder_), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        return tags

    # -- input handling -----------------------------------------------------------------------------------------
    def _inputs(self, X: Any, *, reset: bool) -> tuple[str, Any]:
        return _location_inputs(self, X, reset=reset)


class RasterFeaturizer(TransformerMixin, BaseEstimator):
    """Raster values at each row's location as features (NaN where a raster has no data: impute them downstream).

    >>> from sklearn.pipeline import make_pipeline, make_union
    >>> from sklearn.impute import SimpleImputer
    >>> features = make_union(LocationFeaturizer(encoder="geoclip"),
    ...                       make_pipeline(RasterFeaturizer(["dem.tif", "netcdf:era5.nc:t2m"]), SimpleImputer()))
    ...                                                                                          # doctest: +SKIP

    Args:
        rasters: raster sources (anything :func:`~geoembed.downstream.raster.sample_raster` opens); every band of
            each is a feature.
        crs: CRS of rasters whose files carry none (e.g. ``"EPSG:4326"`` for many NetCDF grids).
        order: column order of plain arrays.

    Polygons are represented by their equal-area centroid (sample a raster over a polygon's area yourself with
    :func:`~geoembed.downstream.geometry.geometry_points`).
    """

    def __init__(self, rasters: Any = (), *, crs: Any = None, order: str = "latlon"):
        self.rasters = rasters
        self.crs = crs
        self.order = order

    def fit(self, X: Any, y: Any = None) -> "RasterFeaturizer":
        """Check ``X`` and count each raster's bands (``n_bands_``)."""
        import rasterio

        if isinstance(self.rasters, (str, bytes)) or not len(self.rasters):
            raise ValueError("rasters must be a non-empty list of raster paths, e.g. ['dem.tif'].")
        _location_inputs(self, X, reset=True)
        self.n_bands_ = []
        for source in self.rasters:
            with rasterio.open(source) as src:
                self.n_bands_.append(src.count)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """float64 ``(N, total bands)``; NaN for nodata or points outside a raster."""
        check_is_fitted(self, "n_bands_")
        kind, value = _location_inputs(self, X, reset=False)
        if kind == "geometries":
            value = geometry_points(value, method="centroid").latlon
        columns = [sample_raster(source, value, order="latlon", bands=None, crs=self.crs) for source in self.rasters]
        return np.hstack(columns)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``<file stem>_b<band>`` per band (``<file stem>_<variable>_b<band>`` for ``netcdf:file:variable``)."""
        from pathlib import Path

        check_is_fitted(self, "n_bands_")
        names = []
        for source, count in zip(self.rasters, self.n_bands_):
            parts = str(source).split(":")
            stem = f"{Path(parts[1]).stem}_{parts[2]}" if len(parts) == 3 else Path(str(source)).stem  # netcdf:f:var
            names += [f"{stem}_b{band}" for band in range(1, count + 1)]
        return np.asarray(names, dtype=object)


def _location_inputs(estimator: Any, X: Any, *, reset: bool) -> tuple[str, Any]:
    """("geometries", GeoSeries) or ("points", validated (N, 2) [lat, lon]) from what a user passes as ``X``."""
    import geopandas as gpd
    import pandas as pd

    order = estimator.order
    if order not in ("latlon", "lonlat"):
        raise ValueError(f"order must be 'latlon' or 'lonlat', got {order!r}.")
    if isinstance(X, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if reset:
            estimator.n_features_in_ = 1
        return "geometries", X
    if isinstance(X, pd.DataFrame):
        try:
            lat, lon = latlon_columns(X)
        except InvalidCoordinatesError:
            if X.shape[1] != 2:
                raise
        else:  # named columns win over ``order``: a frame with "lon", "lat" columns is never read swapped
            X = X[[lat, lon]] if order == "latlon" else X[[lon, lat]]
    array = validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_min_samples=1)
    if array.shape[1] != 2:
        raise InvalidCoordinatesError(
            f"{type(estimator).__name__} needs 2 columns ({'lat, lon' if order == 'latlon' else 'lon, lat'}), got "
            f"{array.shape[1]}. Pass a GeoDataFrame, a DataFrame with 'lat'/'lon' columns or an (N, 2) array."
        )
    return "points", as_latlon(array, order=order)
