"""Train the concept-aware alignment on place descriptions (descriptions in the role of images) and ship it.

Pairs: the MiniLM embedding of a place's description (description side, 384-d) and the frozen, pretrained GeoCLIP
embedding of its coordinates (location side, 512-d), both computed once and cached
(:mod:`geoembed_geoclip.description_pairs`). The model is the plugin's :class:`ConceptAwareGeoCLIP`, trained by
:func:`geoembed_geoclip.training.train_geoclip`:

- basis: a MiniLM concept bank (``geography``, 447 concepts) centred, plus a learnable offset;
- description side: ``image_head="none"`` and the projection fixed at the identity
  (``freeze_image_projection``): descriptions and concepts already share MiniLM's space, so the location side
  learns to land in that very space, where any MiniLM text scores it;
- location side: GeoCLIP frozen + a linear projection into the same space; the bank's mean direction is projected
  out of both (``project_out_mean``) so any MiniLM text vector scores places by plain cosine;
- contrastive loss with the GPS queue, plus the Cauchy-Schwarz concept-space divergence.

Ablations use the same function: ``bank=None`` (no concept bottleneck: plain GeoCLIP with its image head from the
descriptions to GeoCLIP's space), ``divergence_weight=0``, ``bank="generic"``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geoembed_geoclip.training_config import TrainConfig

#: Options of the description training (documented in docs/concept-aware.md): those of the shipped weights. The
#: projections start from scratch (identity / random), hence a larger learning rate than GeoCLIP's fine-tuning 3e-5;
#: a queue of 1024 and 4 epochs keep one run within minutes on a 2-core machine. ``alignment_weight`` is a term of
#: our own added to the paper's two losses (0 here: the paper's losses; 5 in the full-build recipe measured in
#: docs/concept-aware.md).
DESCRIPTION_DEFAULTS: dict[str, Any] = dict(
    train_location="none", gps_noise_m=0.0, queue_noise_m=0.0, lr=2e-3, weight_decay=1e-6, lr_gamma=0.87,
    batch_size=512, queue_size=1024, epochs=4, divergence="cs", divergence_weight=0.1, alignment_weight=0.0,
    temperature=0.07, center_concepts=True, device="cpu", amp=False,
)


@dataclass
class DescriptionData:
    """The training pairs and what they came from."""

    rows: np.ndarray  # positions in places.parquet
    latlon: np.ndarray  # (N, 2)
    descriptions: np.ndarray  # (N, 384) MiniLM
    locations: np.ndarray  # (N, 512) GeoCLIP
    manifest: dict[str, Any]
    pooling: str  # how the descriptions were embedded (description_pairs.POOLINGS)
    text_precision: str  # MiniLM precision (description_pairs.TEXT_PRECISIONS)


def source_ids(manifest: dict[str, Any]) -> tuple[str, ...]:
    """Provenance source ids from a place-descriptions manifest (``sources`` as a mapping, ids or records)."""
    sources = manifest.get("sources", ())
    if isinstance(sources, dict):
        ids = list(sources)
    else:
        ids = [s if isinstance(s, str) else (s.get("id") or s.get("name")) for s in sources]
    return tuple(sorted({str(i) for i in ids if i}))


def prepare_data(folder: str | os.PathLike | None, *, max_rows: int | None = None, seed: int = 0,
                 pooling: str = "whole", text_precision: str = "float32",
                 progress: bool = True) -> DescriptionData:
    """Training pairs of a place-descriptions folder (``train`` split; cached embeddings on both sides).

    ``pooling`` and ``text_precision`` say how the description side is embedded (see
    :func:`geoembed_geoclip.description_pairs.description_embeddings`)."""
    from geoembed_geoclip.description_pairs import (
        description_embeddings,
        load_place_descriptions,
        location_embeddings,
        training_rows,
    )

    places, manifest = load_place_descriptions(folder)
    rows = training_rows(places, max_rows=max_rows, seed=seed)
    subset = places.iloc[rows]
    latlon = subset[["lat", "lon"]].to_numpy(np.float64)
    descriptions = description_embeddings(subset["description"].tolist(), pooling=pooling, precision=text_precision,
                                          progress=progress)
    locations = location_embeddings(latlon, progress=progress)
    return DescriptionData(rows, latlon, descriptions, locations, manifest, pooling, text_precision)


def description_config(bank: str | None = "geography", **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of description training for ``bank`` (None: the no-bottleneck ablation)."""
    options = {**DESCRIPTION_DEFAULTS, **overrides}
    if bank is None:
        options.update(concepts=None, image_head="mlp", project_out_mean=False, freeze_image_projection=False)
    else:
        options.update(concepts=bank, image_head="none", project_out_mean=True, freeze_image_projection=True)
    return TrainConfig(**options)


