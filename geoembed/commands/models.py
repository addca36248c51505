"""``geoembed models``: every location encoder's model card, and whether its weights are on this machine now.

Cards are read from the registered factories (``factory.card``, see :mod:`geoembed.model_card`): listing imports the
plugins' modules but builds no model and reads no weights file.
"""

from __future__ import annotations

import argparse
import json
import textwrap
import warnings
from typing import Any


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "models",
        help="list location encoders with their model cards and whether their weights are here",
        description=(
            "For each location encoder: embedding width, the input convention of the original implementation "
            "(geoembed itself always takes [lat, lon] degrees), training data, licence, citation, where the weights "
            "come from, and whether they are on this machine now (cached, shipped in an installed package, or "
            "needing a download). Nothing is built or downloaded."
        ),
        epilog="examples: geoembed models ;  geoembed models 'torchspatial-*' --short ;  geoembed models --pretrained "
               "--json",
    )
    parser.add_argument("patterns", nargs="*", default=["*"], metavar="PATTERN",
                        help="names or shell wildcards (default: all)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pretrained", dest="pretrained", action="store_const", const=True,
                       help="only encoders with pretrained weights")
    which.add_argument("--untrained", dest="pretrained", action="store_const", const=False,
                       help="only encoders without pretrained weights (baselines, random weights)")
    parser.add_argument("--short", action="store_true", help="one line per encoder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run, pretrained=None)
    return parser


def run(args: argparse.Namespace) -> int:
    from geoembed.errors import GeoembedError, PluginLoadError, PluginWarning
    from geoembed.model_card import card_of
    from geoembed.registry import location_encoders, refresh_plugins

    refresh_plugins()
    names = sorted({n for p in args.patterns for n in location_encoders.names(p)})
    if not names:
        raise GeoembedError(
            f"No location encoder matches {' '.join(args.patterns)!r}; run `geoembed models` to see them all."
        )
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # a broken plugin is reported in its own row below
        for name in names:
            spec = location_encoders.spec(name)
            row: dict[str, Any] = {"name": name, "distribution": spec.distribution, "error": None, "card": None}
            try:
                card = card_of(spec.load())
            except PluginLoadError as exc:
                row["error"] = str(exc)
            else:
                if card is not None:
                    row["card"] = card.to_dict()
                    row["weights_status"] = card.weights_status()
            rows.append(row)
    if args.pretrained is not None:
        rows = [r for r in rows if r["card"] is not None and r["card"]["pretrained"] == args.pretrained]

    if args.json:
        print(json.dumps({"location_encoders": rows}, indent=2, default=str))
    elif args.short:
        print(_table(rows))
    else:
        print(_blocks(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("NAME", "DIM", "WEIGHTS", "LICENCE", "FAMILY")
    table = []
    for r in rows:
        card = r["card"]
        if card is None:
            table.append((r["name"], "-", "broken plugin" if r["error"] else "no card", "-", "-"))
        else:
            table.append((r["name"], str(card["embedding_dim"] or "varies"), r["weights_status"], card["license"],
                          card["family"]))
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in (header, *table)]
    return "\n".join(lines + ["", _summary(rows)])


def _blocks(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        out.append(r["name"] + (f"  [{r['distribution']}]" if r["distribution"] else ""))
        card = r["card"]
        if r["error"]:
            out.append(_field("status", f"BROKEN: {r['error']}"))
        elif card is None:
            out.append(_field("card", "none (the factory carries no geoembed.model_card.ModelCard)"))
        else:
            out.append(_field("family", card["family"]))
            out.append(_field("embedding width", str(card["embedding_dim"] or "depends on options")))
            out.append(_field("original input", card["input_convention"]))
            out.append(_field("training data", card["training_data"]))
            out.append(_field("licence", card["license"]))
            out.append(_field("citation", card["citation"]))
            if card["pretrained"]:
                out.append(_field("weights from", card["weights_source"]))
            out.append(_field("weights here", r["weights_status"]))
            if card["notes"]:
                out.append(_field("notes", card["notes"]))
        out.append("")
    out.append("geoembed's input is always [lat, lon] degrees (validated by geoembed.encode_location); 'original input'"
               " is how the original implementation took coordinates.")
    out.append(_summary(rows))
    return "\n".join(out)


def _field(label: str, text: str) -> str:
    return textwrap.fill(text, width=118, initial_indent=f"  {label:<16}", subsequent_indent=" " * 18,
                         break_long_words=False, break_on_hyphens=False)


def _summary(rows: list[dict[str, Any]]) -> str:
    cards = [r for r in rows if r["card"] is not None]
    pretrained = [r for r in cards if r["card"]["pretrained"]]
    here = [r for r in pretrained if r["weights_status"] in ("cached", "shipped")]
    broken = [r for r in rows if r["error"]]
    text = (f"{len(rows)} location encoder{'s' if len(rows) != 1 else ''}: {len(pretrained)} pretrained "
            f"({len(here)} with weights on this machine), {len(cards) - len(pretrained)} without weights")
    if broken:
        text += f", {len(broken)} failing to load (see `geoembed plugins`)"
    no_card = len(rows) - len(cards) - len(broken)
    return text + (f", {no_card} without a card." if no_card else ".")
