"""``geoembed benchmark``: location encoders as features for real prediction tasks, with spatial cross-validation."""

from __future__ import annotations

import argparse

from geoembed.cli_args import degrees_in, device, jobs, positive_int, seed


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {text}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "benchmark",
        help="evaluate location encoders on the downstream tasks (spatial block CV beside random K-fold)",
        description=(
            "Embed each task's locations with each encoder, fit probes on the frozen embeddings and score them with "
            "spatial block cross-validation and random K-fold. Prints a table; with --output writes report.md, "
            "results.csv/json, charts and maps there, and resumes an interrupted run found there."
        ),
        epilog="examples: geoembed benchmark --quick --output bench/ ;  geoembed benchmark --tasks 'us_*' "
               "--encoders geoclip latlon --probes linear knn --seeds 0 1 2",
    )
    parser.add_argument("--tasks", nargs="+", metavar="NAME",
                        help="task names or wildcard patterns (default: the default suite; --full: all; see --list)")
    parser.add_argument("--full", action="store_true",
                        help="every registered task and every probe (linear, knn, mlp), not the default suite")
    parser.add_argument("--encoders", nargs="+", metavar="NAME",
                        help="location encoders or wildcard patterns, e.g. 'torchspatial-*' (default: geoclip "
                             "geoclip-random sphere_harmonics rff xyz latlon); the baselines idw and nn_mean run "
                             "beside them unless --no-baselines")
    parser.add_argument("--no-baselines", action="store_true",
                        help="leave out the interpolation baselines (idw, nn_mean)")
    parser.add_argument("--probes", nargs="+", metavar="PROBE",
                        help="linear, knn and/or mlp (default: linear knn; --full: all three; --quick: linear)")
    parser.add_argument("--protocol", choices=["default", "coordbench"], default="default",
                        help="coordbench: closed-form ridge (alphas 1e-4..1e6), kNN k=5, 10-degree blocks "
                             "(default: geoembed's protocol, see docs/benchmarks.md)")
    parser.add_argument("--splits", nargs="+", metavar="SPLIT", default=["spatial", "random"],
                        help="spatial, random and/or holdout (default: spatial random)")
    parser.add_argument("--folds", type=_at_least_two, help="folds per split (default 5; --quick: 3)")
    parser.add_argument("--block-size", type=degrees_in(0, 180), metavar="DEG",
                        help="spatial CV block side in degrees, in (0, 180], for every task (default: each task's own)")
    parser.add_argument("--block-sizes", nargs="+", type=degrees_in(0, 180), metavar="DEG",
                        help="block-size sweep: also run the spatial split at each of these sizes (degrees)")
    parser.add_argument("--block-sweep", action="store_true",
                        help="block-size sweep at 1 2 5 10 20 40 degrees (sizes leaving too few blocks are refused "
                             "and reported)")
    parser.add_argument("--buffer-km", type=float, default=0.0, metavar="KM",
                        help="drop training rows within KM great-circle km of any test row, per fold (default 0)")
    parser.add_argument("--include-leaky", action="store_true",
                        help="rank (task, encoder) pairs whose data share a source (left out by default)")
    parser.add_argument("--seeds", nargs="+", type=seed, default=[0], help="seeds, 0 to 2**32-1 (default: 0)")
    parser.add_argument("--max-rows", type=positive_int, help="subsample each task (--quick: 600)")
    parser.add_argument("--quick", action="store_true",
                        help="fast check: linear probe, 3 folds, at most 600 rows per task, 8 points per polygon")
    parser.add_argument("-o", "--output", metavar="DIR", help="folder for the report files (and resuming)")
    parser.add_argument("--no-resume", action="store_true", help="recompute cells already in --output")
    parser.add_argument("--jobs", type=jobs, default=-1, metavar="N",
                        help="parallel probe fits, at least 1 (default -1: one per CPU core)")
    parser.add_argument("--device", type=device, default=None,
                        help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from geoembed.cli_args import check_device
    from geoembed.downstream.benchmark import DEFAULT_ENCODERS, resolve_config, run_benchmark
    from geoembed.downstream.interpolation import DEFAULT_BASELINES
    from geoembed.downstream.protocol import DEFAULT_BLOCK_SWEEP
    from geoembed.downstream.report import R2_FLOOR, headline, headline_table, leaderboard, summarize, text_table

    if args.list:
        return _list_tasks(args.tasks or ["*"])
    if args.buffer_km < 0:
        print(f"geoembed benchmark: error: --buffer-km must be >= 0, got {args.buffer_km:g}.", file=sys.stderr)
        return 2
    if args.block_sweep and args.block_sizes:
        print("geoembed benchmark: error: --block-sweep and --block-sizes exclude each other; choose one.",
              file=sys.stderr)
        return 2
    block_sizes = list(DEFAULT_BLOCK_SWEEP) if args.block_sweep else args.block_sizes
    if args.output is not None and os.path.exists(args.output) and not os.path.isdir(args.output):
        print(f"geoembed benchmark: error: --output {args.output} is an existing file; --output names a folder "
              f"(created if missing).", file=sys.stderr)
        return 2
    if args.device is not None:
        check_device(args.device)
    options = dict(tasks=args.tasks, encoders=args.encoders or DEFAULT_ENCODERS, probes=args.probes,
                   splits=args.splits, n_splits=args.folds, seeds=args.seeds, max_rows=args.max_rows,
                   quick=args.quick, device=args.device, baselines=() if args.no_baselines else DEFAULT_BASELINES,
                   block_sizes=block_sizes, buffer_km=args.buffer_km, protocol=args.protocol, full=args.full,
                   include_leaky=args.include_leaky)
    try:
        resolve_config(**options)  # check every name and option before any work starts
    except ValueError as exc:
        print(f"geoembed benchmark: error: {exc}", file=sys.stderr)
        return 2
    results = run_benchmark(**options, output=args.output, resume=not args.no_resume,
                            progress=not args.no_progress, n_jobs=args.jobs, block_size_deg=args.block_size)
    summary = summarize(results)
    table = headline_table(headline(summary, include_leaky=args.include_leaky))
    print(table.attrs.get("caption", ""))
    print(text_table(table))
    board = leaderboard(summary, include_leaky=args.include_leaky)
    if len(board) > 1:
        board.index = [f"{encoder} / {probe}" for encoder, probe in board.index]
        board.index.name = "encoder / probe"
        print(f"\nmean over tasks (R2 floored at {R2_FLOOR:g}); leakage gap = random minus spatial; sorted by mean "
              f"rank (1 = best)")
        print(text_table(board))
    leaky = results.loc[results["leak_sources"] != "", ["task", "encoder", "leak_sources"]].drop_duplicates()
    if len(leaky):
        state = "included" if args.include_leaky else "left out of the tables above (--include-leaky to rank them)"
        print(f"\nleakage guard: {len(leaky)} (task, encoder) pair(s) share a data source, {state}: "
              + "; ".join(f"{t} / {e} ({s})" for t, e, s in leaky.itertuples(index=False)))
    if args.output:
        print(f"\nreport: {args.output}/report.md (results.csv, summary.csv, results.json, charts/, maps/)")
    return 0


def _list_tasks(patterns: list[str]) -> int:
    import pandas as pd

    from geoembed.downstream.report import text_table
    from geoembed.downstream.tasks import list_tasks, create_task

    names = sorted({n for p in patterns for n in list_tasks(p)})
    rows = {}
    for name in names:
        info = create_task(name).summary()
        rows[name] = {k: info[k] or "-" for k in ("kind", "rows", "geometry", "region", "target", "target_transform")}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "task"
    print(text_table(frame))
    return 0