def train_on_descriptions(data: DescriptionData, run_dir: str | os.PathLike, config: TrainConfig, *,
                          progress: bool = True):
    """Train ``config`` on ``data`` into ``run_dir`` (a new folder); returns the :class:`TrainResult`."""
    from geoembed_geoclip.training import train_geoclip

    result = train_geoclip(data.descriptions, data.latlon, run_dir, config, location_features=data.locations,
                           progress=progress)
    info = {"data_version": data.manifest.get("version"), "places_sha256": data.manifest.get("places_sha256"),
            "train_rows": int(len(data.rows)), "training_sources": list(source_ids(data.manifest)),
            "heldout_words": data.manifest.get("heldout_words"), "description_pooling": data.pooling,
            "description_precision": data.text_precision}
    from geoembed.atomic import atomic_write

    with atomic_write(Path(run_dir) / "data.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
    return result


def ship(run_dir: str | os.PathLike, bank: str, command: Sequence[str], *,
         folder: str | os.PathLike | None = None) -> Path:
    """Export a trained run's concept module into the package (``data/concept_minilm/<bank>.safetensors``) with its
    weights record (``<bank>.json``: sha256, sources, training command)."""
    from geoembed.atomic import atomic_write
    from geoembed.weights import sha256_file

    from geoembed_geoclip.concept_projection import DATA_DIR, export_concept_weights
    from geoembed_geoclip.training_io import load_model, read_run_config
    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16

    run_dir = Path(run_dir)
    config, _ = read_run_config(run_dir)
    model = load_model(run_dir)
    data = json.loads((run_dir / "data.json").read_text())
    history = json.loads((run_dir / "metrics.json").read_text())
    out = Path(folder or DATA_DIR) / f"{bank}.safetensors"
    extra = {"training_sources": data["training_sources"], "location_weights": LOCATION_ENCODER_MP16.name,
             "data_version": data["data_version"], "places_sha256": data["places_sha256"]}
    export_concept_weights(model, out, config=config.to_dict(), extra=extra)
    command_line = " ".join(command)
    record = {
        "name": f"geoclip-concept.minilm-{bank}",
        "filename": out.name,
        "sha256": sha256_file(out),
        "source": (f"trained by the geoembed developers on place descriptions {data['data_version']} "
                   f"(places.parquet sha256 {str(data['places_sha256'])[:16]}...), {data['train_rows']} training "
                   f"places; command: {command_line}"),
        "license": "MIT",
        "citation": "arXiv:2509.01910 (concept-aware alignment); arXiv:2309.16020 (GeoCLIP)",
        "package_file": ["geoembed-geoclip", f"geoembed_geoclip/data/concept_minilm/{out.name}"],
        "description": (f"Concept module (MiniLM {bank} bank, centred basis + learned offset, location projection "
                        f"512->384) of the concept-aware GeoCLIP trained on place descriptions."),
    }
    info = {"record": record, "training_sources": data["training_sources"], "training_command": command_line,
            "data": data, "config": config.to_dict(), "final_epoch": history[-1] if history else None}
    with atomic_write(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
    return out
