"""Benchmark tasks: a GeoDataFrame, a target column and everything needed to evaluate and cite it.

Tasks live in the ``tasks`` registry (entry point group ``geoembed.tasks``) like every other kind of plugin. The
built-in tasks are small GeoParquet files shipped in ``geoembed/data/tasks/`` and described by ``manifest.json``
(version, sha256, sampling design, provenance); their sha256 is verified every time one is loaded. Users add their
own with :func:`register_task`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

import numpy as np

from geoembed.errors import DataFileError
from geoembed.registry import tasks as task_registry

KINDS = ("regression", "classification")
TARGET_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
}
DEFAULT_METRICS = {"regression": ("r2", "mae", "rmse"), "classification": ("accuracy", "macro_f1")}
FAMILIES = ("environmental", "socioeconomic", "land_ecology")
GLOBAL_BLOCK_DEG = 15.0
TASKS_PACKAGE_DIR = ("data", "tasks")


@dataclass(frozen=True, eq=False)
class Task:
    """One prediction problem: ``data[target]`` from the locations in ``data.geometry``.

    Attributes:
        name: registry name.
        data: GeoDataFrame with a CRS; geometries are points, (multi)polygons or lines.
        target: the column to predict.
        kind: ``"regression"`` or ``"classification"``.
        metrics: metric names reported (``r2``, ``mae``, ``rmse``; ``accuracy``, ``macro_f1``).
        target_transform: applied to a regression target before fitting and scoring (``"log10"``, ``"log1p"``,
            ``"sqrt"`` or None): metrics are in the transformed units.
        block_size_deg: side of the spatial CV blocks in degrees (None: :func:`default_block_size`).
        description, sampling, version: what is predicted, how the rows were drawn, data version.
        provenance: ``{"source": ..., "license": ..., "citation": ...}``.
        units: units of the target before ``target_transform`` (for reports).
        gates: the data gates the task declares, ``{gate name: parameters}`` (documented region, value range,
            land, source agreement...; see :mod:`geoembed.downstream.gates`); run by the task build and the tests.
        sources: provenance source ids of the data the targets and geometries come from (``"era5-climatology"``,
            ``"natural-earth-110m-admin0"``...); the benchmark's leakage guard compares them with the
            ``training_sources`` of each encoder's model card.
        family: ``"environmental"``, ``"socioeconomic"`` or ``"land_ecology"`` (leaderboard grouping), or ``""``.
    """

    name: str
    data: Any
    target: str
    kind: str
    metrics: tuple[str, ...] = ()
    target_transform: str | None = None
    block_size_deg: float | None = None
    description: str = ""
    sampling: str = ""
    version: str = "user"
    provenance: dict = field(default_factory=dict)
    units: str = ""
    gates: dict = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    family: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", _source_ids(self.name, self.sources))
        validate_task(self)
        if not self.metrics:
            object.__setattr__(self, "metrics", DEFAULT_METRICS[self.kind])
        if self.block_size_deg is None:
            from geoembed.downstream.geometry import anchor_points

            object.__setattr__(self, "block_size_deg", default_block_size(anchor_points(self.data)))

    @property
    def region(self) -> str:
        """``"global"`` when the data spans most of the globe, else ``"regional"``."""
        from geoembed.downstream.geometry import anchor_points

        return "global" if is_global(anchor_points(self.data)) else "regional"

    def y(self) -> np.ndarray:
        """The target ready for a probe: transformed for regression, string labels for classification."""
        values = self.data[self.target].to_numpy()
        if self.kind == "classification":
            return values.astype(str)
        values = values.astype(np.float64)
        if self.target_transform is not None:
            values = TARGET_TRANSFORMS[self.target_transform](values)
        return values

    def summary(self) -> dict:
        """Plain-data description (for reports and ``geoembed benchmark --list``)."""
        geom_types = sorted(set(self.data.geom_type))
        return {
            "name": self.name, "kind": self.kind, "target": self.target, "rows": len(self.data),
            "geometry": "/".join(geom_types), "region": self.region, "target_transform": self.target_transform,
            "block_size_deg": self.block_size_deg, "version": self.version, "units": self.units,
            "description": self.description, "sampling": self.sampling, **{k: self.provenance.get(k, "")
                                                                          for k in ("source", "license", "citation")},
            "documented_region": self.gates.get("region", {}).get("name", ""),
            "family": self.family, "sources": list(self.sources),
            "value_range": [self.gates["values"][k] for k in ("min", "max") if k in self.gates.get("values", {})],
        }


def _source_ids(name: str, sources) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = (sources,)
    ids = tuple(sources or ())
    bad = [s for s in ids if not isinstance(s, str) or not s or s != s.strip().lower() or " " in s]
    if bad:
        raise ValueError(f"Task {name!r}: sources must be lower-case provenance ids without spaces (e.g. "
                         f"'era5-climatology'), got {bad!r}.")
    return ids


def default_block_size(latlon: np.ndarray) -> float:
    """Spatial CV block side in degrees: 15 for global data; for regional data about a tenth of its extent."""
    if is_global(latlon):
        return GLOBAL_BLOCK_DEG
    return float(max(0.05, round(max(_spans(latlon)) / 10, 2)))


def is_global(latlon: np.ndarray) -> bool:
    """True when points span more than 90 degrees of latitude or 180 of longitude."""
    lat_span, lon_span = _spans(latlon)
    return lat_span > 90 or lon_span > 180


def _spans(latlon: np.ndarray) -> tuple[float, float]:
    """(latitude span, longitude span) in degrees; longitude measured around the circle (antimeridian-safe)."""
    lons = np.sort(np.mod(latlon[:, 1], 360.0))
    gaps = np.diff(np.concatenate([lons, lons[:1] + 360.0]))
    return float(np.ptp(latlon[:, 0])), 360.0 - float(gaps.max())


def validate_task(task: Task) -> None:
    """Raise :class:`DataFileError` / ``InvalidGeometryError`` with a fix for anything a benchmark cannot use."""
    import geopandas as gpd

    from geoembed.downstream.geometry import validated_geoseries

    if task.kind not in KINDS:
        raise ValueError(f"Task {task.name!r}: kind must be one of {KINDS}, got {task.kind!r}.")
    if task.family and task.family not in FAMILIES:
        raise ValueError(f"Task {task.name!r}: family must be one of {FAMILIES} (or empty), got {task.family!r}.")
    if not isinstance(task.data, gpd.GeoDataFrame):
        raise TypeError(f"Task {task.name!r}: data must be a GeoDataFrame, got {type(task.data).__name__}.")
    if task.target not in task.data.columns:
        raise DataFileError(
            f"Task {task.name!r}: target column {task.target!r} is missing; columns are {list(task.data.columns)}."
        )
    validated_geoseries(task.data.geometry, what=f"geometries of task {task.name!r}")
    if task.target_transform is not None and task.target_transform not in TARGET_TRANSFORMS:
        raise ValueError(f"target_transform must be one of {sorted(TARGET_TRANSFORMS)} or None, got "
                         f"{task.target_transform!r}.")
    if task.block_size_deg is not None and not (isinstance(task.block_size_deg, (int, float))
                                                and 0 < task.block_size_deg <= 180):
        raise ValueError(f"Task {task.name!r}: block_size_deg must be a number of degrees in (0, 180], got "
                         f"{task.block_size_deg!r}.")
    if not isinstance(task.gates, dict):
        raise TypeError(f"Task {task.name!r}: gates must be a dict {{gate name: parameters}}, got "
                        f"{type(task.gates).__name__}.")
    if task.gates:
        from geoembed.downstream.gates import GATES

        unknown_gates = sorted(set(task.gates) - set(GATES))
        if unknown_gates:
            raise ValueError(f"Task {task.name!r}: unknown gates {unknown_gates}; known gates: {sorted(GATES)}.")
    unknown = set(task.metrics) - set(DEFAULT_METRICS.get(task.kind, ()))
    if unknown:
        raise ValueError(f"Task {task.name!r}: metrics {sorted(unknown)} do not apply to {task.kind}; use "
                         f"{DEFAULT_METRICS[task.kind]}.")
    column = task.data[task.target]
    if column.isna().any():
        raise DataFileError(
            f"Task {task.name!r}: {int(column.isna().sum())} rows have no {task.target!r} value; drop them first "
            f"(gdf.dropna(subset=[{task.target!r}]))."
        )
    if len(task.data) < 10:
        raise DataFileError(f"Task {task.name!r} has {len(task.data)} rows; a benchmark needs at least 10.")
    if task.kind == "regression":
        try:
            values = column.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataFileError(f"Task {task.name!r}: a regression target must be numeric; {task.target!r} is "
                                f"{column.dtype}. Use kind='classification' for labels.") from None
        if task.target_transform is not None:
            with np.errstate(all="ignore"):
                values = TARGET_TRANSFORMS[task.target_transform](values)
        if not np.isfinite(values).all():
            raise DataFileError(f"Task {task.name!r}: target {task.target!r} has non-finite values (after "
                                f"target_transform={task.target_transform!r}).")
        if np.ptp(values) == 0:
            raise DataFileError(f"Task {task.name!r}: target {task.target!r} is constant ({values[0]}); there is "
                                f"nothing to predict.")
    else:
        counts = column.astype(str).value_counts()
        if len(counts) < 2:
            raise DataFileError(f"Task {task.name!r}: a classification target needs at least 2 classes, "
                                f"{task.target!r} has {len(counts)}.")


def register_task(name: str, factory: Any = None, *legacy_args: Any, overwrite: bool = False, **legacy_kwargs: Any):
    """Register a benchmark task under ``name``: a factory that builds a :class:`Task`, or a ready :class:`Task`.

    >>> register_task("my_task", Task(name="my_task", data=gdf, target="income", kind="regression"))  # doctest: +SKIP
    >>> @register_task("my_lazy_task")                 # a factory: the data is read when the task is first used
    ... def my_lazy_task() -> Task: ...                                                             # doctest: +SKIP

    A ready task is validated now, not at benchmark time. The form of geoembed 0.1,
    ``register_task(name, data, target, kind, **fields)``, still works for one release with a DeprecationWarning.
    Returns what was registered (so it works as a decorator).
    """
    if legacy_args or legacy_kwargs or not (factory is None or callable(factory) or isinstance(factory, Task)):
        return _register_task_from_fields(name, factory, *legacy_args, overwrite=overwrite, **legacy_kwargs)
    if isinstance(factory, Task):
        task = factory
        task_registry.register(name, lambda: task, overwrite=overwrite)
        return task
    return task_registry.register(name, factory, overwrite=overwrite)


def _register_task_from_fields(name: str, data: Any = None, target: str | None = None, kind: str | None = None, *,
                               overwrite: bool = False, **fields: Any) -> Task:
    """geoembed 0.1's ``register_task(name, data, target, kind, ...)``, kept for one release."""
    warnings.warn("register_task(name, data, target, kind, ...) is deprecated: register a Task, "
                  "register_task(name, Task(name=name, data=data, target=target, kind=kind, ...)), or a factory "
                  "that builds one.", DeprecationWarning, stacklevel=3)
    if isinstance(data, Task):
        return register_task(name, data, overwrite=overwrite)
    if target is None or kind is None:
        raise TypeError("register_task needs target= (the column to predict) and kind= ('regression' or "
                        "'classification').")
    for key in ("provenance", "gates"):
        fields[key] = dict(fields.get(key) or {})
    for key in ("metrics", "sources"):
        fields[key] = tuple(fields.get(key) or ())
    return register_task(name, Task(name=name, data=data, target=target, kind=kind, **fields), overwrite=overwrite)


