"""Place descriptions as training data for the concept-aware alignment: the two sides of each pair, cached.

A place-descriptions folder (built by ``plugins/geoembed_geoclip/scripts/build_place_descriptions.py``) holds
``places.parquet`` (one row per place: ``place_id``, ``lat``, ``lon``, ``description``, ``split`` and ground-truth
columns) and ``manifest.json`` (version, row count, sha256 of the parquet file, sources, held-out words).

For training, a description plays the role an image plays in the concept-aware paper:

- description side: the MiniLM (all-MiniLM-L6-v2) sentence embedding of the description,
  :func:`description_embeddings`, computed once and kept in geoembed's disk cache (``place_descriptions/``), keyed
  by the encoder's identity and the exact texts;
- location side: the pretrained GeoCLIP location embedding of ``[lat, lon]``, :func:`location_embeddings`, computed
  once through geoembed's embeddings cache (:func:`geoembed.downstream.cache.embed_points`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geoembed.cache import DiskCache, cache_key
from geoembed.errors import GeoembedError

PLACES_NAME = "places.parquet"
MANIFEST_NAME = "manifest.json"
REQUIRED_COLUMNS = ("place_id", "lat", "lon", "description", "split")
SPLITS = ("train", "val", "test")

_DESCRIPTION_CACHE = DiskCache("place_descriptions")
_CHUNK = 2048


def default_descriptions_dir() -> Path:
    """``<geoembed cache dir>/place_descriptions/v1`` (where the build script writes by default)."""
    from geoembed.weights import cache_dir

    return cache_dir() / "place_descriptions" / "v1"


def load_place_descriptions(folder: str | os.PathLike | None = None) -> tuple[Any, dict[str, Any]]:
    """``(places DataFrame, manifest dict)`` of a place-descriptions folder, with its columns and checksum checked."""
    import pandas as pd

    from geoembed.weights import sha256_file

    folder = Path(folder) if folder is not None else default_descriptions_dir()
    places_path, manifest_path = folder / PLACES_NAME, folder / MANIFEST_NAME
    if not places_path.is_file() or not manifest_path.is_file():
        raise GeoembedError(f"{folder} is not a place-descriptions folder: it needs {PLACES_NAME} and "
                            f"{MANIFEST_NAME} (build one with plugins/geoembed_geoclip/scripts/"
                            f"build_place_descriptions.py).")
    manifest = json.loads(manifest_path.read_text())
    expected = manifest.get("sha256") or manifest.get("places_sha256")
    if isinstance(expected, dict):  # {"places.parquet": sha256}
        expected = expected.get(PLACES_NAME)
    actual = sha256_file(places_path)
    if expected is not None and expected != actual:
        raise GeoembedError(f"{places_path} does not match its manifest (sha256 {actual[:12]}..., manifest says "
                            f"{str(expected)[:12]}...): the file was changed after the build; rebuild it.")
    manifest["places_sha256"] = actual
    places = pd.read_parquet(places_path)
    missing = [c for c in REQUIRED_COLUMNS if c not in places.columns]
    if missing:
        raise GeoembedError(f"{places_path} lacks the columns {missing}.")
    unknown = sorted(set(places["split"].unique()) - set(SPLITS))
    if unknown:
        raise GeoembedError(f"{places_path}: unknown split values {unknown}; expected {SPLITS}.")
    return places, manifest


#: Precisions of :func:`description_embeddings`. ``bfloat16`` runs MiniLM under CPU bfloat16 autocast: measured 2.6x
#: the float32 speed on a 2-core AVX512-BF16 CPU (186 vs 70 descriptions/s) with every vector within cosine 0.99996 of
#: float32's (1,024 descriptions); on CPUs without native bfloat16 it is slower than float32, so pass "float32" there.
TEXT_PRECISIONS = ("float32", "bfloat16")
#: How a description becomes one vector: ``whole`` embeds the description as one text; ``sentences`` embeds each of
#: its sentences (place, climate, land) and averages the unit vectors. A short concept text is far closer to the one
#: sentence that states it than to a 90-token description that mixes every aspect: scored against the descriptions of
#: the full build's 24,069 test places, the 43 ground-truth concepts reach a mean ROC AUC of 0.837 with sentence means
#: and 0.765 with whole descriptions (``validate_concept_model.py --description-ceiling``, docs/concept-aware.md).
POOLINGS = ("sentences", "whole")
_SENTENCE_BREAK = re.compile(r"(?<=\.)\s+(?=[^\W\d_])")  # ". " before a letter (not "2.5", not "1,060 mm.")


def split_sentences(description: str) -> list[str]:
    """The sentences of a place description (at ". " followed by a letter); the whole text if it has one."""
    pieces = [piece.strip() for piece in _SENTENCE_BREAK.split(str(description))]
    return [piece for piece in pieces if piece] or [str(description)]


def description_embeddings(texts: Sequence[str], *, encoder: Any = "minilm", pooling: str = "whole",
                           precision: str = "float32", progress: bool = True, cache: bool = True) -> np.ndarray:
    """``(N, 384)`` float32 unit MiniLM embeddings of ``texts``, computed in chunks and cached on disk.

    ``pooling="sentences"`` averages the unit embeddings of each text's sentences (:data:`POOLINGS`);
    ``precision="bfloat16"`` computes under CPU bfloat16 autocast (:data:`TEXT_PRECISIONS`). Texts are encoded
    shortest first (batches of similar length pad less). The cache key covers the encoder's identity (its weights'
    sha256), the pooling, the precision and every text, so a change to any of them misses the cache; entries are
    checksummed (:mod:`geoembed.cache`).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if precision not in TEXT_PRECISIONS:
        raise ValueError(f"precision must be one of {TEXT_PRECISIONS}, got {precision!r}.")
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("texts is empty; give at least one description.")
    if pooling == "whole":
        return _embed_texts(texts, encoder, precision, progress=progress, cache=cache)
    sentences = [split_sentences(text) for text in texts]
    owners = np.repeat(np.arange(len(texts)), [len(parts) for parts in sentences])
    vectors = _embed_texts([part for parts in sentences for part in parts], encoder, precision, progress=progress,
                           cache=cache)
    pooled = np.zeros((len(texts), vectors.shape[1]), dtype=np.float64)
    np.add.at(pooled, owners, vectors)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled.astype(np.float32)


