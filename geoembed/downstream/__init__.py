"""Downstream use of location embeddings: a scikit-learn featurizer, geometries and rasters, tasks and benchmarks.

Importing this package registers the ``.geoembed`` accessor on (Geo)DataFrames and (Geo)Series.

- :class:`LocationFeaturizer`: frozen embeddings as the first step of any scikit-learn pipeline;
- :func:`sample_raster`, :class:`RasterFeaturizer`: GeoTIFF / NetCDF values at points, as targets or features;
- :class:`Task`, :func:`register_task`, :func:`create_task`, :func:`list_tasks`: benchmark tasks (entry point group
  ``geoembed.tasks``);
- :func:`run_benchmark`: the downstream suite with spatial block cross-validation (reports in
  :mod:`geoembed.downstream.report`).
"""

from geoembed.downstream import accessor as _accessor  # noqa: F401  (registers gdf.geoembed)
from geoembed.downstream.benchmark import run_benchmark
from geoembed.downstream.featurizer import LocationFeaturizer, RasterFeaturizer
from geoembed.downstream.raster import sample_raster
from geoembed.downstream.tasks import Task, create_task, list_tasks, load_task, register_task

__all__ = ["LocationFeaturizer", "RasterFeaturizer", "Task", "create_task", "list_tasks", "load_task", "register_task", "run_benchmark", "sample_raster"]
