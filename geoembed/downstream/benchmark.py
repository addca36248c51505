"""``run_benchmark``: every (task, encoder, split, probe, seed) cell of the downstream suite, resumable.

>>> results = run_benchmark(tasks=["*"], encoders=["geoclip", "latlon"])    # doctest: +SKIP

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

from geoembed.downstream import protocol

DEFAULT_ENCODERS = ("geoclip", "geoclip-random", "sphere_harmonics", "rff", "xyz", "latlon")
DEFAULT_SPLITS = ("spatial", "random")
QUICK_MAX_ROWS = 600
QUICK_N_POINTS = 8
# Bump when a change to splits/probes/metrics makes old cells incomparable (2: spatial inner CV in the spatial split;
# 3: kNN and MLP tuned by the inner CV, antimeridian-safe polygon anchors).
PROTOCOL_VERSION = "3"


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
    block_size_deg: dict = field(default_factory=dict)

    def fingerprint(self, task: str, task_digest: str, encoder_identity: str) -> str:
        """Hash of everything a cell's numbers depend on besides its key: the settings, the task's data and the
        encoder's weights. Cells found with another fingerprint are recomputed, never reused."""
        relevant = [self.n_splits, self.n_points, self.max_rows, self.protocol_version, self.block_size_deg.get(task),
                    task_digest, encoder_identity]
        return hashlib.sha256(json.dumps(relevant).encode()).hexdigest()[:16]


def resolve_config(
    tasks: Sequence[str] = ("*",),
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
) -> BenchmarkConfig:
    """Expand wildcards and apply the ``quick`` defaults (linear probe, 3 folds, at most 600 rows per task)."""
    from geoembed.downstream.tasks import list_tasks
    from geoembed.registry import location_encoders

    task_names: list[str] = []
    for pattern in tasks:
        found = list_tasks(pattern)
        if not found:
            from geoembed.registry import tasks as task_registry

            task_registry.spec(pattern)  # raises UnknownPluginError with close matches
        task_names += [t for t in found if t not in task_names]
    encoder_names: list[str] = []
    for pattern in encoders:  # names or wildcards ("torchspatial-*")
        found = location_encoders.names(pattern)
        if not found:
            location_encoders.spec(pattern)  # unknown names fail now, not after an hour of work
        encoder_names += [e for e in found if e not in encoder_names]
    for name in list(probes or ()):
        if name not in protocol.PROBES:
            raise ValueError(f"Unknown probe {name!r}; choose from {protocol.PROBES}.")
    for name in splits:
        if name not in protocol.SPLITS:
            raise ValueError(f"Unknown split {name!r}; choose from {protocol.SPLITS}.")
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**32]
    if bad:
        raise ValueError(f"seeds must be integers from 0 to 2**32-1 (--seeds), got {bad}.")
    return BenchmarkConfig(
        tasks=task_names, encoders=encoder_names,
        probes=list(probes or (("linear",) if quick else protocol.PROBES)),
        splits=list(splits), n_splits=n_splits or (3 if quick else 5), seeds=[int(s) for s in seeds],
        n_points=n_points or (QUICK_N_POINTS if quick else 16),
        max_rows=max_rows if max_rows is not None else (QUICK_MAX_ROWS if quick else None),
        quick=quick, batch_size=batch_size, device=None if device is None else str(device),
    )


