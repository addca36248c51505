"""The ``geoembed`` command line.

Each of the core's subcommands lives in its own module under :mod:`geoembed.commands` and defines
``add_parser(subparsers) -> argparse.ArgumentParser`` whose parser sets ``func=run`` via ``set_defaults``;
``run(args) -> int`` does the work. Modules keep heavy imports (torch, geopandas) inside ``run`` so that
``geoembed --help`` stays fast. Errors geoembed raises on purpose are printed as one clear line (exit code 2), never
as a traceback; ``--debug`` shows the traceback.

Plugins add subcommands through the ``geoembed.commands`` entry-point group (``geoembed train`` and
``geoembed evaluate`` come from the GeoCLIP plugin this way). An entry point names a module or object with:

- ``name``: the subcommand (the entry point's name);
- ``help``: one line for ``geoembed --help``; optional ``description`` and ``epilog`` for ``geoembed NAME --help``;
- ``add_arguments(parser)``: adds the subcommand's arguments to its :class:`argparse.ArgumentParser`;
- ``run(args) -> int``: does the work and returns the exit code.

A plugin's command is imported only when it is run or when the full list is shown (``geoembed --help``). A command
that fails to import, lacks one of the above, or whose name is taken by a core command is reported in one line when
it is used; every other command keeps working.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings
from typing import Any, Sequence

import geoembed
from geoembed import commands
from geoembed.errors import GeoembedError, PluginLoadError, PluginWarning


def core_command_modules() -> list[str]:
    """Names of the core's command modules (``encode``, ``plugins``...), in the order of ``geoembed --help``."""
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given ``argv``, plugin commands other than the one it runs are not imported (fast start)."""
    parser = argparse.ArgumentParser(
        prog="geoembed",
        description="Embeddings of places on Earth: encode coordinates, list plugins, run benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"geoembed {geoembed.__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    taken = set()
    for name in core_command_modules():
        module = importlib.import_module(f"{commands.__name__}.{name}")
        sub = module.add_parser(subparsers)
        taken.add(sub.prog.rsplit(" ", 1)[-1])
    wanted = _requested_command(argv)
    parser.broken_commands = {}  # name -> why it cannot run; main() says so instead of parsing its arguments
    for name, loaded in _plugin_commands(taken, wanted):
        _add_plugin_command(subparsers, name, loaded, parser.broken_commands)
    return parser


def _requested_command(argv: Sequence[str] | None) -> str | None:
    """The subcommand named in ``argv`` (None: unknown yet, e.g. ``geoembed --help``, so every command is loaded)."""
    if argv is None:
        return None
    for token in argv:
        if token in ("-h", "--help"):
            return None
        if not token.startswith("-"):
            return token
    return None


def _plugin_commands(taken: set[str], wanted: str | None) -> list[tuple[str, Any]]:
    """``(name, command or PluginLoadError or None)`` for each plugin command; None: left unloaded (not asked for)."""
    from geoembed.registry import commands as registry

    found = []
    with warnings.catch_warnings():  # discovery warnings (two plugins, one name) show in `geoembed plugins`
        warnings.simplefilter("ignore", PluginWarning)
        specs = registry.specs()
    for spec in specs:
        if spec.name in taken:
            error = PluginLoadError(
                f"command plugin {spec.name!r} from distribution {spec.distribution!r} ({spec.target}) is ignored: "
                f"geoembed's own {spec.name!r} command has that name. The plugin must pick another one.")
            warnings.warn(str(error), PluginWarning, stacklevel=3)
            continue
        if wanted is not None and spec.name != wanted:
            found.append((spec.name, None))
            continue
        try:
            command = spec.load()
        except PluginLoadError as exc:
            found.append((spec.name, exc))
            continue
        found.append((spec.name, command))
    return found


def _add_plugin_command(subparsers, name: str, command: Any, broken: dict[str, Exception]) -> None:
    if command is None:  # another command runs: this one only needs a name (its help is never shown)
        subparsers.add_parser(name, help="(a plugin command)", add_help=False)
        return
    if isinstance(command, Exception):
        _add_broken_command(subparsers, name, command, broken)
        return
    arguments = argparse.ArgumentParser(prog=f"geoembed {name}", add_help=False)
    try:  # on a parser of its own first: somebody else's code must not leave a half-built subcommand behind
        command.add_arguments(arguments)
    except Exception as exc:  # one broken command must not take the whole CLI down
        _add_broken_command(subparsers, name, PluginLoadError(
            f"command plugin {name!r} failed to set up its arguments: {type(exc).__name__}: {exc}. Reinstall or "
            f"upgrade the distribution that provides it, or uninstall it if you do not use it."), broken)
        return
    sub = subparsers.add_parser(
        name, parents=[arguments], help=command.help,
        description=getattr(command, "description", None) or command.help, epilog=getattr(command, "epilog", None),
    )
    sub.set_defaults(func=command.run)


def _add_broken_command(subparsers, name: str, error: Exception, broken: dict[str, Exception]) -> None:
    """Listed by ``geoembed --help`` as broken; running it prints why (see :func:`main`)."""
    subparsers.add_parser(name, help="BROKEN plugin command: run it to see why", add_help=False)
    broken[name] = error


def _unknown_command_hint(argv: Sequence[str]) -> str | None:
    """For ``geoembed train`` without the plugin that provides it: what to install."""
    from geoembed.registry import commands as registry, missing_plugin_hint

    name = _requested_command(argv)
    if name is None or name.replace("-", "_") in core_command_modules():
        return None
    with warnings.catch_warnings():  # discovery warnings are for `geoembed plugins` to report
        warnings.simplefilter("ignore", PluginWarning)
        if name in registry.names():
            return None
    hint = missing_plugin_hint(registry.group, name, "the command")
    return None if hint is None else f"geoembed: error: {hint}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    hint = _unknown_command_hint(argv)
    if hint is not None:
        print(hint, file=sys.stderr)
        return 2
    parser = build_parser(argv)
    wanted = _requested_command(argv)
    if wanted in parser.broken_commands:  # its arguments are unknown: say why it cannot run, whatever they are
        if "--debug" in argv[: argv.index(wanted)]:
            raise parser.broken_commands[wanted]
        print(f"geoembed {wanted}: error: {parser.broken_commands[wanted]}", file=sys.stderr)
        return 2
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