def _embed_texts(texts: list[str], encoder: Any, precision: str, *, progress: bool, cache: bool) -> np.ndarray:
    """Unit vectors of ``texts`` from ``encoder`` (one per text), through the disk cache."""
    import contextlib

    import torch

    from geoembed.concepts.text_encoders import get_text_encoder
    from geoembed.progress import progress_bar

    model = get_text_encoder(encoder)
    identity = model.identity if precision == "float32" else f"{model.identity}|{precision}"
    key = cache_key("place-description-embeddings", identity, json.dumps(texts, ensure_ascii=False))
    shape = (len(texts), int(model.embedding_dim))
    if cache:
        found = _DESCRIPTION_CACHE.load(key, shape=shape, dtype=np.float32)
        if found is not None:
            return found
    order = np.argsort([len(t) for t in texts], kind="stable")
    result = np.empty(shape, dtype=np.float32)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                else contextlib.nullcontext())
    with autocast:
        for start in progress_bar(range(0, len(texts), _CHUNK), desc="description embeddings", unit="chunk",
                                  enabled=progress):
            rows = order[start : start + _CHUNK]
            result[rows] = model.encode([texts[i] for i in rows], batch_size=64)
    if cache:
        _DESCRIPTION_CACHE.save(key, result, info={"encoder": identity[:500], "texts": len(texts)})
    return result


def location_embeddings(latlon: np.ndarray, *, encoder: Any = "geoclip", progress: bool = True,
                        cache: bool = True) -> np.ndarray:
    """``(N, D)`` float32 raw outputs of a (frozen, pretrained) location encoder, through the embeddings cache."""
    from geoembed.downstream.cache import embed_points
    from geoembed.location_encoders.encode import get_location_encoder

    model = get_location_encoder(encoder, device="cpu")
    return embed_points(np.asarray(latlon, dtype=np.float64), model, normalize=False, cache=cache,
                        progress=progress)


def training_rows(places: Any, *, max_rows: int | None = None, seed: int = 0) -> np.ndarray:
    """Row positions of the ``train`` split, in file order; ``max_rows`` keeps a seeded random subset of them."""
    rows = np.flatnonzero(places["split"].to_numpy() == "train")
    if len(rows) < 2:
        raise GeoembedError("The place descriptions have fewer than 2 rows in the 'train' split.")
    if max_rows is not None and max_rows < len(rows):
        if max_rows < 2:
            raise ValueError(f"max_rows must be >= 2, got {max_rows}.")
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
    return rows
