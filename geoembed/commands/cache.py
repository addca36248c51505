"""``geoembed cache``: what geoembed keeps on disk, per kind, and how to clear it (like ``hf cache`` / ``pip cache``)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from geoembed.errors import GeoembedError

# The folders geoembed writes under geoembed.cache_dir(), and what is in each.
KINDS = {
    "weights": "pretrained weights fetched by geoembed (verified by sha256; refetched or re-read from a package)",
    "embeddings": "location embeddings of benchmark tasks and LocationFeaturizer inputs (recomputed on demand)",
    "galleries": "embeddings of geo-localization GPS galleries (recomputed on demand)",
    "concept_embeddings": "text embeddings of concept banks (recomputed on demand)",
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "cache",
        help="show or clear geoembed's cache (weights, embeddings, galleries, concept embeddings)",
        description=(
            "Show the size of each kind of file geoembed keeps in its cache folder ($GEOEMBED_CACHE_DIR, else the "
            "platform's user cache), or clear it. Everything there is rebuilt or refetched when needed. CLIP and timm "
            "weights live in the Hugging Face cache instead (see `hf cache ls`)."
        ),
        epilog="examples: geoembed cache | geoembed cache --path | geoembed cache --clear embeddings --yes",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--path", action="store_true", help="print the cache folder and nothing else")
    action.add_argument("--clear", nargs="?", const="all", metavar="KIND",
                        help=f"delete the cache, or only one kind: {', '.join(KINDS)}")
    parser.add_argument("-y", "--yes", action="store_true", help="clear without asking")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from geoembed.weights import cache_dir

    root = cache_dir()
    if args.path:
        print(root)
        return 0
    if args.clear is not None:
        return _clear(root, args.clear, args.yes)
    sizes = usage(root)
    print(f"geoembed cache: {root}")
    width = max(len(k) for k in [*KINDS, *sizes])
    for kind, (n_bytes, n_files) in sizes.items():
        print(f"  {kind:<{width}}  {human_size(n_bytes):>9}  {n_files:>6} files  {KINDS.get(kind, 'other files')}")
    total = sum(b for b, _ in sizes.values())
    print(f"  {'total':<{width}}  {human_size(total):>9}")
    print("clear it with `geoembed cache --clear [KIND]`; CLIP/timm weights are in the Hugging Face cache "
          "(`hf cache ls`, `hf cache rm`)")
    return 0


def usage(root: Path) -> dict[str, tuple[int, int]]:
    """``{kind: (bytes, files)}`` for the known kinds (0 when absent) and any other folder or file found in ``root``."""
    out = {kind: _size(root / kind) for kind in KINDS}
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.name not in out:
                out[entry.name] = _size(entry)
    return out


def _size(path: Path) -> tuple[int, int]:
    if path.is_file():
        return path.stat().st_size, 1
    if not path.is_dir():
        return 0, 0
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - the loop returns


def _clear(root: Path, kind: str, yes: bool) -> int:
    sizes = usage(root)
    if kind == "all":
        targets = [root / k for k in sizes]
    elif kind in sizes:
        targets = [root / kind]
    else:
        raise GeoembedError(f"--clear {kind}: unknown kind; the kinds are {', '.join(sizes)} (or no KIND for all).")
    n_bytes = sum(sizes[t.name][0] for t in targets)
    n_files = sum(sizes[t.name][1] for t in targets)
    if n_files == 0:
        print(f"nothing to clear in {root}" + ("" if kind == "all" else f" ({kind})"))
        return 0
    what = "everything" if kind == "all" else kind
    if not yes:
        if not sys.stdin.isatty():
            raise GeoembedError(f"Clearing {what} ({human_size(n_bytes)}) in {root} needs confirmation: pass --yes.")
        answer = input(f"Delete {what} in {root}: {n_files} files, {human_size(n_bytes)}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print("nothing deleted")
            return 1
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    print(f"cleared {what}: {n_files} files, {human_size(n_bytes)} from {root}")
    return 0
