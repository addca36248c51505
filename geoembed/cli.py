"""The ``geoembed`` command line.

Each subcommand lives in its own module under :mod:`geoembed.commands` and defines
``add_parser(subparsers) -> argparse.ArgumentParser`` whose parser sets ``func=run`` via ``set_defaults``;
``run(args) -> int`` does the work. Modules keep heavy imports (torch, geopandas) inside ``run`` so that
``geoembed --help`` stays fast. Errors geoembed raises on purpose are printed as one clear line (exit code 2), never
as a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import Sequence

import geoembed
from geoembed import commands
from geoembed.errors import GeoembedError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoembed",
        description="Embeddings of places on Earth: encode coordinates, list plugins, run benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"geoembed {geoembed.__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 1
    from geoembed.atomic import cleanup_on_sigterm

    cleanup_on_sigterm()  # SIGTERM removes our temporaries and shuts worker pools down instead of orphaning them
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away (`geoembed plugins | head`) shows up here, not at exit
        return code
    except BrokenPipeError:  # stop quietly like other Unix tools; silence the final flush of the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (GeoembedError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        if args.debug:
            raise
        print(f"geoembed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
