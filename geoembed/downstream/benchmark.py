"""``run_benchmark``: every (task, encoder, split, probe, seed) cell of the downstream suite, resumable.

>>> results = run_benchmark(tasks=["*"], encoders=["geoclip", "latlon"])    # doctest: +SKIP

The baselines of :mod:`geoembed.downstream.interpolation` run beside every encoder; the leakage guard
(:mod:`geoembed.provenance`) flags the (task, encoder) pairs whose data share a source. This module imports the report
module, never the other way round: the reports read the configuration through :meth:`BenchmarkConfig.as_dict`.

Embeddings are computed once per (task, encoder) and cached on disk (:mod:`geoembed.downstream.cache`). With an
``output`` folder, each finished cell is appended to ``cells.jsonl`` there; a rerun with the same settings skips the
cells it finds (so an interrupted run resumes), and the reports of :mod:`geoembed.downstream.report` are written at
the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geoembed.downstream import interpolation
from geoembed.downstream import protocol as _proto

DEFAULT_ENCODERS = ("geoclip", "geoclip-random", "sphere_harmonics", "rff", "xyz", "latlon")
DEFAULT_SPLITS = ("spatial", "random")
# The default suite's probes: the MLP's search (62 % of the probe-fit time of protocol 3) runs with --full or
# --probes mlp, so that the default suite stays within its 10-minute budget on 2 cores as tasks are added.
DEFAULT_PROBES = ("linear", "knn")
QUICK_MAX_ROWS = 600
QUICK_N_POINTS = 8
MIN_TRAIN_ROWS = 10  # a fold whose buffer leaves fewer training rows than this is refused
# Bump when a change to splits/probes/metrics makes old cells incomparable (2: spatial inner CV in the spatial split;
# 3: kNN and MLP tuned by the inner CV, antimeridian-safe polygon anchors; 4: block size in the cell key, buffers,
# fold metadata on every row).
PROTOCOL_VERSION = "4"


@dataclass
class BenchmarkConfig:
    """Everything that determines the numbers of a run (saved with every report)."""

    tasks: list[str]
    encoders: list[str]
    probes: list[str]
    splits: list[str]
    n_splits: int
    seeds: list[int]
    n_points: int
    max_rows: int | None
    quick: bool
    batch_size: int = 8192
    device: str | None = None
    protocol_version: str = PROTOCOL_VERSION
    block_size_deg: dict = field(default_factory=dict)  # task -> the headline spatial block size
    baselines: list[str] = field(default_factory=lambda: list(interpolation.DEFAULT_BASELINES))
    block_sizes: list[float] = field(default_factory=list)  # the block-size sweep (spatial split), degrees
    buffer_km: float = 0.0
    protocol: str = "default"
    full: bool = False
    include_leaky: bool = False
    families: dict = field(default_factory=dict)  # task -> family
    task_sources: dict = field(default_factory=dict)  # task -> source ids
    training_sources: dict = field(default_factory=dict)  # encoder -> source ids of its training data
    leakage: list = field(default_factory=list)  # [{"task", "encoder", "shared"}] pairs that share a source
    saturation: dict = field(default_factory=dict)  # task -> [check_blocks records of every block size]

    def fingerprint(self, task: str, task_digest: str, encoder_identity: str) -> str:
        """Hash of everything a cell's numbers depend on besides its key (which holds the block size): the settings,
        the task's data and the encoder's weights. Cells found with another fingerprint are recomputed."""
        relevant = [self.n_splits, self.n_points, self.max_rows, self.protocol_version, self.protocol,
                    float(self.buffer_km), task_digest, encoder_identity]
        return hashlib.sha256(json.dumps(relevant).encode()).hexdigest()[:16]

    def as_dict(self) -> dict:
        """The configuration as plain data (saved in ``results.json``)."""
        return asdict(self)

    def models(self) -> list[str]:
        """Encoders, then baselines: every model of the run."""
        return [*self.encoders, *self.baselines]


def resolve_config(
    tasks: Sequence[str] | None = None,
    encoders: Sequence[str] = DEFAULT_ENCODERS,
    *,
    probes: Sequence[str] | None = None,
    splits: Sequence[str] = DEFAULT_SPLITS,
    n_splits: int | None = None,
    seeds: Sequence[int] = (0,),
    n_points: int | None = None,
    max_rows: int | None = None,
    quick: bool = False,
    batch_size: int = 8192,
    device: str | None = None,
    baselines: Sequence[str] | None = interpolation.DEFAULT_BASELINES,
    block_sizes: Sequence[float] | None = None,
    buffer_km: float = 0.0,
    protocol: str = "default",
    full: bool = False,
    include_leaky: bool = False,
) -> BenchmarkConfig:
    """Expand wildcards and apply the defaults: the default suite (:data:`~geoembed.downstream.suite.DEFAULT_SUITE`;
    ``full``: every task and every probe), ``quick`` (linear probe, 3 folds, at most 600 rows per task) and the
    ``protocol`` preset. Names in ``encoders`` that are baselines (``"idw"``, ``"nn_mean"``) count as baselines."""
    from geoembed.downstream.suite import default_suite
    from geoembed.downstream.tasks import list_tasks
    from geoembed.registry import location_encoders

    settings = _proto.protocol_settings(protocol)
    if full and quick:
        raise ValueError("full and quick exclude each other (--full, --quick): choose one.")
    if full and tasks is None:
        tasks = ("*",)
    task_names: list[str] = []
    for pattern in (tasks if tasks is not None else default_suite()):
        found = list_tasks(pattern)
        if not found:
            from geoembed.registry import tasks as task_registry

            task_registry.spec(pattern)  # raises UnknownPluginError with close matches
        task_names += [t for t in found if t not in task_names]
    if isinstance(baselines, str):
        baselines = (baselines,)
    baseline_names = list(dict.fromkeys(baselines or ()))
    encoder_names: list[str] = []
    for pattern in encoders:  # names or wildcards ("torchspatial-*"); baselines may be named here too
        if pattern in interpolation.BASELINES:
            baseline_names += [pattern] if pattern not in baseline_names else []
            continue
        found = location_encoders.names(pattern)
        if not found:
            location_encoders.spec(pattern)  # unknown names fail now, not after an hour of work
        encoder_names += [e for e in found if e not in encoder_names]
    for name in baseline_names:
        if name not in interpolation.BASELINES:
            raise ValueError(f"Unknown baseline {name!r}; choose from {sorted(interpolation.BASELINES)}.")
    for name in list(probes or ()):
        if name not in _proto.PROBES:
            raise ValueError(f"Unknown probe {name!r}; choose from {_proto.PROBES}.")
    for name in splits:
        if name not in _proto.SPLITS:
            raise ValueError(f"Unknown split {name!r}; choose from {_proto.SPLITS}.")
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**32]
    if bad:
        raise ValueError(f"seeds must be integers from 0 to 2**32-1 (--seeds), got {bad}.")
    sizes = [float(b) for b in (block_sizes or ())]
    if any(not (0 < b <= 180) for b in sizes):
        raise ValueError(f"block_sizes must be degrees in (0, 180] (--block-sizes), got {list(block_sizes)}.")
    if sizes and "spatial" not in splits:
        raise ValueError("block_sizes sweeps the spatial split: add 'spatial' to splits (--splits).")
    if isinstance(buffer_km, bool) or not isinstance(buffer_km, (int, float, np.integer, np.floating)) \
            or not 0 <= buffer_km < 20_016:
        raise ValueError(f"buffer_km must be a distance in km from 0 to half the Earth's circumference "
                         f"(--buffer-km), got {buffer_km!r}.")
    if probes:
        probe_names = list(probes)
    elif quick:
        probe_names = ["linear"]
    elif full:
        probe_names = [p for p in _proto.PROBES if p in settings.probes]
    else:
        probe_names = [p for p in DEFAULT_PROBES if p in settings.probes]
    return BenchmarkConfig(
        tasks=task_names, encoders=encoder_names, probes=probe_names,
        splits=list(splits), n_splits=n_splits or (3 if quick else 5), seeds=[int(s) for s in seeds],
        n_points=n_points or (QUICK_N_POINTS if quick else 16),
        max_rows=max_rows if max_rows is not None else (QUICK_MAX_ROWS if quick else None),
        quick=quick, batch_size=batch_size, device=None if device is None else str(device),
        baselines=baseline_names, block_sizes=list(dict.fromkeys(sizes)), buffer_km=float(buffer_km),
        protocol=settings.name, full=bool(full), include_leaky=bool(include_leaky),
    )


def run_benchmark(
    tasks: Sequence[str] | None = None,
    encoders: Sequence[str] = DEFAULT_ENCODERS,
    *,
    probes: Sequence[str] | None = None,
    splits: Sequence[str] = DEFAULT_SPLITS,
    n_splits: int | None = None,
    seeds: Sequence[int] = (0,),
    n_points: int | None = None,
    max_rows: int | None = None,
    quick: bool = False,
    output: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    batch_size: int = 8192,
    device: str | None = None,
    n_jobs: int = 1,
    block_size_deg: float | None = None,
    block_sizes: Sequence[float] | None = None,
    buffer_km: float = 0.0,
    baselines: Sequence[str] | None = interpolation.DEFAULT_BASELINES,
    protocol: str = "default",
    full: bool = False,
    include_leaky: bool = False,
):
    """Evaluate location encoders on benchmark tasks; returns a tidy DataFrame, one row per fold and metric.

    Args:
        tasks: task names or wildcard patterns (None: the default suite,
            :data:`~geoembed.downstream.suite.DEFAULT_SUITE`; ``["*"]``: every registered task).
        encoders: registered location encoder names or patterns; ``"idw"`` / ``"nn_mean"`` name baselines.
        probes: among ``"linear"``, ``"knn"``, ``"mlp"`` (default linear and knn; ``full``: all three; ``quick``:
            linear only).
        splits: among ``"spatial"`` (block CV), ``"random"`` (K-fold), ``"holdout"`` (fixed 80/20).
        n_splits: folds per split (default 5; ``quick``: 3).
        seeds: each seed reshuffles folds and reseeds the MLP; results are reported as mean and spread.
        n_points: points sampled per polygon (default 16; ``quick``: 8).
        max_rows: subsample each task to at most this many rows (seeded; ``quick``: 600).
        output: folder for ``cells.jsonl`` (resume) and the reports; None keeps everything in memory.
        resume: skip cells already in ``output`` (computed with the same settings).
        block_size_deg: the headline spatial CV block side for every task (default: each task's own, 15 for global
            tasks; the ``coordbench`` protocol: 10).
        block_sizes: a block-size sweep (degrees, e.g. :data:`~geoembed.downstream.protocol.DEFAULT_BLOCK_SWEEP`):
            the spatial split is also run at each size. Sizes that leave fewer blocks with data than folds are
            refused, and those with few blocks flagged (:func:`~geoembed.downstream.protocol.check_blocks`); both
            are recorded (``config.saturation``, the ``saturated`` column and the report).
        buffer_km: per fold, drop the training rows within this great-circle distance of any test row (0: none).
        baselines: interpolation baselines run beside every encoder (default ``idw`` and ``nn_mean``, see
            :mod:`geoembed.downstream.interpolation`); ``()`` for none.
        protocol: ``"default"`` or ``"coordbench"`` (:data:`~geoembed.downstream.protocol.PROTOCOLS`).
        full: every registered task and every probe (``geoembed benchmark --full``).
        include_leaky: keep (task, encoder) pairs that share a data source (the leakage guard) in the leaderboard
            and headline tables; by default they are computed but left out of them, and listed in the report.
        n_jobs: probe fits run in parallel over this many processes (-1: one per CPU core); each fit uses one BLAS
            thread, which is also fastest for these small problems on a busy machine.

    Columns: task, kind, family, encoder, split, block_size_deg (spatial split), n_blocks, saturated, buffer_km,
    probe, seed, fold, n_train (after the buffer), n_test, train_kept (fraction of the fold's training rows the
    buffer kept), sweep (a block size of the sweep, not the headline one), leak_sources (the sources the task and
    the encoder share, "" if none), metric, value, fit_seconds, params (the hyper-parameters the inner CV chose, as
    JSON).
    """
    import pandas as pd

    from geoembed.downstream.featurizer import embed_geometries
    from geoembed.downstream.geometry import anchor_points
    from geoembed.downstream.suite import encoder_training_sources, task_family, task_sources
    from geoembed.downstream.tasks import create_task
    from geoembed.location_encoders.encode import get_location_encoder
    from geoembed.provenance import shared_sources

    config = resolve_config(tasks, encoders, probes=probes, splits=splits, n_splits=n_splits, seeds=seeds,
                            n_points=n_points, max_rows=max_rows, quick=quick, batch_size=batch_size, device=device,
                            baselines=baselines, block_sizes=block_sizes, buffer_km=buffer_km, protocol=protocol,
                            full=full, include_leaky=include_leaky)
    if block_size_deg is not None and not 0 < block_size_deg <= 180:
        raise ValueError(f"block_size_deg must be degrees in (0, 180] (--block-size), got {block_size_deg!r}.")
    out_dir = Path(output) if output is not None else None
    if out_dir is not None:
        _check_output_dir(out_dir)  # before any work, and before reading cells.jsonl
    done = _read_cells(out_dir / "cells.jsonl") if (out_dir is not None and resume) else {}
    loaded = {name: _subsample(create_task(name), config.max_rows) for name in config.tasks}
    headline_block = block_size_deg if block_size_deg is not None else _proto.PROTOCOLS[config.protocol].block_size_deg
    if headline_block is not None:
        loaded = {name: replace(task, block_size_deg=float(headline_block)) for name, task in loaded.items()}
    config.block_size_deg = {name: float(task.block_size_deg) for name, task in loaded.items()}
    config.families = {name: task_family(task) for name, task in loaded.items()}
    config.task_sources = {name: list(task_sources(task)) for name, task in loaded.items()}
    config.training_sources = {name: list(encoder_training_sources(name)) for name in config.encoders}
    config.leakage = [{"task": t, "encoder": e, "shared": list(shared)} for t in config.tasks for e in config.encoders
                      if (shared := shared_sources(config.task_sources[t], config.training_sources[e]))]
    leaks = {(p["task"], p["encoder"]): ",".join(p["shared"]) for p in config.leakage}
    designs: dict[str, list[tuple[str, float | None]]] = {}
    for name, task in loaded.items():
        latlon = anchor_points(task.data)
        checks = [_proto.check_blocks(latlon, size, config.n_splits)
                  for size in dict.fromkeys([config.block_size_deg[name], *config.block_sizes])]
        config.saturation[name] = checks
        usable = {c["block_size_deg"]: c for c in checks if c["status"] != "refused"}
        designs[name] = [(split, None) for split in config.splits if split != "spatial"]
        if "spatial" in config.splits:
            designs[name] = [("spatial", size) for size in usable] + designs[name]
        for check in checks:
            if check["status"] == "refused" and progress:
                print(f"{name}: spatial blocks of {check['block_size_deg']:g} deg refused ({check['reason']})",
                      file=sys.stderr)
    from geoembed.progress import progress_bar

    per_design = len(config.probes) * len(config.seeds)
    per_fold = per_design * len(config.encoders) + len(config.seeds) * len(config.baselines)
    total = sum(_n_folds(split, config) * per_fold for name in config.tasks for split, _ in designs[name])
    bar = progress_bar(total=total, unit="fit", desc="benchmark", enabled=progress, leave=True)
    rows: list[dict] = []
    resumed = 0
    embed_seconds: dict[str, float] = {}
    try:
        for task_name, task in loaded.items():
            digest = _task_digest(task)
            for encoder in config.models():
                baseline = encoder in config.baselines
                model = None if baseline else get_location_encoder(encoder, device=config.device)
                identity = f"baseline:{encoder}:{interpolation.VERSION}" if baseline else model.identity
                fingerprint = config.fingerprint(task_name, digest, identity)
                probes_here = [interpolation.PROBE] if baseline else config.probes
                keys = [(task_name, encoder, split, block, probe, seed, fingerprint)
                        for split, block in designs[task_name] for probe in probes_here for seed in config.seeds]
                todo = [k for k in keys if k not in done]
                for key in keys:
                    if key in done:
                        rows += done[key]
                        resumed += len(done[key])
                bar.update(sum(_n_folds(k[2], config) for k in keys if k in done))
                if not todo:
                    continue
                bar.set_description(f"{task_name} / {encoder}")
                if baseline:
                    X = anchor_points(task.data)
                else:
                    start = time.perf_counter()
                    X = embed_geometries(task.data, model, n_points=config.n_points, seed=0,
                                         batch_size=config.batch_size, identity=identity)
                    embed_seconds[f"{task_name}/{encoder}"] = round(time.perf_counter() - start, 3)
                meta = {"family": config.families[task_name], "leak_sources": leaks.get((task_name, encoder), ""),
                        "saturation": {c["block_size_deg"]: c for c in config.saturation[task_name]}}
                for key, cell_rows, predictions in _run_cells(task, X, todo, config, n_jobs, bar, meta):
                    rows += cell_rows
                    if out_dir is not None:
                        _append_cell(out_dir / "cells.jsonl", key, cell_rows)
                        split, block, seed = key[2], key[3], key[5]
                        if (split == config.splits[0] and seed == config.seeds[0]
                                and (block is None or block == config.block_size_deg[task_name])):
                            _save_predictions(out_dir, task_name, encoder, key[4], predictions)
    finally:
        bar.close()
        shutdown_workers()  # no idle worker processes linger after the run (or after SIGTERM unwinds it)
    if resumed and progress:
        print(f"resumed {resumed} results from {out_dir}", file=sys.stderr)
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    if out_dir is not None:
        from geoembed.downstream.report import write_reports

        write_reports(results, out_dir, config=config, tasks=loaded, embed_seconds=embed_seconds)
    return results


RESULT_COLUMNS = ["task", "kind", "family", "encoder", "split", "block_size_deg", "n_blocks", "saturated", "buffer_km",
                  "probe", "seed", "fold", "n_train", "n_test", "train_kept", "sweep", "leak_sources", "metric",
                  "value", "fit_seconds", "params"]


def _subsample(task: Any, max_rows: int | None) -> Any:
    """The task itself, or a seeded subsample of ``max_rows`` rows (quick mode).

    Classification tasks are subsampled per class (stratified), so that a task of many small classes (59 countries of
    40 points) keeps every class instead of losing the ones a plain random draw leaves too rare."""
    if max_rows is None or len(task.data) <= max_rows:
        return task
    data = task.data.sample(n=max_rows, random_state=0).sort_index()
    how = "random_state=0"
    if task.kind == "classification":
        from sklearn.model_selection import train_test_split

        try:
            data, _ = train_test_split(task.data, train_size=max_rows, random_state=0,
                                       stratify=task.data[task.target].astype(str))
            data, how = data.sort_index(), "stratified by class, random_state=0"
        except ValueError:  # a class with a single row cannot be stratified: keep the plain random draw
            pass
    sampling = f"{task.sampling} Subsampled to {max_rows} rows ({how})."
    if task.kind == "classification":  # drop classes left too rare to appear in every fold
        counts = data[task.target].astype(str).value_counts()
        data = data[data[task.target].astype(str).isin(counts[counts >= 10].index)]
    return replace(task, data=data.reset_index(drop=True), sampling=sampling)


def _task_digest(task: Any) -> str:
    """sha256 of a task's geometries, target and kind: edited data never reuses old cells."""
    digest = hashlib.sha256(f"{task.kind}|{task.target}|{task.target_transform}|".encode())
    digest.update(b"".join(task.data.geometry.to_wkb()))
    digest.update(task.data[task.target].astype(str).str.cat(sep="\x1f").encode())
    return digest.hexdigest()


