"""``python -m geoembed_torchspatial fetch``: put the published checkpoints into geoembed's cache.

    python -m geoembed_torchspatial fetch                     # download from GitHub (checksums verified)
    python -m geoembed_torchspatial fetch --from DIR          # copy from a folder holding the original file names
    python -m geoembed_torchspatial fetch 'torchspatial-sphere2vec-*'

Every file is verified against its sha256 before it lands in the cache (atomically); afterwards
``create_location_encoder("torchspatial-...")`` needs no ``weights_path=`` and no network.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from tqdm.auto import tqdm

    from geoembed.errors import GeoembedError
    from geoembed.weights import cached_weights_path, resolve_weights, sha256_file

    from geoembed_torchspatial.checkpoints import RECORDS

    parser = argparse.ArgumentParser(prog="python -m geoembed_torchspatial", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="put published checkpoints into geoembed's cache")
    fetch.add_argument("patterns", nargs="*", default=["torchspatial-*"], metavar="NAME",
                       help="encoder names or wildcards (default: all 17)")
    fetch.add_argument("--from", dest="source", type=Path, metavar="DIR",
                       help="copy from this folder (original file names) instead of downloading")
    args = parser.parse_args(argv)

    names = sorted({n for p in args.patterns for n in RECORDS if fnmatch.fnmatchcase(n, p)})
    if not names:
        parser.error(f"no TorchSpatial encoder matches {args.patterns}; the names are {sorted(RECORDS)}")
    if args.source is not None and not args.source.is_dir():
        parser.error(f"--from {args.source}: not a folder")
    failures = []
    for name in tqdm(names, desc="TorchSpatial checkpoints", unit="file"):
        record = RECORDS[name]
        target = cached_weights_path(record)
        try:
            if args.source is None:
                resolve_weights(record)  # cache, else download (verified)
                continue
            source = args.source / record.filename
            if not source.is_file():
                raise GeoembedError(f"{source} does not exist")
            if sha256_file(source) != record.sha256:
                raise GeoembedError(f"{source} does not have the published sha256 {record.sha256}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{record.filename}.", suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except Exception as exc:  # report every file, then fail
            failures.append(f"{name}: {exc}")
    for line in failures:
        print(f"error: {line}", file=sys.stderr)
    print(f"{len(names) - len(failures)} of {len(names)} checkpoints in {cached_weights_path(RECORDS[names[0]]).parents[1]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
