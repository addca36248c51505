"""Benchmark reports: terminal table, Markdown, CSV/JSON (configuration, versions, seeds) and PNG charts and maps.

Files written by :func:`write_reports` into the output folder:

- ``results.csv``: the tidy per-fold table returned by :func:`~geoembed.downstream.benchmark.run_benchmark` (raw
  values: an R2 of -6 stays -6 here);
- ``summary.csv``: mean, standard deviation and count over folds and seeds per (task, encoder, split, probe, metric);
- ``leaderboard.csv``: per (encoder, probe), the mean primary score over tasks under each split (R2 floored at -1
  first, as CoordBench does, so one failed task cannot decide a ranking) with its bootstrap confidence interval, the
  leakage gap, the mean rank over tasks overall and per task family, and the tasks won; sorted by mean rank. The
  interpolation baselines (probe ``interpolation``) are ranked with the encoders; (task, encoder) pairs that share a
  data source are left out unless the run included them;
- ``sweep.csv``: the primary score per block size of a block-size sweep (with the random split's), when one ran;
- ``report.md``: a headline in words, the leaderboard, the best model per task, a table per probe with its leakage
  gap, the charts and maps, the tasks with their units, and every metric;
- ``results.json``: configuration, package versions, seeds, task provenance and the summary;
- ``charts/summary.png``: mean scores per encoder and probe, spatial vs random split;
- ``charts/leaderboard.png``: mean rank per model, overall and per family;
- ``charts/block_sweep.png``: score against block size per task (when a sweep ran);
- ``charts/<task>.png``: every encoder and probe on a task, spatial vs random split side by side;
- ``maps/<task>.png``: out-of-fold errors of one model (named in the report and on the map) on every task; polygon
  tasks as filled polygons.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.atomic import atomic_write

PRIMARY_METRIC = {"regression": "r2", "classification": "macro_f1"}
METRIC_LABELS = {"r2": "R²", "macro_f1": "macro-F1", "accuracy": "accuracy", "mae": "MAE", "rmse": "RMSE"}
R2_FLOOR = -1.0  # R2 below this counts as this in averages across tasks (raw values stay in results and summary)
SPLIT_COLOURS = {"spatial": "#1f77b4", "random": "#ff7f0e", "holdout": "#2ca02c"}
BASELINE_PROBE = "interpolation"  # the "probe" of the interpolation baselines (geoembed.downstream.interpolation)


SUMMARY_KEYS = ["task", "kind", "family", "encoder", "split", "block_size_deg", "sweep", "leak_sources", "probe",
                "metric"]
BOOTSTRAP_RESAMPLES = 1000
CI_LEVEL = 0.95


def bootstrap_ci(values, *, resamples: int = BOOTSTRAP_RESAMPLES, level: float = CI_LEVEL, seed: int = 0,
                 floor: float | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. one cell's fold scores), seeded.

    ``values`` may be a list of arrays (one per task): each is resampled on its own, every task's mean is floored at
    ``floor``, and the interval is that of the mean over tasks. One value (or none) gives a zero-width interval."""
    groups = [np.asarray(v, dtype=np.float64) for v in (values if isinstance(values, list) else [values])]
    groups = [g for g in groups if len(g)]
    if not groups:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    total = np.zeros(resamples)
    for g in groups:
        means = g[rng.integers(0, len(g), size=(resamples, len(g)))].mean(axis=1)
        total += means if floor is None else np.maximum(means, floor)
    total /= len(groups)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(total, [tail, 100 - tail])
    return float(low), float(high)


