"""Benchmark reports: terminal table, Markdown, CSV/JSON (configuration, versions, seeds) and PNG charts and maps.

Files written by :func:`write_reports` into the output folder:

- ``results.csv``: the tidy per-fold table returned by :func:`~geoembed.downstream.benchmark.run_benchmark`;
- ``summary.csv``: mean, standard deviation and count over folds and seeds per (task, encoder, split, probe, metric);
- ``report.md``: the headline table and per-task details;
- ``results.json``: configuration, package versions, seeds, task provenance and the summary;
- ``charts/<task>.png``: encoders compared on a task, spatial vs random split side by side;
- ``maps/<task>.png``: out-of-fold residuals (or errors) of the best encoder on each task.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from geoembed.atomic import atomic_write

PRIMARY_METRIC = {"regression": "r2", "classification": "macro_f1"}
R2_FLOOR = -1.0  # charts clip R2 below this (the value is printed on the bar)


def summarize(results):
    """Mean, std and count of each metric over folds and seeds, per (task, encoder, split, probe, metric)."""
    keys = ["task", "kind", "encoder", "split", "probe", "metric"]
    grouped = results.groupby(keys, sort=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    return summary


def headline_table(summary, probe: str | None = None):
    """Wide table: a row per task, a column per encoder, cells ``"spatial (random)"`` of the primary metric."""
    import pandas as pd

    if summary.empty:
        return pd.DataFrame()
    probe = probe or summary["probe"].iloc[0]
    primary = summary[(summary["probe"] == probe)
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
        table[task] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "task"
    frame.attrs["caption"] = (f"{PRIMARY_METRIC['regression']} (regression) / {PRIMARY_METRIC['classification']} "
                              f"(classification), {probe} probe, mean over folds and seeds: "
                              f"{splits[0]} split" + (f" ({', '.join(splits[1:])} in brackets)" if len(splits) > 1
                                                      else ""))
    return frame


def markdown_table(frame) -> str:
    """A pipe table (written here to avoid a dependency on ``tabulate`` for one table)."""
    columns = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for index, row in frame.iterrows():
        lines.append("| " + " | ".join([str(index)] + [_fmt(v) for v in row.to_numpy()]) + " |")
    return "\n".join(lines)


def text_table(frame) -> str:
    """A fixed-width table for the terminal."""
    columns = [frame.index.name or ""] + [str(c) for c in frame.columns]
    cells = [[str(i)] + [_fmt(v) for v in row.to_numpy()] for i, row in frame.iterrows()]
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
    from geoembed.downstream.benchmark import config_dict
    from geoembed.downstream.tasks import shipped_manifest

    out_dir = Path(out_dir)
    summary = summarize(results)
    paths: dict[str, Path] = {}
    for name, frame in (("results", results), ("summary", summary)):
        with atomic_write(out_dir / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
        paths[name] = out_dir / f"{name}.csv"
    manifest = shipped_manifest()["tasks"]
    task_info = {}
    for name, task in tasks.items():
        info = task.summary()
        info["rows_used"] = len(task.data)
        if name in manifest:
            info["sha256"] = manifest[name]["sha256"]
        task_info[name] = info
    payload = {
        "config": config_dict(config), "versions": package_versions(), "seeds": config.seeds, "tasks": task_info,
        "embed_seconds": embed_seconds or {}, "summary": summary.to_dict(orient="records"),
    }
    with atomic_write(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    paths["json"] = out_dir / "results.json"
    with atomic_write(out_dir / "report.md") as tmp:
        tmp.write_text(markdown_report(summary, config, task_info))
    paths["markdown"] = out_dir / "report.md"
    if charts:
        for task in summary["task"].unique():
            plot_task_chart(summary[summary["task"] == task], out_dir / "charts" / f"{task}.png")
        paths["charts"] = out_dir / "charts"
    if maps:
        for task in summary["task"].unique():
            drawn = plot_task_map(summary, task, out_dir)
            if drawn is not None:
                paths.setdefault("maps", drawn.parent)
    return paths


def markdown_report(summary, config: Any, task_info: dict) -> str:
    """``report.md``: headline table, what each task is, and every metric with its spread."""
    lines = ["# geoembed downstream benchmark", ""]
    table = headline_table(summary)
    if not table.empty:
        lines += [table.attrs["caption"] + ".", "", markdown_table(table), ""]
    lines += [f"Probes: {', '.join(config.probes)}; splits: {', '.join(config.splits)}; {config.n_splits} folds; "
              f"seeds {config.seeds}; {config.n_points} points per polygon"
              + (f"; at most {config.max_rows} rows per task" if config.max_rows else "") + ".", ""]
    lines += ["## Tasks", "", "| task | kind | rows | geometry | region | block (deg) | target | source |",
              "|---|---|---|---|---|---|---|---|"]
    for name, info in task_info.items():
        target = info["target"] + (f" ({info['target_transform']})" if info.get("target_transform") else "")
        lines.append(f"| {name} | {info['kind']} | {info['rows_used']} | {info['geometry']} | {info['region']} | "
                     f"{info['block_size_deg']} | {target} | {info['source'][:80]} |")
    lines += ["", "## All metrics (mean ± std over folds and seeds)", ""]
    if not summary.empty:
        detail = summary.assign(value=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summary["mean"], summary["std"])])
        wide = detail.pivot_table(index=["task", "split", "probe", "metric"], columns="encoder", values="value",
                                  aggfunc="first", sort=False)
        wide.index = [" / ".join(map(str, i)) for i in wide.index]
        wide.index.name = "task / split / probe / metric"
        lines += [markdown_table(wide), ""]
    return "\n".join(lines)


def plot_task_chart(task_summary, out: Path) -> Path:
    """Bars per encoder, one colour per split, error bars = std over folds and seeds (primary metric, first probe)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from geoembed.maps import save_figure

    kind = task_summary["kind"].iloc[0]
    metric = PRIMARY_METRIC[kind]
    probe = task_summary["probe"].iloc[0]
    data = task_summary[(task_summary["metric"] == metric) & (task_summary["probe"] == probe)]
    encoders = list(dict.fromkeys(data["encoder"]))
    splits = list(dict.fromkeys(data["split"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(encoders) + 2), 3.8))
    width = 0.8 / max(len(splits), 1)
    floor = R2_FLOOR if metric == "r2" else None
    for i, split in enumerate(splits):
        sub = data[data["split"] == split].set_index("encoder").reindex(encoders)
        x = np.arange(len(encoders)) + (i - (len(splits) - 1) / 2) * width
        ax.bar(x, sub["mean"], width, yerr=sub["std"], capsize=3, label=f"{split} split")
        if floor is not None:  # a failed encoder (R2 of -6) would squash every other bar: clip it and print its value
            for xi, value in zip(x, sub["mean"]):
                if value < floor:
                    ax.annotate(f"{value:.1f}", (xi, floor), xytext=(0, 3), textcoords="offset points",
                                ha="center", fontsize=7, bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    if floor is not None and data["mean"].min() < floor:
        ax.set_ylim(floor, 1.05)  # R2 never exceeds 1; error bars beyond the frame are cut
    ax.set_xticks(np.arange(len(encoders)))
    ax.set_xticklabels(encoders, rotation=20, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(f"{task_summary['task'].iloc[0]} ({probe} probe)")
    ax.axhline(0, color="0.3", linewidth=0.6)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def plot_task_map(summary, task: str, out_dir: Path) -> Path | None:
    """Map of out-of-fold residuals (regression) or correct/wrong (classification) of the task's best encoder."""
    import pandas as pd

    from geoembed.maps import plot_world

    rows = summary[(summary["task"] == task) & (summary["metric"] == summary["kind"].map(PRIMARY_METRIC))]
    if rows.empty:
        return None
    first_split, first_probe = rows["split"].iloc[0], rows["probe"].iloc[0]
    rows = rows[(rows["split"] == first_split) & (rows["probe"] == first_probe)]
    best = rows.sort_values("mean", ascending=False).iloc[0]
    path = out_dir / "predictions" / f"{task}__{best['encoder']}.parquet"
    if not path.is_file():
        return None
    pred = pd.read_parquet(path)
    latlon = pred[["lat", "lon"]].to_numpy()
    out = out_dir / "maps" / f"{task}.png"
    title = f"{task}: {best['encoder']}, {first_probe} probe, out-of-fold ({first_split} split)"
    if best["kind"] == "classification":
        correct = (pred["y_true"].astype(str) == pred["y_pred"].astype(str)).to_numpy()
        plot_world(latlon, np.where(correct, 0, 1), out, title=title, categories=["correct", "wrong"],
                   cmap="RdYlGn_r")  # two categories: the colormap's ends, green and red
    else:
        residual = (pred["y_pred"] - pred["y_true"]).to_numpy()
        limit = float(np.quantile(np.abs(residual), 0.95)) or 1.0
        plot_world(latlon, residual, out, title=title, label="prediction - truth", cmap="RdBu_r", vmin=-limit,
                   vmax=limit)
    return out
