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

from geoembed.coords import as_latlon
from geoembed.errors import InvalidCoordinatesError
from geoembed.downstream.cache import embed_points
from geoembed.downstream.geometry import aggregate_by_owner, geometry_points

LAT_NAMES = ("lat", "latitude", "y")
LON_NAMES = ("lon", "lng", "long", "longitude", "x")


def embed_geometries(
    geoms: Any,
    model: Any,
    *,
    n_points: int = 16,
    method: str = "sample",
    seed: int = 0,
    normalize: bool = False,
    batch_size: int = 8192,
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
    """The (latitude, longitude) column names of a DataFrame, found by their usual names (case-insensitive)."""
    lower = {str(c).lower(): c for c in frame.columns}
    lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
    lon = next((lower[n] for n in LON_NAMES if n in lower), None)
    if lat is None or lon is None:
        raise InvalidCoordinatesError(
            f"Cannot find latitude/longitude columns among {list(frame.columns)[:10]}; name them 'lat' and 'lon' "
            f"(or 'latitude'/'longitude'), or pass a GeoDataFrame."
        )
    return lat, lon


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
        batch_size: int = 8192,
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
        from geoembed.encode import get_location_encoder

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
        """``<encoder>_0 ... <encoder>_{D-1}`` (so ``set_output(transform="pandas")`` gets named columns)."""
        check_is_fitted(self, "encoder_")
        prefix = self.encoder if isinstance(self.encoder, str) else type(self.encoder).__name__.lower()
        return np.asarray([f"{prefix}_{i}" for i in range(self.embedding_dim_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        return tags

    # -- input handling -----------------------------------------------------------------------------------------
    def _inputs(self, X: Any, *, reset: bool) -> tuple[str, Any]:
        """("geometries", GeoSeries) or ("points", validated (N, 2) [lat, lon])."""
        import geopandas as gpd
        import pandas as pd

        if self.order not in ("latlon", "lonlat"):
            raise ValueError(f"order must be 'latlon' or 'lonlat', got {self.order!r}.")
        if isinstance(X, (gpd.GeoDataFrame, gpd.GeoSeries)):
            if reset:
                self.n_features_in_ = 1
            return "geometries", X
        if isinstance(X, pd.DataFrame):
            try:
                lat, lon = latlon_columns(X)
            except InvalidCoordinatesError:
                if X.shape[1] != 2:
                    raise
            else:  # named columns win over ``order``: a frame with "lon", "lat" columns is never read swapped
                X = X[[lat, lon]] if self.order == "latlon" else X[[lon, lat]]
        array = validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=1)
        if array.shape[1] != 2:
            raise InvalidCoordinatesError(
                f"LocationFeaturizer needs 2 columns ({'lat, lon' if self.order == 'latlon' else 'lon, lat'}), got "
                f"{array.shape[1]}. Pass a GeoDataFrame, a DataFrame with 'lat'/'lon' columns or an (N, 2) array."
            )
        return "points", as_latlon(array, order=self.order)