def summarize(results):
    """Mean, std, count and bootstrap confidence interval (over folds and seeds) of each metric, per (task,
    encoder, split, block size, probe, metric); the family, sweep and leakage columns are carried along."""
    keys = [k for k in SUMMARY_KEYS if k in results.columns]
    grouped = results.groupby(keys, sort=False, dropna=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    intervals = [bootstrap_ci(v.to_numpy()) for _, v in grouped]
    summary["ci_low"] = [lo for lo, _ in intervals]
    summary["ci_high"] = [hi for _, hi in intervals]
    return summary


def headline(frame, *, include_leaky: bool = False):
    """The rows of headline comparisons: not a sweep's extra block sizes, and (unless ``include_leaky``) no
    (task, encoder) pair that shares a data source (the leakage guard). Works on results and on summaries."""
    keep = np.ones(len(frame), dtype=bool)
    if "sweep" in frame.columns:
        keep &= ~frame["sweep"].fillna(False).astype(bool).to_numpy()
    if not include_leaky and "leak_sources" in frame.columns:
        keep &= (frame["leak_sources"].fillna("").astype(str) == "").to_numpy()
    return frame[keep]


def primary_scores(summary):
    """The primary metric of each task (R2 or macro-F1) with ``score``: the mean, R2 floored at ``R2_FLOOR``."""
    primary = summary[summary["metric"] == summary["kind"].map(PRIMARY_METRIC)].copy()
    floor = np.where(primary["metric"] == "r2", R2_FLOOR, -np.inf)
    primary["score"] = np.maximum(primary["mean"].to_numpy(), floor)
    return primary


def _wide(primary, index: list[str]):
    """``score`` by split in columns (spatial, random, ...), one row per ``index`` combination."""
    return primary.pivot_table(index=index, columns="split", values="score", aggfunc="first", sort=False)


def leaderboard(summary, *, results=None, include_leaky: bool = False):
    """Per (encoder, probe): mean floored primary score over tasks per split, mean rank overall and per family,
    leakage gap, tasks won; with ``results``, the bootstrap interval of the first split's mean score.

    Only headline rows count (:func:`headline`). ``mean rank``: each task ranks every model (encoder and probe, the
    baselines included) by its first-split score, 1 = best, ties share the average rank; the leaderboard's order, as
    in CoordBench. ``rank <family>``: the same over that family's tasks. ``leakage gap``: random-split score minus
    spatial-split score, averaged over tasks. ``wins``: tasks on which the encoder has the best first-split score
    among encoders with that probe."""
    import pandas as pd

    primary = primary_scores(headline(summary, include_leaky=include_leaky))
    if primary.empty:
        return pd.DataFrame()
    wide = _wide(primary, ["task", "encoder", "probe"])
    splits = [s for s in ("spatial", "random", "holdout") if s in wide.columns]
    first = splits[0]
    # every column averages the same tasks: those with a first-split score (a task whose spatial blocks were all
    # refused by the saturation check has none, and is reported in the block-size table instead)
    scored_tasks = wide[first].dropna().index.get_level_values("task").unique()
    wide = wide[wide.index.get_level_values("task").isin(scored_tasks)]
    primary = primary[primary["task"].isin(scored_tasks)]
    levels = ["encoder", "probe"]
    board = wide.groupby(level=levels, sort=False)[splits].mean()
    board.columns = [f"{c} CV" for c in board.columns]
    if results is not None:
        rows = primary_rows(headline(results, include_leaky=include_leaky))
        rows = rows[(rows["split"] == first) & rows["task"].isin(scored_tasks)]
        intervals = {}
        for (encoder, probe), group in rows.groupby(["encoder", "probe"], sort=False):
            intervals[(encoder, probe)] = _mixed_ci(group)
        board["ci low"] = [intervals.get(i, (np.nan, np.nan))[0] for i in board.index]
        board["ci high"] = [intervals.get(i, (np.nan, np.nan))[1] for i in board.index]
    if "spatial" in splits and "random" in splits:
        board["leakage gap"] = (wide["random"] - wide["spatial"]).groupby(level=levels, sort=False).mean()
    scored = wide[first].dropna()
    ranks = scored.groupby(level="task").rank(ascending=False, method="average")
    board["mean rank"] = ranks.groupby(level=levels, sort=False).mean()
    if "family" in primary.columns:
        family_of = primary.drop_duplicates("task").set_index("task")["family"].fillna("other")
        task_level = ranks.index.get_level_values("task")
        for family in dict.fromkeys(family_of):
            in_family = ranks[task_level.isin(family_of.index[family_of == family])]
            board[f"rank {family}"] = in_family.groupby(level=levels, sort=False).mean()
    best = wide[first].groupby(level=["task", "probe"]).transform("max")
    board["wins"] = (wide[first] == best).groupby(level=levels, sort=False).sum().astype(int)
    board["tasks"] = wide[first].groupby(level=levels, sort=False).count().astype(int)
    board["_score"] = board[f"{first} CV"]
    board = board.sort_values(["mean rank", "_score"], ascending=[True, False]).drop(columns="_score")
    return board


def primary_rows(results):
    """Result rows of each task's primary metric (R2 or macro-F1)."""
    return results[results["metric"] == results["kind"].map(PRIMARY_METRIC)]


def _mixed_ci(group) -> tuple[float, float]:
    """Percentile bootstrap interval of a model's mean score over tasks: each task's fold values are resampled on
    their own, each task's mean R2 is floored at ``R2_FLOOR`` (macro-F1 is not), and the tasks are averaged."""
    rng = np.random.default_rng(0)
    total = np.zeros(BOOTSTRAP_RESAMPLES)
    tasks = list(group.groupby("task", sort=False))
    for _, g in tasks:
        v = g["value"].to_numpy(dtype=np.float64)
        means = v[rng.integers(0, len(v), size=(BOOTSTRAP_RESAMPLES, len(v)))].mean(axis=1)
        total += np.maximum(means, R2_FLOOR) if g["metric"].iloc[0] == "r2" else means
    total /= len(tasks)
    tail = (1 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(total, [tail, 100 - tail])
    return float(low), float(high)


def best_per_task(summary):
    """Per task: the best (encoder, probe) under the first split, its scores, its leakage gap and the runner-up."""
    import pandas as pd

    primary = primary_scores(summary)
    if primary.empty:
        return pd.DataFrame()
    wide = _wide(primary, ["task", "encoder", "probe"])
    first = [s for s in ("spatial", "random", "holdout") if s in wide.columns][0]
    rows = {}
    for task, group in wide.groupby(level="task", sort=False):
        if group[first].isna().all():  # its spatial blocks were all refused: nothing to rank under that split
            continue
        ranked = group.sort_values(first, ascending=False)
        (_, encoder, probe), top = ranked.index[0], ranked.iloc[0]
        row = {"metric": METRIC_LABELS[primary.loc[primary["task"] == task, "metric"].iloc[0]],
               "best model": f"{encoder} ({probe})", f"{first} CV": top[first]}
        if "random" in group.columns and first == "spatial":
            row["random CV"] = top["random"]
            row["leakage gap"] = top["random"] - top["spatial"]
        others = ranked[ranked.index.get_level_values("encoder") != encoder]
        if len(others):
            (_, enc2, probe2), second = others.index[0], others.iloc[0]
            row["best other encoder"] = f"{enc2} ({probe2}) {second[first]:.3f}"
        rows[task] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "task"
    return frame


def mapped_model(summary, *, include_leaky: bool = False) -> tuple[str, str] | None:
    """The (encoder, probe) drawn on every map: the leaderboard's first, so that all maps show one model."""
    board = leaderboard(summary, include_leaky=include_leaky)
    return None if board.empty else tuple(board.index[0])


def headline_table(summary, probe: str | None = None):
    """Wide table: a row per task, a column per encoder, cells ``"spatial (random)"`` of the primary metric, and the
    task's leakage gap (random minus spatial, mean over encoders)."""
    import pandas as pd

    if summary.empty:
        return pd.DataFrame()
    summary = headline(summary, include_leaky=True)  # one spatial block size (the sweep has its own table)
    if probe is None:
        probes = [p for p in dict.fromkeys(summary["probe"]) if p != BASELINE_PROBE]
        probe = probes[0] if probes else BASELINE_PROBE
    primary = summary[summary["probe"].isin([probe, BASELINE_PROBE])
                      & (summary["metric"] == summary["kind"].map(PRIMARY_METRIC))]
    splits = list(dict.fromkeys(primary["split"]))
    encoders = list(dict.fromkeys(primary["encoder"]))
    table = {}
    for task, group in primary.groupby("task", sort=False):
        metric = PRIMARY_METRIC[group["kind"].iloc[0]]
        row = {"metric": metric}
        for encoder in encoders:
            values = []
            for split in splits:
                hit = group[(group["encoder"] == encoder) & (group["split"] == split)]
                values.append(f"{hit['mean'].iloc[0]:.3f}" if len(hit) else "-")
            row[encoder] = values[0] + (f" ({', '.join(values[1:])})" if len(values) > 1 else "")
        if "spatial" in splits and "random" in splits:
            by_split = group.pivot_table(index="encoder", columns="split", values="mean", aggfunc="first")
            # a task whose spatial blocks were all refused (saturation check) has no spatial score: no gap
            row["leakage gap"] = (float((by_split["random"] - by_split["spatial"]).mean())
                                  if {"random", "spatial"} <= set(by_split.columns) else np.nan)
        table[task] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "task"
    frame.attrs["caption"] = (f"{PRIMARY_METRIC['regression']} (regression) / {PRIMARY_METRIC['classification']} "
                              f"(classification), {probe} probe"
                              + (" (interpolation baselines beside it)" if probe != BASELINE_PROBE
                                 and (primary["probe"] == BASELINE_PROBE).any() else "")
                              + ", mean over folds and seeds: "
                              f"{splits[0]} split" + (f" ({', '.join(splits[1:])} in brackets)" if len(splits) > 1
                                                      else "")
                              + ("; leakage gap = random minus spatial, mean over encoders"
                                 if "leakage gap" in frame.columns else ""))
    return frame


def markdown_table(frame) -> str:
    """A pipe table (written here to avoid a dependency on ``tabulate`` for one table)."""
    columns = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for index, *values in frame.itertuples(name=None):  # per cell, so an integer column stays integer
        lines.append("| " + " | ".join([str(index)] + [_fmt(v) for v in values]) + " |")
    return "\n".join(lines)


def text_table(frame) -> str:
    """A fixed-width table for the terminal."""
    columns = [frame.index.name or ""] + [str(c) for c in frame.columns]
    cells = [[str(i)] + [_fmt(v) for v in values] for i, *values in frame.itertuples(name=None)]
    widths = [max(len(columns[j]), *(len(r[j]) for r in cells)) if cells else len(columns[j])
              for j in range(len(columns))]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([line, "-" * len(line), *body])


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def package_versions() -> dict[str, str]:
    """Versions of everything that can change the numbers."""
    import importlib.metadata as md

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("pygeoembed", "torch", "scikit-learn", "numpy", "pandas", "geopandas", "shapely", "pyproj"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def write_reports(results, out_dir: str | Path, *, config: Any, tasks: dict, embed_seconds: dict | None = None,
                  charts: bool = True, maps: bool = True) -> dict[str, Path]:
    """Write every report file (see the module docstring); returns their paths by kind."""
    from geoembed.downstream.tasks import shipped_manifest

    out_dir = Path(out_dir)
    include_leaky = bool(getattr(config, "include_leaky", False))
    summary = summarize(results)
    board = leaderboard(summary, results=results, include_leaky=include_leaky)
    sweep = sweep_table(summary, include_leaky=include_leaky)
    paths: dict[str, Path] = {}
    for name, frame, index in (("results", results, False), ("summary", summary, False),
                               ("leaderboard", board, True), ("sweep", sweep, False)):
        if name == "sweep" and frame.empty:
            continue
        with atomic_write(out_dir / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=index)
        paths[name] = out_dir / f"{name}.csv"
    manifest = shipped_manifest()["tasks"]
    task_info = {}
    for name, task in tasks.items():
        info = task.summary()
        info["rows_used"] = len(task.data)
        info["units"] = getattr(task, "units", None) or info.get("units") or ""
        info["polygons"] = bool((~task.data.geom_type.isin(["Point", "MultiPoint"])).any())
        if name in manifest:
            info["sha256"] = manifest[name]["sha256"]
        task_info[name] = info
    payload = {
        "config": config.as_dict(), "versions": package_versions(), "seeds": config.seeds, "tasks": task_info,
        "embed_seconds": embed_seconds or {}, "summary": summary.to_dict(orient="records"),
    }
    with atomic_write(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    paths["json"] = out_dir / "results.json"
    drawn_charts: dict[str, str] = {}
    drawn_maps: dict[str, str] = {}
    head = headline(summary, include_leaky=include_leaky)
    model = mapped_model(head, include_leaky=include_leaky)
    if charts and not head.empty:
        plot_summary_chart(head, out_dir / "charts" / "summary.png")
        drawn_charts["summary"] = "charts/summary.png"
        if not board.empty:
            plot_leaderboard_chart(board, out_dir / "charts" / "leaderboard.png")
            drawn_charts["leaderboard"] = "charts/leaderboard.png"
        if not sweep.empty:
            plot_sweep_chart(sweep, out_dir / "charts" / "block_sweep.png")
            drawn_charts["block_sweep"] = "charts/block_sweep.png"
        for task in head["task"].unique():
            plot_task_chart(head[head["task"] == task], out_dir / "charts" / f"{task}.png",
                            info=task_info.get(task))
            drawn_charts[task] = f"charts/{task}.png"
        paths["charts"] = out_dir / "charts"
    if maps and model is not None:
        for task in head["task"].unique():
            drawn = plot_task_map(head, task, out_dir, model=model, task=tasks.get(task),
                                  info=task_info.get(task))
            if drawn is not None:
                drawn_maps[task] = f"maps/{task}.png"
                paths.setdefault("maps", drawn.parent)
    with atomic_write(out_dir / "report.md") as tmp:
        tmp.write_text(markdown_report(summary, config, task_info, charts=drawn_charts, maps=drawn_maps,
                                       results=results))
    paths["markdown"] = out_dir / "report.md"
    return paths


def target_label(info: dict | None, *, short: bool = False) -> str:
    """The target as a reader knows it: ``log10(population [people])``, ``air temperature [degC]``."""
    if not info:
        return "target"
    name = str(info.get("target", "target")).replace("_", " ")
    units = info.get("units") or ""
    label = f"{name} [{units}]" if units and not short else name
    transform = info.get("target_transform")
    return f"{transform}({label})" if transform else label


def error_units(info: dict | None) -> str:
    """Units of a prediction error on the scored scale (``degC``, ``log10(people)``), or ``""``."""
    if not info:
        return ""
    units = info.get("units") or ""
    transform = info.get("target_transform")
    if transform:
        return f"{transform}({units or info.get('target', '')})"
    return units


def headline_text(summary, task_info: dict | None = None, *, include_leaky: bool = False) -> list[str]:
    """The report's first paragraphs: what wins where under spatial CV, how the baselines do, and how much a random
    split flatters."""
    primary = primary_scores(summary)
    board = leaderboard(summary, include_leaky=include_leaky)
    if board.empty:
        return ["No results."]
    first_split = board.columns[0].removesuffix(" CV")
    n_tasks = primary["task"].nunique()
    (encoder, probe), top = board.index[0], board.iloc[0]
    what = f"{encoder} with the {probe} probe" if probe != BASELINE_PROBE else f"the {encoder} baseline"
    lines = [f"**Under {first_split} cross-validation, {what} has the best mean rank over the {n_tasks} tasks** "
             f"({top['mean rank']:.2f}; mean score {top.iloc[0]:.3f}: R² of regression tasks and macro-F1 of "
             f"classification tasks, R² floored at {R2_FLOOR:g} before averaging)."]
    baselines = board[board.index.get_level_values("probe") == BASELINE_PROBE]
    if len(baselines) and len(baselines) < len(board):
        best_base = baselines.iloc[0]
        beating = board[(board.index.get_level_values("probe") != BASELINE_PROBE)
                        & (board.iloc[:, 0] > best_base.iloc[0])]
        lines.append(f"**Interpolating the training labels** ({baselines.index[0][0]}, mean score "
                     f"{best_base.iloc[0]:.3f}, mean rank {best_base['mean rank']:.2f}) is beaten on the mean score by "
                     f"{len(beating)} of the {len(board) - len(baselines)} encoder / probe combinations"
                     + (f" ({', '.join(' / '.join(i) for i in beating.index[:5])}"
                        + (", ..." if len(beating) > 5 else "") + ")" if len(beating) else "") + ".")
    per_probe = []
    for name in [p for p in dict.fromkeys(board.index.get_level_values("probe")) if p != BASELINE_PROBE]:
        sub = board.xs(name, level="probe")
        per_probe.append(f"{name}: {sub.index[0]} ({sub.iloc[0, 0]:.3f}, best on {int(sub['wins'].iloc[0])} of "
                         f"{int(sub['tasks'].iloc[0])} tasks)")
    lines.append("Best encoder per probe (mean score, tasks won among encoders with that probe): "
                 + "; ".join(per_probe) + ".")
    best = best_per_task(summary)
    winners: dict[str, list[str]] = {}
    for task, row in best.iterrows():
        winners.setdefault(row["best model"].split(" (")[0], []).append(task)
    lines.append("Best model per task: " + "; ".join(f"{enc} on {len(t)} ({', '.join(t)})"
                                                      for enc, t in sorted(winners.items(), key=lambda kv: -len(kv[1])))
                 + ".")
    if "leakage gap" in board.columns:
        gap = board["leakage gap"]
        lines.append(f"**Leakage gap** (random-CV score minus spatial-CV score): {gap.mean():.3f} on average over "
                     f"encoders, probes and tasks, from {gap.min():.3f} ({' / '.join(gap.idxmin())}) to "
                     f"{gap.max():.3f} ({' / '.join(gap.idxmax())}). A random split lets a probe interpolate between "
                     f"neighbours of the test points; the spatial split asks about places without training data "
                     f"nearby, which is what a map of unseen places needs.")
    return lines


def markdown_report(summary, config: Any, task_info: dict, *, charts: dict | None = None,
                    maps: dict | None = None, results=None) -> str:
    """``report.md``: headline, leaderboard, baselines, leakage guard, block-size sweep, best per task, a table per
    probe, charts, maps, tasks, every metric."""
    charts, maps = charts or {}, maps or {}
    include_leaky = bool(getattr(config, "include_leaky", False))
    full_summary = summary
    summary = headline(summary, include_leaky=include_leaky)
    lines = ["# geoembed downstream benchmark", ""]
    for paragraph in headline_text(summary, task_info, include_leaky=include_leaky):
        lines += [paragraph, ""]
    protocol_name = getattr(config, "protocol", "default")
    buffer_km = float(getattr(config, "buffer_km", 0.0) or 0.0)
    settings = (f"Settings: probes {', '.join(config.probes)}; baselines "
                f"{', '.join(getattr(config, 'baselines', []) or ['none'])}; splits {', '.join(config.splits)}; "
                f"{config.n_splits} folds; seeds {config.seeds}; {config.n_points} points per polygon"
                + (f"; at most {config.max_rows} rows per task" if config.max_rows else "")
                + (f"; training rows within {buffer_km:g} km of a test row dropped in every fold" if buffer_km
                   else "; no buffer")
                + f"; protocol {protocol_name} (version {config.protocol_version}). Spatial blocks per task are in "
                  "the task table below.")
    lines += [settings, ""]
    if "summary" in charts:
        lines += [f"![Mean score per encoder and probe, spatial vs random split]({charts['summary']})", ""]
    board = leaderboard(summary, results=results, include_leaky=include_leaky)
    if not board.empty:
        shown = board.copy()
        shown.index = [f"{enc} / {probe}" for enc, probe in shown.index]
        shown.index.name = "encoder / probe"
        ci = (f"; ci low / ci high: {CI_LEVEL:.0%} percentile bootstrap interval of the {board.columns[0]} mean "
              f"({BOOTSTRAP_RESAMPLES} resamples of each task's folds)" if "ci low" in board.columns else "")
        lines += ["## Leaderboard", "",
                  "Sorted by mean rank (each task ranks every model, baselines included, by its "
                  f"{board.columns[0]} score; 1 = best; `rank <family>`: over that family's tasks). Scores: mean "
                  f"primary score over tasks (R² floored at {R2_FLOOR:g}, macro-F1), per split{ci}; leakage gap = "
                  "random minus spatial; wins = tasks where the encoder is best with that probe under "
                  f"{board.columns[0]}. Also in `leaderboard.csv`.", "", markdown_table(shown), ""]
        if "leaderboard" in charts:
            lines += [f"![Mean rank per model, overall and per task family]({charts['leaderboard']})", ""]
    lines += baselines_section(getattr(config, "baselines", []))
    lines += leakage_section(config)
    lines += sweep_section(full_summary, config, charts, include_leaky=include_leaky)
    best = best_per_task(summary)
    if not best.empty:
        lines += ["## Best model per task", "",
                  "Under spatial CV, over every encoder and probe (raw means, not floored).", "",
                  markdown_table(best), ""]
    lines += ["## Results by probe", ""]
    for probe in [p for p in dict.fromkeys(summary["probe"]) if p != BASELINE_PROBE]:
        table = headline_table(summary, probe)
        if not table.empty:
            lines += [f"### {probe} probe", "", table.attrs["caption"] + ".", "", markdown_table(table), ""]
    task_charts = [t for t in charts if t not in ("summary", "leaderboard", "block_sweep")]
    if task_charts:
        lines += ["## Charts per task", "",
                  "Every encoder and probe; bars: mean over folds (and seeds), whiskers: standard deviation; R² "
                  f"below {R2_FLOOR:g} is drawn at {R2_FLOOR:g} with its value printed.", ""]
        for task in task_charts:
            info = task_info.get(task, {})
            lines += [f"### {task}", "", f"{info.get('description', '')} Target: {target_label(info)}.", "",
                      f"![{task}: every encoder and probe, spatial vs random split]({charts[task]})", ""]
    model = mapped_model(summary, include_leaky=include_leaky)
    if maps and model is not None:
        encoder, probe = model
        split = config.splits[0]
        lines += ["## Maps", "",
                  f"Every map shows the same model, **{encoder} with the {probe} probe**, the leaderboard's first "
                  f"(best mean {split}-CV score over the tasks), so that the maps can be compared with each other. "
                  f"They show its out-of-fold predictions from the {split} split (seed {config.seeds[0]}): for "
                  "regression the error (prediction minus truth, in the target's scored units, red = too high, blue "
                  "= too low; colours end at the 95th percentile of the absolute error), for classification right or "
                  "wrong. Polygon tasks are drawn as filled polygons, point tasks as dots.", ""]
        for task, path in maps.items():
            lines += [f"![{task}: out-of-fold errors of {encoder} ({probe} probe)]({path})", ""]
    lines += ["## Tasks", "", "| task | kind | rows | geometry | region | block (deg) | target (scored as) | units | "
              "source |", "|---|---|---|---|---|---|---|---|---|"]
    for name, info in task_info.items():
        target = info["target"] + (f" ({info['target_transform']})" if info.get("target_transform") else "")
        lines.append(f"| {name} | {info['kind']} | {info['rows_used']} | {info['geometry']} | {info['region']} | "
                     f"{info['block_size_deg']} | {target} | {info.get('units') or '-'} | {info['source'][:80]} |")
    lines += ["", "## All metrics (mean ± std over folds and seeds)", "",
              "Raw values (R² not floored); MAE and RMSE in the target's scored units (see the task table).", ""]
    summary = headline(full_summary, include_leaky=True)  # every pair, the leakage guard's too (raw values)
    if not summary.empty:
        detail = summary.assign(value=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summary["mean"], summary["std"])])
        wide = detail.pivot_table(index=["task", "split", "probe", "metric"], columns="encoder", values="value",
                                  aggfunc="first", sort=False)
        wide.index = [" / ".join(map(str, i)) for i in wide.index]
        wide.index.name = "task / split / probe / metric"
        lines += [markdown_table(wide), ""]
    return "\n".join(lines)


def sweep_table(summary, *, include_leaky: bool = False):
    """The block-size sweep in long form: per (task, encoder, probe), the primary score's mean and bootstrap interval
    at every spatial block size that ran, and under the random split (``block_size_deg`` NaN, ``design`` "random").
    Empty when the run had a single block size per task."""
    import pandas as pd

    if "block_size_deg" not in summary.columns or summary.empty:
        return pd.DataFrame()
    rows = summary[summary["metric"] == summary["kind"].map(PRIMARY_METRIC)]
    if not include_leaky and "leak_sources" in rows.columns:
        rows = rows[rows["leak_sources"].fillna("").astype(str) == ""]
    spatial = rows[rows["split"] == "spatial"]
    if spatial.empty or spatial.groupby("task")["block_size_deg"].nunique().max() < 2:
        return pd.DataFrame()
    sizes = spatial.groupby("task")["block_size_deg"].nunique()
    swept = sizes.index[sizes > 1]
    out = rows[rows["task"].isin(swept) & rows["split"].isin(["spatial", "random"])].copy()
    out["design"] = np.where(out["split"] == "spatial", "spatial", "random")
    keep = ["task", "family", "encoder", "probe", "design", "block_size_deg", "metric", "mean", "std", "ci_low",
            "ci_high", "n"]
    out = out[[c for c in keep if c in out.columns]]
    return out.sort_values(["task", "encoder", "probe", "design", "block_size_deg"]).reset_index(drop=True)


def baselines_section(baselines) -> list[str]:
    """Markdown: what the interpolation baselines are (they are ranked with the encoders)."""
    if not baselines:
        return []
    from geoembed.downstream.interpolation import BASELINES, IDW_NEIGHBOURS, IDW_POWERS

    items = [f"- `{name}`: {BASELINES.get(name, name)}." for name in baselines]
    return ["## Baselines: interpolating the training labels", "",
            "Models that use only coordinates and the training labels, run on the same folds and buffers as the "
            f"encoders (probe `{BASELINE_PROBE}`): an encoder earns its place when it beats them. k from "
            f"{list(IDW_NEIGHBOURS)} and the power from {list(IDW_POWERS)} are chosen by the inner CV (spatial in the "
            "spatial split); distances are great-circle.", "", *items, ""]


def leakage_section(config: Any) -> list[str]:
    """Markdown: the (task, encoder) pairs whose data share a source, and what the report did with them."""
    pairs = list(getattr(config, "leakage", []) or [])
    lines = ["## Leakage guard", ""]
    if not pairs:
        return lines + ["No (task, encoder) pair of this run shares a data source (task `sources` against the "
                        "encoders' model-card `training_sources`, see `geoembed.provenance`).", ""]
    included = bool(getattr(config, "include_leaky", False))
    lines += [f"{len(pairs)} (task, encoder) pair(s) share a data source: the encoder was trained on data the task "
              "was built from, so its score may measure memory rather than transfer. "
              + ("They are **included** in the leaderboard and headline tables of this run (include_leaky)."
                 if included else "They are **left out** of the leaderboard, the headline tables, the charts and "
                 "the maps (their raw scores stay in results.csv, summary.csv and the table of all metrics); run "
                 "with `--include-leaky` to rank them."), "",
              "| task | encoder | shared sources | why |", "|---|---|---|---|"]
    from geoembed.provenance import SOURCES

    for pair in pairs:
        why = "; ".join(f"{s}: {SOURCES.get(s, s)}" for s in pair["shared"])
        lines.append(f"| {pair['task']} | {pair['encoder']} | {', '.join(pair['shared'])} | {why} |")
    return lines + [""]


def sweep_section(summary, config: Any, charts: dict, *, include_leaky: bool = False) -> list[str]:
    """Markdown: the saturation check of every block size, and the sweep's scores per task."""
    saturation = getattr(config, "saturation", {}) or {}
    sizes = getattr(config, "block_sizes", []) or []
    lines: list[str] = []
    if not sizes and not any(c["status"] != "ok" for checks in saturation.values() for c in checks):
        return lines
    lines += ["## Block sizes", "",
              "Saturation check of every spatial block size per task: *refused* when fewer blocks hold data than "
              "there are folds (not run), *flagged* when there are fewer than 2 blocks per fold or one block holds "
              "more than a fold's share of the rows (folds of few, uneven blocks; noisy scores).", "",
              "| task | block (deg) | blocks with data | largest block share | status | reason |",
              "|---|---|---|---|---|---|"]
    for task, checks in saturation.items():
        for c in checks:
            lines.append(f"| {task} | {c['block_size_deg']:g} | {c['n_blocks']} | {c['largest_block_share']:.2f} | "
                         f"{c['status']} | {c['reason'] or '-'} |")
    lines.append("")
    table = sweep_table(summary, include_leaky=include_leaky)
    if table.empty:
        return lines
    lines += ["### Score against block size", "",
              f"Mean primary score per spatial block size (degrees; the headline size of each task is the task "
              f"table's), and under the random split; one model per encoder: its probe "
              f"`{config.probes[0] if config.probes else BASELINE_PROBE}`, and the baselines. All sizes and probes, "
              "with bootstrap intervals, are in `sweep.csv`.", ""]
    if "block_sweep" in charts:
        lines += [f"![Score against spatial block size per task]({charts['block_sweep']})", ""]
    probe = config.probes[0] if config.probes else BASELINE_PROBE
    for task, group in table.groupby("task", sort=False):
        group = group[group["probe"].isin([probe, BASELINE_PROBE])]
        group = group.assign(column=np.where(group["design"] == "random", "random",
                                             group["block_size_deg"].map(lambda b: f"{b:g} deg")))
        wide = group.pivot_table(index="encoder", columns="column", values="mean", aggfunc="first", sort=False)
        order = [f"{b:g} deg" for b in sorted(group.loc[group["design"] == "spatial", "block_size_deg"].unique())]
        wide = wide[[c for c in order + ["random"] if c in wide.columns]]
        wide.index.name = "encoder"
        lines += [f"**{task}** ({PRIMARY_METRIC[summary.loc[summary['task'] == task, 'kind'].iloc[0]]})", "",
                  markdown_table(wide), ""]
    return lines


def plot_leaderboard_chart(board, out: Path) -> Path:
    """Horizontal bars of each model's mean rank (1 = best), with its mean rank per task family as markers."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    labels = [f"{enc} / {probe}" for enc, probe in board.index]
    families = [c for c in board.columns if c.startswith("rank ")]
    fig, ax = plt.subplots(figsize=(7.5, 2.0 + 0.32 * len(board)))
    y = np.arange(len(board))
    colours = ["#9e9e9e" if probe == BASELINE_PROBE else "#1f77b4" for _, probe in board.index]
    ax.barh(y, board["mean rank"].to_numpy(dtype=float), color=colours, height=0.6, label="overall")
    markers = ["o", "s", "^", "D", "v", "P"]
    for i, family in enumerate(families):
        ax.scatter(board[family].to_numpy(dtype=float), y, marker=markers[i % len(markers)], zorder=3, s=24,
                   color=f"C{(i + 1) % 10}", label=family.removeprefix("rank "), edgecolor="black", linewidth=0.4)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean rank over tasks under {board.columns[0]} (1 = best)")
    ax.set_title("Leaderboard: mean rank per model, overall (bars; grey: interpolation baselines) and per task "
                 "family (markers)", fontsize=10, wrap=True)
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    save_figure(fig, out)
    plt.close(fig)
    return out


def plot_sweep_chart(sweep, out: Path) -> Path:
    """One panel per task: the primary score against the spatial block size (log axis) per model, the random
    split's score as a dotted line of the same colour."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    tasks = list(dict.fromkeys(sweep["task"]))
    cols = min(3, len(tasks))
    rows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows + 0.8), squeeze=False)
    handles = {}
    models = list(dict.fromkeys(zip(sweep["encoder"], sweep["probe"])))
    colours = {model: f"C{i % 10}" for i, model in enumerate(models)}  # one colour per model in every panel
    for ax, task in zip(axes.ravel(), tasks):
        data = sweep[sweep["task"] == task]
        for (encoder, probe), group in data.groupby(["encoder", "probe"], sort=False):
            colour = colours[(encoder, probe)]
            spatial = group[group["design"] == "spatial"].sort_values("block_size_deg")
            (line,) = ax.plot(spatial["block_size_deg"], spatial["mean"], marker="o", markersize=3, color=colour,
                              linestyle="--" if probe == BASELINE_PROBE else "-")
            handles.setdefault(f"{encoder} / {probe}", line)
            random = group[group["design"] == "random"]
            if len(random):
                ax.axhline(random["mean"].iloc[0], color=colour, linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ticks = sorted(data.loc[data["design"] == "spatial", "block_size_deg"].unique())
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("spatial block size (deg, log scale)", fontsize=8)
        ax.set_ylabel(METRIC_LABELS[data["metric"].iloc[0]], fontsize=8)
        ax.grid(color="0.9", linewidth=0.6)
    for ax in axes.ravel()[len(tasks):]:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(4, len(handles)), fontsize=7,
               frameon=False)
    fig.suptitle("Score against spatial block size (dotted: random split; dashed: interpolation baselines)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * int(np.ceil(len(handles) / 4)), 1, 0.95))
    save_figure(fig, out)
    plt.close(fig)
    return out


def _bars(ax, data, encoders: list[str], splits: list[str], floor: float | None) -> None:
    """Grouped bars (one group per encoder, one bar per split) with std whiskers; values below ``floor`` clipped."""
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        sub = data[data["split"] == split].set_index("encoder").reindex(encoders)
        x = np.arange(len(encoders)) + (i - (len(splits) - 1) / 2) * width
        means = sub["mean"].to_numpy(dtype=float)
        shown = means if floor is None else np.maximum(means, floor)
        errors = sub["std"].to_numpy(dtype=float) if "std" in sub else None
        if errors is not None and not np.nan_to_num(errors).any():
            errors = None
        ax.bar(x, shown, width, yerr=errors, capsize=2, label=f"{split} CV",
               color=SPLIT_COLOURS.get(split), error_kw=dict(linewidth=0.7))
        if floor is not None:  # a failed encoder (R2 of -6) would squash every other bar: clip it and print its value
            for xi, value in zip(x, means):
                if value < floor:
                    ax.annotate(f"{value:.1f}", (xi, floor), xytext=(0, 3), textcoords="offset points",
                                ha="center", fontsize=7, bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    ax.set_xticks(np.arange(len(encoders)))
    ax.set_xticklabels(encoders, rotation=30, ha="right", fontsize=8)
    ax.axhline(0, color="0.3", linewidth=0.6)
    ax.grid(axis="y", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)


def _panels(data) -> list[tuple[str, Any]]:
    """One chart panel per probe, each with the interpolation baselines beside the encoders (they have no probe of
    their own); a run of baselines only gets one panel."""
    probes = [p for p in dict.fromkeys(data["probe"]) if p != BASELINE_PROBE]
    baselines = data[data["probe"] == BASELINE_PROBE]
    if not probes:
        return [("interpolation baselines", baselines)]
    suffix = " (and the interpolation baselines)" if len(baselines) else ""
    return [(f"{probe} probe{suffix}", data[data["probe"].isin([probe, BASELINE_PROBE])]) for probe in probes]


def _finish(fig, axes, title: str, n_splits: int) -> None:
    """Wrapped title on top, one legend for all panels below them (never over a bar), tight layout."""
    import textwrap

    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=max(n_splits, 1), fontsize=8, frameon=False)
    wrapped = textwrap.fill(title, width=int(18 * fig.get_figwidth()))
    fig.suptitle(wrapped, fontsize=11)
    lines = wrapped.count("\n") + 1
    fig.tight_layout(rect=(0, 0.06, 1, 1 - 0.035 * (lines - 1)))


def plot_task_chart(task_summary, out: Path, *, info: dict | None = None) -> Path:
    """One panel per probe: bars per encoder, one colour per split, whiskers = std over folds and seeds."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    kind = task_summary["kind"].iloc[0]
    metric = PRIMARY_METRIC[kind]
    data = task_summary[task_summary["metric"] == metric]
    panels = _panels(data)
    encoders = list(dict.fromkeys(data["encoder"]))
    splits = list(dict.fromkeys(data["split"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + len(panels) * max(3.0, 0.55 * len(encoders) + 1.2), 3.9),
                             sharey=True, squeeze=False)
    floor = R2_FLOOR if metric == "r2" else None
    for ax, (title, subset) in zip(axes[0], panels):
        _bars(ax, subset, encoders, splits, floor)
        ax.set_title(title, fontsize=10)
    low = data["mean"].min()
    if metric == "r2":
        axes[0, 0].set_ylim(max(R2_FLOOR, min(0.0, low - 0.1)) - (0.05 if low < R2_FLOOR else 0), 1.0)
    else:
        axes[0, 0].set_ylim(0.0, 1.0)
    scored = "R² (1 = perfect, 0 = the mean)" if metric == "r2" else "macro-F1 (1 = perfect)"
    axes[0, 0].set_ylabel(scored)
    task = task_summary["task"].iloc[0]
    _finish(fig, axes, f"{task}: predicting {target_label(info)} from location", len(splits))
    save_figure(fig, out)
    plt.close(fig)
    return out


def plot_summary_chart(summary, out: Path) -> Path:
    """Mean primary score over tasks (R2 floored) per encoder, one panel per probe, spatial vs random split."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    primary = primary_scores(summary)
    n_tasks = primary["task"].nunique()
    means = primary.groupby(["encoder", "probe", "split"], sort=False)["score"].agg(["mean", "std"]).reset_index()
    means["std"] = 0.0  # the spread across tasks is not an error bar: leave it out
    panels = _panels(means)
    encoders = list(dict.fromkeys(means["encoder"]))
    splits = list(dict.fromkeys(means["split"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + len(panels) * max(3.0, 0.55 * len(encoders) + 1.2), 3.9),
                             sharey=True, squeeze=False)
    for ax, (title, subset) in zip(axes[0], panels):
        _bars(ax, subset, encoders, splits, None)
        ax.set_title(title, fontsize=10)
    axes[0, 0].set_ylim(min(0.0, float(means["mean"].min()) - 0.05), 1.0)
    axes[0, 0].set_ylabel(f"mean score over {n_tasks} tasks")
    _finish(fig, axes, f"Mean score over {n_tasks} tasks per encoder and probe (R² of regression tasks, macro-F1 of "
                       f"classification tasks; R² floored at {R2_FLOOR:g})", len(splits))
    save_figure(fig, out)
    plt.close(fig)
    return out


def plot_task_map(summary, task_name: str, out_dir: Path, *, model: tuple[str, str] | None = None, task: Any = None,
                  info: dict | None = None) -> Path | None:
    """Map of one model's out-of-fold errors (regression) or right/wrong (classification) on a task.

    ``model``: (encoder, probe), default :func:`mapped_model`; ``task``: the Task, whose polygons are then filled
    (a choropleth) instead of drawn as dots at their centroids."""
    import pandas as pd

    from geoembed.maps import plot_world

    rows = summary[(summary["task"] == task_name) & (summary["metric"] == summary["kind"].map(PRIMARY_METRIC))]
    model = model or mapped_model(summary)
    if rows.empty or model is None:
        return None
    encoder, probe = model
    split = rows["split"].iloc[0]
    path = out_dir / "predictions" / f"{task_name}__{encoder}__{probe}.parquet"
    hit = rows[(rows["encoder"] == encoder) & (rows["probe"] == probe) & (rows["split"] == split)]
    if not path.is_file() or hit.empty:
        return None
    pred = pd.read_parquet(path)
    latlon = pred[["lat", "lon"]].to_numpy()
    geometries = None
    if task is not None and "row" in pred and info is not None and info.get("polygons"):
        geometries = task.data.geometry.iloc[pred["row"].to_numpy()].reset_index(drop=True)
    metric = PRIMARY_METRIC[hit["kind"].iloc[0]]
    title = (f"{task_name}: out-of-fold {'errors' if metric == 'r2' else 'right / wrong'} of {encoder}, {probe} probe, "
             f"{split} CV ({METRIC_LABELS[metric]} {hit['mean'].iloc[0]:.2f})")
    out = out_dir / "maps" / f"{task_name}.png"
    if hit["kind"].iloc[0] == "classification":
        correct = (pred["y_true"].astype(str) == pred["y_pred"].astype(str)).to_numpy()
        plot_world(latlon, np.where(correct, 0, 1), out, title=title, geometries=geometries,
                   categories=[f"right ({correct.mean():.0%})", f"wrong ({1 - correct.mean():.0%})"],
                   cmap="RdYlGn_r")  # two categories: the colormap's ends, green and red
    else:
        residual = (pred["y_pred"] - pred["y_true"]).to_numpy()
        limit = float(np.quantile(np.abs(residual), 0.95)) or 1.0
        units = error_units(info)
        import textwrap

        label = "prediction − truth" + (f"\n[{textwrap.shorten(units, 60, placeholder='...')}]" if units else "")
        plot_world(latlon, residual, out, title=title, geometries=geometries, cmap="RdBu_r", vmin=-limit,
                   vmax=limit, label=label)  # colours end at the 95th percentile of |error|
    return out
