"""``geoembed benchmark``: location encoders as features for real prediction tasks, with spatial cross-validation."""

from __future__ import annotations

import argparse

from geoembed.commands._args import degrees_in, device, jobs, positive_int, seed


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
    parser.add_argument("--tasks", nargs="+", default=["*"], metavar="NAME",
                        help="task names or wildcard patterns (default: all; see --list)")
    parser.add_argument("--encoders", nargs="+", metavar="NAME",
                        help="location encoders or wildcard patterns, e.g. 'torchspatial-*' (default: geoclip "
                             "geoclip-random sphere_harmonics rff xyz latlon)")
    parser.add_argument("--probes", nargs="+", metavar="PROBE",
                        help="linear, knn and/or mlp (default: all three; --quick: linear)")
    parser.add_argument("--splits", nargs="+", metavar="SPLIT", default=["spatial", "random"],
                        help="spatial, random and/or holdout (default: spatial random)")
    parser.add_argument("--folds", type=_at_least_two, help="folds per split (default 5; --quick: 3)")
    parser.add_argument("--block-size", type=degrees_in(0, 180), metavar="DEG",
                        help="spatial CV block side in degrees, in (0, 180], for every task (default: each task's own)")
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

    from geoembed.commands._args import check_device
    from geoembed.downstream.benchmark import DEFAULT_ENCODERS, resolve_config, run_benchmark
    from geoembed.downstream.report import R2_FLOOR, headline_table, leaderboard, summarize, text_table

    if args.list:
        return _list_tasks(args.tasks)
    if args.output is not None and os.path.exists(args.output) and not os.path.isdir(args.output):
        print(f"geoembed benchmark: error: --output {args.output} is an existing file; --output names a folder "
              f"(created if missing).", file=sys.stderr)
        return 2
    if args.device is not None:
        check_device(args.device)
    options = dict(tasks=args.tasks, encoders=args.encoders or DEFAULT_ENCODERS, probes=args.probes,
                   splits=args.splits, n_splits=args.folds, seeds=args.seeds, max_rows=args.max_rows,
                   quick=args.quick, device=args.device)
    try:
        resolve_config(**options)  # check every name and option before any work starts
    except ValueError as exc:
        print(f"geoembed benchmark: error: {exc}", file=sys.stderr)
        return 2
    results = run_benchmark(**options, output=args.output, resume=not args.no_resume,
                            progress=not args.no_progress, n_jobs=args.jobs, block_size_deg=args.block_size)
    summary = summarize(results)
    table = headline_table(summary)
    print(table.attrs.get("caption", ""))
    print(text_table(table))
    board = leaderboard(summary)
    if len(board) > 1:
        board.index = [f"{encoder} / {probe}" for encoder, probe in board.index]
        board.index.name = "encoder / probe"
        print(f"\nmean over tasks (R2 floored at {R2_FLOOR:g}); leakage gap = random minus spatial")
        print(text_table(board))
    if args.output:
        print(f"\nreport: {args.output}/report.md (results.csv, summary.csv, results.json, charts/, maps/)")
    return 0


def _list_tasks(patterns: list[str]) -> int:
    import pandas as pd

    from geoembed.downstream.report import text_table
    from geoembed.downstream.tasks import list_tasks, load_task

    names = sorted({n for p in patterns for n in list_tasks(p)})
    rows = {}
    for name in names:
        info = load_task(name).summary()
        rows[name] = {k: info[k] or "-" for k in ("kind", "rows", "geometry", "region", "target", "target_transform")}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "task"
    print(text_table(frame))
    return 0