def create_task(name: str) -> Task:
    """The task registered under ``name`` (built-in tasks are read from disk and checksum-verified)."""
    task = task_registry.create(name)
    if not isinstance(task, Task):
        raise TypeError(f"The task plugin {name!r} returned a {type(task).__name__}, not a geoembed Task.")
    return task


def load_task(name: str) -> Task:
    """Deprecated name of :func:`create_task` (geoembed 0.1)."""
    warnings.warn("load_task is deprecated: use create_task (the same function).", DeprecationWarning, stacklevel=2)
    return create_task(name)


def list_tasks(pattern: str = "*") -> list[str]:
    """Names of registered tasks matching a wildcard pattern (``"us_*"``)."""
    return task_registry.names(pattern)


# -- shipped tasks ------------------------------------------------------------------------------------------------
def shipped_manifest() -> dict:
    """``geoembed/data/tasks/manifest.json``: one entry per built-in task."""
    path = resources.files("geoembed").joinpath(*TASKS_PACKAGE_DIR, "manifest.json")
    return json.loads(path.read_text())


def load_shipped_task(name: str) -> Task:
    """Read a built-in task's GeoParquet file after verifying its sha256 against the manifest."""
    import geopandas as gpd

    from geoembed.weights import sha256_file

    entries = shipped_manifest()["tasks"]
    if name not in entries:
        raise DataFileError(f"No shipped task {name!r} in the manifest; shipped: {sorted(entries)}.")
    entry = entries[name]
    with resources.as_file(resources.files("geoembed").joinpath(*TASKS_PACKAGE_DIR, entry["file"])) as path:
        if not path.is_file():
            raise DataFileError(f"The file of task {name!r} ({path}) is missing; reinstall geoembed.")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise DataFileError(
                f"The file of task {name!r} ({path}) has sha256 {digest[:12]}..., the manifest says "
                f"{entry['sha256'][:12]}...: it is damaged or was changed. Reinstall geoembed, or rebuild it with "
                f"benchmarks/build_tasks.py."
            )
        data = gpd.read_parquet(path)
    return Task(
        name=name, data=data, target=entry["target"], kind=entry["kind"], metrics=tuple(entry["metrics"]),
        target_transform=entry.get("target_transform"), block_size_deg=entry["block_size_deg"],
        description=entry["description"], sampling=entry["sampling"], version=entry["version"],
        provenance=entry["provenance"], units=entry.get("units", ""), gates=entry.get("gates", {}),
        sources=tuple(entry.get("sources", ())), family=entry.get("family", ""),
    )