def _n_folds(split: str, config: BenchmarkConfig) -> int:
    return 1 if split == "holdout" else config.n_splits


def _run_cells(task: Any, X: np.ndarray, keys: list[tuple], config: BenchmarkConfig, n_jobs: int, bar: Any,
               meta: dict):
    """Yield ``(key, metric_rows, out_of_fold_predictions)`` per cell; the folds of all cells fit in parallel.

    A key is ``(task, encoder, split, block size or None, probe, seed, fingerprint)``. Each fold's training rows
    lose those within ``config.buffer_km`` of its test rows before fitting."""
    from joblib import Parallel, delayed

    from geoembed.downstream.geometry import anchor_points
    from geoembed.errors import DataFileError

    classification = task.kind == "classification"
    y = task.y()
    latlon = anchor_points(task.data)
    jobs = []
    blocks: dict[float, np.ndarray] = {}
    for key in keys:
        task_name, encoder, split, block, probe, seed, _ = key
        size = block if block is not None else task.block_size_deg
        folds = _proto.make_folds(split, latlon, y, classification=classification, n_splits=config.n_splits,
                                  block_size_deg=size, seed=seed)
        if split == "spatial" and block not in blocks:  # the inner CV of the spatial split is spatial too
            blocks[block] = _proto.block_ids(latlon, block)
        for fold, (train, test) in enumerate(folds):
            kept = _proto.buffer_training_rows(latlon, train, test, config.buffer_km)
            if len(kept) < MIN_TRAIN_ROWS:
                raise DataFileError(
                    f"Task {task_name!r}, {split} split, fold {fold}: a {config.buffer_km:g} km buffer leaves "
                    f"{len(kept)} of {len(train)} training rows; use a smaller buffer_km (--buffer-km).")
            jobs.append((key, fold, kept, test, len(kept) / max(len(train), 1)))
    fitted = Parallel(n_jobs=n_jobs, return_as="generator", **_worker_options(n_jobs))(
        delayed(_fit_fold)(key[4], X[train], y[train], X[test], classification, key[5],
                           blocks[key[3]][train] if key[2] == "spatial" else None, config.protocol,
                           key[1] if key[4] == interpolation.PROBE else None)
        for key, _, train, test, _ in jobs
    )
    by_key: dict[tuple, list] = {}
    for (key, fold, train, test, kept), result in zip(jobs, fitted):
        by_key.setdefault(key, []).append((fold, train, test, kept, *result))
        bar.update(1)
    for key in keys:
        task_name, encoder, split, block, probe, seed, _ = key
        check = meta["saturation"].get(block) if block is not None else None
        rows = []
        predicted = np.empty(len(y), dtype=object if classification else np.float64)
        tested = np.zeros(len(y), dtype=bool)
        for fold, train, test, kept, pred, seconds, params in by_key[key]:
            predicted[test], tested[test] = pred, True
            for metric, value in _proto.score(y[test], pred, classification=classification).items():
                if metric in task.metrics:
                    rows.append(dict(
                        task=task_name, kind=task.kind, family=meta["family"], encoder=encoder, split=split,
                        block_size_deg=block, n_blocks=check["n_blocks"] if check else None,
                        saturated=bool(check and check["status"] != "ok"), buffer_km=config.buffer_km, probe=probe,
                        seed=seed, fold=fold, n_train=len(train), n_test=len(test), train_kept=round(kept, 4),
                        sweep=block is not None and block != config.block_size_deg[task_name],
                        leak_sources=meta["leak_sources"], metric=metric, value=value,
                        fit_seconds=round(seconds, 4), params=params))
        yield key, rows, {"row": np.flatnonzero(tested), "latlon": latlon[tested], "y_true": y[tested],
                          "y_pred": predicted[tested]}


