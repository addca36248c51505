"""``gdf.geoembed``: the common downstream calls on a GeoDataFrame (or GeoSeries).

>>> import geoembed.downstream                        # registers the accessor  # doctest: +SKIP
>>> emb = gdf.geoembed.encode(encoder="geoclip")      # DataFrame of embeddings, same index as gdf  # doctest: +SKIP
>>> gdf["t2m"] = gdf.geoembed.sample_raster("era5.nc")                              # doctest: +SKIP

Registered with pandas' accessor API (geopandas has none of its own), so the name exists on every DataFrame, but
the methods need geometries and say so otherwise. Like all pandas accessors it keeps no state: each call rebuilds it.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import pandas as pd

from geoembed.location_encoders.encode import DEFAULT_BATCH_SIZE


class _GeoembedAccessor:
    def __init__(self, obj: Any):
        self._obj = obj

    def _geometries(self):
        import geopandas as gpd

        if isinstance(self._obj, gpd.GeoDataFrame):
            return self._obj.geometry
        if isinstance(self._obj, gpd.GeoSeries):
            return self._obj
        raise TypeError(
            "The .geoembed accessor needs a GeoDataFrame or GeoSeries (with geometries and a CRS); convert with "
            "geopandas.GeoDataFrame(df, geometry=geopandas.points_from_xy(df.lon, df.lat), crs='EPSG:4326')."
        )

    def encode(
        self,
        encoder: Any = "geoclip",
        *,
        n_points: int = 16,
        geometry_method: str = "sample",
        seed: int = 0,
        normalize: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: Any = None,
        cache: bool = True,
        progress: bool = False,
        **encoder_kwargs: Any,
    ) -> pd.DataFrame:
        """Embeddings as a DataFrame aligned with the rows (same index), named as everywhere in geoembed
        (:func:`geoembed.io.embedding_column_names`: ``geoclip_000 ...``, or the encoder's own ``feature_names``).

        Points are embedded directly; polygons and lines as the mean over ``n_points`` area- (length-) uniform
        samples, or their centroid (``geometry_method="centroid"``). Results are cached on disk.
        """
        from geoembed.downstream.featurizer import LocationFeaturizer

        featurizer = LocationFeaturizer(
            encoder, encoder_kwargs=encoder_kwargs or None, n_points=n_points, geometry_method=geometry_method,
            seed=seed, normalize=normalize, batch_size=batch_size, device=device, cache=cache, progress=progress)
        geoms = self._geometries()
        values = featurizer.fit(geoms).transform(geoms)
        return pd.DataFrame(values, index=self._obj.index, columns=featurizer.get_feature_names_out())

    def sample_raster(
        self,
        source: str | os.PathLike,
        *,
        bands: int | Sequence[int] | None = 1,
        crs: Any = None,
        outside: str = "nan",
        name: str | None = None,
    ):
        """Raster values at each row's point (a Series for one band, a DataFrame for several); NaN where no data.

        Rows must be points: sample a polygon's raster values at its own sampled points yourself, with
        :func:`geoembed.downstream.geometry.geometry_points` and :func:`geoembed.downstream.raster.sample_raster`.
        """
        from geoembed.downstream.raster import sample_raster

        values = sample_raster(source, self._geometries(), bands=bands, crs=crs, outside=outside)
        if values.ndim == 1:
            return pd.Series(values, index=self._obj.index, name=name or "value")
        labels = list(range(1, values.shape[1] + 1)) if bands is None else list(bands)
        return pd.DataFrame(values, index=self._obj.index, columns=[f"{name or 'band'}_{b}" for b in labels])

    def to_task(self, name: str, target: str, kind: str, *, register: bool = True, **task_options: Any):
        """A benchmark :class:`~geoembed.downstream.tasks.Task` from this GeoDataFrame (registered by default)."""
        from geoembed.downstream.tasks import Task, register_task

        task = Task(name=name, data=self._obj, target=target, kind=kind, **task_options)
        return register_task(name, task) if register else task


# Module import runs once per process, so this registers exactly once.
pd.api.extensions.register_dataframe_accessor("geoembed")(_GeoembedAccessor)
pd.api.extensions.register_series_accessor("geoembed")(_GeoembedAccessor)
