"""geoembed's one disk cache: arrays computed once (embeddings of points, of galleries, of texts) and reused.

Every entry is two files under :func:`geoembed.cache_dir`: ``<name>.npy`` (the array) and ``<name>.json``, its
manifest: the sha256 of the ``.npy`` file (which covers the array's bytes, dtype and shape) and the full key the
entry answers for (a sha256 of everything that determines the array: coordinates or texts, encoder identity,
options). On every read both are checked, and the shape and dtype the caller expects: an entry that was damaged,
edited (NaN, zeros, another dtype) or copied from another key is not used, a :class:`CacheWarning` says so, and the
caller recomputes and rewrites it. Both files are written atomically, the array first.

>>> store = DiskCache("embeddings")                                         # doctest: +SKIP
>>> key = cache_key("encoder-identity", latlon)                             # doctest: +SKIP
>>> store.load(key, shape=(len(latlon), 512), dtype="float32")            # None on a miss  # doctest: +SKIP
>>> store.save(key, embeddings)                                             # doctest: +SKIP

Delete the folder to empty the cache; set ``GEOEMBED_CACHE_DIR`` to move it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from geoembed.atomic import atomic_write
from geoembed.errors import CacheWarning

FORMAT = "2"
_LABEL_CHARS = 64  # a readable label at the start of a file name, cut short: the key keeps names unique
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def cache_key(*parts: Any) -> str:
    """sha256 (hex) of ``parts``: strings, bytes, numbers, booleans, None or numpy arrays (dtype, shape and bytes).

    Each part is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")`` differ.
    """
    digest = hashlib.sha256(f"geoembed-cache|{FORMAT}|".encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            blob = f"{array.dtype.str}{array.shape}".encode() + array.tobytes()
        elif isinstance(part, bytes):
            blob = part
        elif part is None or isinstance(part, (str, bool, int, float)):
            blob = repr(part).encode()
        else:
            raise TypeError(f"cache_key parts must be strings, bytes, numbers or arrays, got {type(part).__name__}.")
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    return digest.hexdigest()


def entry_name(key: str, label: str | None = None) -> str:
    """The file stem of an entry: ``<label>-<key[:32]>`` (label made file-safe and cut to 64 characters) or the key."""
    if not label:
        return key
    safe = _UNSAFE.sub("_", str(label)).lstrip(".")[:_LABEL_CHARS] or "entry"
    return f"{safe}-{key[:32]}"


class DiskCache:
    """A folder of checksummed array entries under :func:`geoembed.cache_dir` (see the module docs).

    Args:
        folder: sub-folder of the cache dir (``"embeddings"``, ``"galleries"``, ``"concept_embeddings"``).
        shard: spread entries over 256 sub-folders named by the key's first two hex digits (for caches of many
            entries).
    """

    def __init__(self, folder: str, *, shard: bool = False):
        self.folder = folder
        self.shard = shard

    @property
    def directory(self) -> Path:
        from geoembed.weights import cache_dir

        return cache_dir() / self.folder

    def path(self, key: str, label: str | None = None) -> Path:
        """Where the array of ``key`` is (or would be) stored."""
        base = self.directory / key[:2] if self.shard else self.directory
        return base / f"{entry_name(key, label)}.npy"

    def load(self, key: str, *, shape: Sequence[int | None] | None = None, dtype: Any = None,
             label: str | None = None, mmap: bool = False) -> np.ndarray | None:
        """The array stored for ``key``, or None when there is none or it fails a check (with a :class:`CacheWarning`).

        ``shape`` may hold None for a dimension the caller does not know; ``mmap=True`` returns a read-only memory
        map instead of reading the array into memory.
        """
        path = self.path(key, label)
        if not path.is_file():
            return None
        problem = self._problem(path, key, shape, dtype)
        if problem is None:
            try:
                return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError) as exc:
                problem = f"it cannot be read ({exc})"
        warnings.warn(f"Ignoring the cache entry {path}: {problem}. Recomputing it.", CacheWarning, stacklevel=3)
        return None

    def save(self, key: str, array: np.ndarray, *, label: str | None = None, info: dict | None = None) -> Path:
        """Store ``array`` for ``key`` (atomically); ``info`` adds readable facts to the manifest."""
        with self.writer(key, array.shape, array.dtype, label=label, info=info) as out:
            out[...] = array
        return self.path(key, label)

    @contextlib.contextmanager
    def writer(self, key: str, shape: Sequence[int], dtype: Any, *, label: str | None = None,
               info: dict | None = None) -> Iterator[np.ndarray]:
        """Yield a writable memory map of ``shape``/``dtype`` to fill (in chunks: it need not fit in memory); on
        success the entry and its manifest are put in place, on error nothing is."""
        from geoembed.weights import sha256_file

        path = self.path(key, label)
        with atomic_write(path) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape))
            yield out
            out.flush()
            del out
            sha = sha256_file(tmp)
        manifest = {"format": FORMAT, "key": key, "sha256": sha, "shape": list(shape), "dtype": np.dtype(dtype).str,
                    **(info or {})}
        with atomic_write(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))

    def _problem(self, path: Path, key: str, shape, dtype) -> str | None:
        """Why the entry at ``path`` cannot be trusted for ``key``, or None if it passes every check."""
        from geoembed.weights import sha256_file

        try:
            manifest = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "its manifest (.json) is missing"
        except (OSError, ValueError) as exc:
            return f"its manifest cannot be read ({exc})"
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            return "its manifest is not of this geoembed version"
        if manifest.get("key") != key:
            return "it was stored for other inputs (its key does not match)"
        expected_dtype = None if dtype is None else np.dtype(dtype).str
        if expected_dtype is not None and manifest.get("dtype") != expected_dtype:
            return f"it holds {_dtype_name(manifest.get('dtype'))} values, not {np.dtype(dtype).name}"
        stored = manifest.get("shape")
        if shape is not None and (not isinstance(stored, list) or len(stored) != len(shape)
                                  or any(s is not None and s != t for s, t in zip(shape, stored))):
            return f"its shape {stored} is not the expected {list(shape)}"
        try:
            if sha256_file(path) != manifest.get("sha256"):
                return "its contents do not match their checksum (damaged or edited)"
        except OSError as exc:
            return f"it cannot be read ({exc})"
        return None



def _dtype_name(text: Any) -> str:
    try:
        return np.dtype(text).name
    except TypeError:
        return repr(text)


__all__ = ["CacheWarning", "DiskCache", "cache_key", "entry_name", "FORMAT"]