def _fit_fold(probe: str, X_train, y_train, X_test, classification: bool, seed: int, groups: np.ndarray | None,
              protocol: str = "default", baseline: str | None = None) -> tuple[np.ndarray, float, str]:
    """One probe fit (run in a worker process): predictions, seconds and the chosen hyper-parameters (JSON).
    ``baseline``: fit that interpolation baseline on coordinates instead (``X`` holds ``[lat, lon]``).

    BLAS and OpenMP (scikit-learn's neighbour searches) get one thread each: these problems are small, and two
    threads per fit on a busy 2-core machine made the kNN search ten times slower, not faster."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(limits=1):
        if baseline is not None:
            model = interpolation.fit_baseline(baseline, X_train, y_train, classification=classification, seed=seed,
                                               groups=groups)
        else:
            model = _proto.fit_probe(probe, X_train, y_train, classification=classification, seed=seed,
                                     groups=groups, protocol=protocol)
        pred = model.predict(X_test)
    return pred, time.perf_counter() - start, json.dumps(_proto.chosen_hyperparameters(model), sort_keys=True)


def _read_cells(path: Path) -> dict[tuple, list[dict]]:
    """Finished cells of an earlier run; a line cut short by an interruption is ignored."""
    done: dict[tuple, list[dict]] = {}
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[tuple(record["key"])] = record["rows"]
    return done


def _append_cell(path: Path, key: tuple, rows: list[dict]) -> None:
    from geoembed.atomic import open_for_append

    with open_for_append(path) as f:  # a symlink planted at cells.jsonl is refused, never followed
        f.write(json.dumps({"key": list(key), "rows": rows}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _save_predictions(out_dir: Path, task_name: str, encoder: str, probe: str, predictions: dict) -> None:
    """Out-of-fold predictions of the first split and seed, per probe, for maps of predictions and residuals
    (``row``: the task row, so that polygon tasks can be drawn as filled polygons).

    The file is named after the task's and encoder's registry names (validated when registered, and again here),
    never after attributes a plugin controls (a task object's ``name``)."""
    import pandas as pd

    from geoembed.atomic import atomic_write, safe_file_name

    name = (f"{safe_file_name(task_name, 'task name')}__{safe_file_name(encoder, 'encoder name')}__"
            f"{safe_file_name(probe, 'probe name')}.parquet")

    frame = pd.DataFrame({"row": predictions["row"], "lat": predictions["latlon"][:, 0],
                          "lon": predictions["latlon"][:, 1], "y_true": predictions["y_true"],
                          "y_pred": predictions["y_pred"]})
    with atomic_write(out_dir / "predictions" / name) as tmp:
        frame.to_parquet(tmp, index=False)


def _check_output_dir(out_dir: Path) -> None:
    """Create the output folder; refuse an existing file there, and symlinks where our files go."""
    from geoembed.errors import OutputPathError

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputPathError(f"--output {out_dir} is an existing file, not a folder; choose a folder name.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("cells.jsonl", "predictions", "charts", "maps"):
        if (out_dir / name).is_symlink():
            raise OutputPathError(f"{out_dir / name} is a symlink; geoembed does not write through links in its "
                                  f"output folders. Remove it (rm {out_dir / name}) or choose another output folder.")


# Idle probe-fit workers exit after this many seconds, so even a run killed with SIGKILL (which no handler can see)
# leaves no worker processes behind for long; joblib's default is 300 s.
WORKER_IDLE_SECONDS = 15


def _worker_options(n_jobs: int) -> dict:
    return {} if n_jobs == 1 else {"idle_worker_timeout": WORKER_IDLE_SECONDS}


def shutdown_workers() -> None:
    """Stop joblib's reusable pool of worker processes, if one was started (a no-op otherwise)."""
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def config_dict(config: BenchmarkConfig) -> dict:
    """The configuration as plain data (:meth:`BenchmarkConfig.as_dict`)."""
    return config.as_dict()
