"""``geoembed plugins``: every registered plugin of every kind, where it comes from, and whether it loads.

It is a report: broken plugins are listed with their error and the exit code stays 0.
"""

from __future__ import annotations

import argparse
import json
import types
import warnings
from typing import Any

from geoembed.errors import GeoembedError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plugins",
        help="list registered plugins and check that they load",
        description=(
            "List every registered plugin (image backbones, location encoders, concept banks, text encoders, "
            "tasks, CLI commands...) with its origin (builtin, runtime or third-party), distribution and entry point, importing "
            "each one to check that it loads. Broken plugins are reported, not fatal."
        ),
    )
    parser.add_argument("--kind", help="only this kind, e.g. location_encoder or geoembed.location_encoders")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from geoembed.errors import PluginWarning
    from geoembed.registry import REGISTRIES, refresh_plugins

    refresh_plugins()  # report what is installed now, and show discovery warnings again
    registries = _select(list(REGISTRIES.values()), args.kind)
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        for registry in registries:
            rows.extend(_describe(registry, spec) for spec in registry.specs())
    notes = []
    for w in caught:  # plugin warnings become part of the report; anything else is passed on untouched
        if issubclass(w.category, PluginWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    if args.json:
        report = {"kinds": [r.group for r in registries], "plugins": rows, "warnings": notes}
        print(json.dumps(report, indent=2))
    else:
        print(_format(rows, notes, [r.kind for r in registries]))
    return 0


def _select(registries: list, kind: str | None) -> list:
    if kind is None:
        return registries
    wanted = _normalize_kind(kind)
    chosen = [r for r in registries if wanted in (_normalize_kind(r.kind), _normalize_kind(r.group))]
    if not chosen:
        known = ", ".join(r.kind.replace(" ", "_") for r in registries)
        raise GeoembedError(f"Unknown plugin kind {kind!r}; the kinds are {known}.")
    return chosen


def _normalize_kind(text: str) -> str:
    """``"Location encoders"``, ``"location-encoder"`` and ``"geoembed.location_encoders"`` all become one key."""
    text = text.strip().lower().removeprefix("geoembed.")
    return text.replace("-", "_").replace(" ", "_").rstrip("s")


def _describe(registry, spec) -> dict[str, Any]:
    """One row of the report; loading the plugin is the check."""
    from geoembed.errors import PluginLoadError

    row: dict[str, Any] = {
        "kind": registry.kind,
        "group": registry.group,
        "name": spec.name,
        "origin": spec.origin,
        "distribution": spec.distribution,
        "version": _version(spec.distribution),
        "target": spec.target,
        "status": "ok",
        "error": None,
    }
    try:
        factory = spec.load()
        if registry.group == "geoembed.commands":  # a command must also be able to set up its arguments
            _check_arguments(factory)
    except PluginLoadError as exc:
        row.update(status="broken", error=str(exc))
    else:
        if row["target"] is None:  # registered at run time: show where its factory is defined
            if isinstance(factory, types.ModuleType):
                row["target"] = factory.__name__
            else:
                row["target"] = (f"{getattr(factory, '__module__', '?')}:"
                                 f"{getattr(factory, '__qualname__', type(factory).__qualname__)}")
    return row


def _check_arguments(command) -> None:
    """Set the command's arguments up on a throwaway parser, as ``geoembed --help`` would."""
    from geoembed.errors import PluginLoadError

    try:
        command.add_arguments(argparse.ArgumentParser(prog=f"geoembed {command.name}", add_help=False))
    except Exception as exc:  # somebody else's code
        raise PluginLoadError(f"command plugin {command.name!r} failed to set up its arguments: "
                              f"{type(exc).__name__}: {exc}") from exc


def _version(distribution: str | None) -> str | None:
    if distribution is None:
        return None
    import importlib.metadata as importlib_metadata

    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def _format(rows: list[dict[str, Any]], notes: list[str], kinds: list[str]) -> str:
    header = ("KIND", "NAME", "ORIGIN", "DISTRIBUTION", "TARGET", "STATUS")
    table = [
        (
            r["kind"],
            r["name"],
            r["origin"],
            " ".join(x for x in (r["distribution"], r["version"]) if x) or "-",
            r["target"] or "-",
            r["status"].upper() if r["status"] != "ok" else "ok",
        )
        for r in rows
    ]
    lines = []
    if table:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *table)]
        for cells in (header, *table):
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())

    broken = [r for r in rows if r["status"] != "ok"]
    if broken:
        lines += ["", "broken plugins (fix or uninstall their distribution):"]
        lines += [f"  {r['kind']} {r['name']!r}: {r['error']}" for r in broken]
    if notes:
        lines += ["", "warnings:"] + [f"  {note}" for note in notes]

    empty = [k for k in kinds if not any(r["kind"] == k for r in rows)]
    summary = f"{len(rows)} plugin{'s' if len(rows) != 1 else ''}"
    summary += f", {len(broken)} broken." if broken else (", all load." if rows else ".")
    if empty:
        summary += f" None registered for: {', '.join(empty)}."
    lines += ["", summary] if lines else [summary]
    return "\n".join(lines)