def run_benchmark(
    tasks: Sequence[str] = ("*",),
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
):
    """Evaluate location encoders on benchmark tasks; returns a tidy DataFrame, one row per fold and metric.

    Args:
        tasks: task names or wildcard patterns (``["*"]``: every registered task).
        encoders: registered location encoder names.
        probes: among ``"linear"``, ``"knn"``, ``"mlp"`` (default all; ``quick``: linear only).
        splits: among ``"spatial"`` (block CV), ``"random"`` (K-fold), ``"holdout"`` (fixed 80/20).
        n_splits: folds per split (default 5; ``quick``: 3).
        seeds: each seed reshuffles folds and reseeds the MLP; results are reported as mean and spread.
        n_points: points sampled per polygon (default 16; ``quick``: 8).
        max_rows: subsample each task to at most this many rows (seeded; ``quick``: 600).
        output: folder for ``cells.jsonl`` (resume) and the reports; None keeps everything in memory.
        resume: skip cells already in ``output`` (computed with the same settings).
        block_size_deg: spatial CV block side for every task (default: each task's own, 15 for global tasks).
        n_jobs: probe fits run in parallel over this many processes (-1: one per CPU core); each fit uses one BLAS
            thread, which is also fastest for these small problems on a busy machine.

    Columns: task, kind, encoder, split, probe, seed, fold, n_train, n_test, metric, value, fit_seconds, params
    (the hyper-parameters the probe's inner CV chose in that fold, as JSON).
    """
    import pandas as pd

    from geoembed.downstream.featurizer import embed_geometries
    from geoembed.downstream.tasks import load_task
    from geoembed.location_encoders.encode import get_location_encoder

    config = resolve_config(tasks, encoders, probes=probes, splits=splits, n_splits=n_splits, seeds=seeds,
                            n_points=n_points, max_rows=max_rows, quick=quick, batch_size=batch_size, device=device)
    out_dir = Path(output) if output is not None else None
    if out_dir is not None:
        _check_output_dir(out_dir)  # before any work, and before reading cells.jsonl
    done = _read_cells(out_dir / "cells.jsonl") if (out_dir is not None and resume) else {}
    loaded = {name: _subsample(load_task(name), config.max_rows) for name in config.tasks}
    if block_size_deg is not None:
        loaded = {name: replace(task, block_size_deg=block_size_deg) for name, task in loaded.items()}
    config.block_size_deg = {name: float(task.block_size_deg) for name, task in loaded.items()}
    fits_per_pair = sum(_n_folds(split, config) for split in config.splits) * len(config.probes) * len(config.seeds)
    from geoembed.progress import progress_bar

    bar = progress_bar(total=len(config.tasks) * len(config.encoders) * fits_per_pair, unit="fit", desc="benchmark",
                       enabled=progress, leave=True)
    rows: list[dict] = []
    resumed = 0
    embed_seconds: dict[str, float] = {}
    try:
        for task_name, task in loaded.items():
            digest = _task_digest(task)
            for encoder in config.encoders:
                model = get_location_encoder(encoder, device=config.device)
                identity = model.identity
                fingerprint = config.fingerprint(task_name, digest, identity)
                keys = [(task_name, encoder, split, probe, seed, fingerprint) for split in config.splits
                        for probe in config.probes for seed in config.seeds]
                todo = [k for k in keys if k not in done]
                for key in keys:
                    if key in done:
                        rows += done[key]
                        resumed += len(done[key])
                bar.update(sum(_n_folds(k[2], config) for k in keys if k in done))
                if not todo:
                    continue
                bar.set_description(f"{task_name} / {encoder}")
                start = time.perf_counter()
                X = embed_geometries(task.data, model, n_points=config.n_points, seed=0,
                                     batch_size=config.batch_size, identity=identity)
                embed_seconds[f"{task_name}/{encoder}"] = round(time.perf_counter() - start, 3)
                for key, cell_rows, predictions in _run_cells(task, X, todo, config, n_jobs, bar):
                    rows += cell_rows
                    if out_dir is not None:
                        _append_cell(out_dir / "cells.jsonl", key, cell_rows)
                        if key[2] == config.splits[0] and key[4] == config.seeds[0]:
                            _save_predictions(out_dir, task_name, encoder, key[3], predictions)
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


RESULT_COLUMNS = ["task", "kind", "encoder", "split", "probe", "seed", "fold", "n_train", "n_test", "metric", "value",
                  "fit_seconds", "params"]


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


def _run_cells(task: Any, X: np.ndarray, keys: list[tuple], config: BenchmarkConfig, n_jobs: int, bar: Any):
    """Yield ``(key, metric_rows, out_of_fold_predictions)`` per cell; the folds of all cells fit in parallel."""
    from joblib import Parallel, delayed

    from geoembed.downstream.geometry import anchor_points

    classification = task.kind == "classification"
    y = task.y()
    latlon = anchor_points(task.data)
    jobs = []
    for key in keys:
        _, _, split, probe, seed, _ = key
        folds = protocol.make_folds(split, latlon, y, classification=classification, n_splits=config.n_splits,
                                    block_size_deg=task.block_size_deg, seed=seed)
        jobs += [(key, fold, train, test) for fold, (train, test) in enumerate(folds)]
    blocks = protocol.block_ids(latlon, task.block_size_deg)  # inner CV of the spatial split is spatial too
    fitted = Parallel(n_jobs=n_jobs, return_as="generator", **_worker_options(n_jobs))(
        delayed(_fit_fold)(key[3], X[train], y[train], X[test], classification, key[4],
                           blocks[train] if key[2] == "spatial" else None)
        for key, _, train, test in jobs
    )
    by_key: dict[tuple, list] = {}
    for (key, fold, train, test), result in zip(jobs, fitted):
        by_key.setdefault(key, []).append((fold, train, test, *result))
        bar.update(1)
    for key in keys:
        task_name, encoder, split, probe, seed, _ = key
        rows = []
        predicted = np.empty(len(y), dtype=object if classification else np.float64)
        tested = np.zeros(len(y), dtype=bool)
        for fold, train, test, pred, seconds, params in by_key[key]:
            predicted[test], tested[test] = pred, True
            for metric, value in protocol.score(y[test], pred, classification=classification).items():
                if metric in task.metrics:
                    rows.append(dict(task=task_name, kind=task.kind, encoder=encoder, split=split, probe=probe,
                                     seed=seed, fold=fold, n_train=len(train), n_test=len(test), metric=metric,
                                     value=value, fit_seconds=round(seconds, 4), params=params))
        yield key, rows, {"row": np.flatnonzero(tested), "latlon": latlon[tested], "y_true": y[tested],
                          "y_pred": predicted[tested]}


def _fit_fold(probe: str, X_train, y_train, X_test, classification: bool, seed: int,
              groups: np.ndarray | None) -> tuple[np.ndarray, float, str]:
    """One probe fit (run in a worker process): predictions, seconds and the chosen hyper-parameters (JSON).

    BLAS and OpenMP (scikit-learn's neighbour searches) get one thread each: these problems are small, and two
    threads per fit on a busy 2-core machine made the kNN search ten times slower, not faster."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(limits=1):
        model = protocol.fit_probe(probe, X_train, y_train, classification=classification, seed=seed, groups=groups)
        pred = model.predict(X_test)
    return pred, time.perf_counter() - start, json.dumps(protocol.chosen_hyperparameters(model), sort_keys=True)


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
    """The configuration as plain data."""
    return asdict(config)
