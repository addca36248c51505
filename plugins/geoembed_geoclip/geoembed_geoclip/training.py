"""Train GeoCLIP, or its concept-aware variant, from precomputed image features and their coordinates.

The image backbone is frozen in GeoCLIP, so its outputs can be computed once and stored as a ``.npy`` file of shape
``(N, F)`` or ``(N, P, F)`` (``P`` augmented views per image); training memory-maps it and reads one batch at a time.
What trains: GeoCLIP's image head (``Linear(F, F), ReLU, Linear(F, 512)``; the published head for 768-d CLIP ViT-L/14
features with ``image_head="mp16"``), the location encoder (pretrained GeoCLIP by default; ``train_location``
chooses all of it, only its output layers, or none), the temperature, and in the concept-aware variant the
alignment module (projections and basis offset).

Defaults are the GeoCLIP paper's: Adam, learning rate 3e-5, weight decay 1e-6, step decay x0.87 per epoch, batch 512,
a dynamic queue of 4096 GPS negatives, GPS noise 150 m (batch) and 1000 m (queue), temperature 0.07 (learnable).
The concept-aware loss adds ``divergence_weight`` times the Concept Space Divergence (:mod:`.losses`).

A run folder holds ``config.json`` (everything needed to rebuild the model), ``model.safetensors`` (the latest
weights), ``checkpoint.safetensors`` + ``checkpoint.json`` (optimizer, scheduler, queue and random state: ``resume``
continues exactly where it stopped), ``train_coordinates.npy`` (the default evaluation gallery) and
``metrics.json``/``metrics.csv`` (one row per epoch). Every file is written atomically.

The module is split in three: :mod:`.training_config` (options and model building), :mod:`.training_io` (the run
folder) and this one (the loop, evaluation); the names below are importable from here as before.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoembed.atomic import atomic_write
from geoembed.errors import GeoembedError

from geoembed_geoclip.concept_aware import ConceptAwareGeoCLIP
from geoembed_geoclip.evaluation import (
    RetrievalResult,
    as_coordinates,
    embed_gallery,
    evaluate_retrieval,
    load_features,
)
from geoembed_geoclip.losses import GPSQueue, concept_divergence, info_nce, jitter_coordinates
from geoembed_geoclip.training_config import (  # noqa: F401 - public names, importable from here as before
    IMAGE_HEADS,
    TRAIN_LOCATION,
    TrainConfig,
    _device,
    _Placeholder,
    build_model,
    load_bank,
)
from geoembed_geoclip.training_io import (  # noqa: F401 - public names, importable from here as before
    CHECKPOINT_NAME,
    CHECKPOINT_STATE_NAME,
    CONFIG_NAME,
    COORDINATES_NAME,
    MODEL_NAME,
    _load_checkpoint,
    _resumed_config,
    _save_checkpoint,
    _write_config,
    load_model,
    read_run_config,
)

@dataclass
class TrainResult:
    """The trained model, its run folder and the per-epoch metrics."""

    model: ConceptAwareGeoCLIP
    run_dir: Path
    history: list[dict[str, float]]


# -- training --------------------------------------------------------------------------------------------------------
def train_geoclip(
    features: Any,
    coordinates: Any,
    run_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    val_features: Any = None,
    val_coordinates: Any = None,
    resume: bool = False,
    progress: bool = True,
    location_features: Any = None,
    **options: Any,
) -> TrainResult:
    """Train (or, with ``resume=True``, continue training) and save everything in ``run_dir``.

    Args:
        features: ``(N, F)`` or ``(N, P, F)`` image features: an array or a ``.npy`` file (memory-mapped).
        coordinates: the images' ``[lat, lon]``: ``(N, 2)`` array, ``.npy`` or a points file.
        run_dir: output folder (created). An existing run there is refused unless ``resume``.
        config: a :class:`TrainConfig`; ``**options`` override its fields (``epochs=3, concepts=None``...).
        val_features, val_coordinates: a held-out split; if given, each epoch reports its retrieval accuracy over the
            training coordinates as gallery.
        **options: also ``concepts=``: a registered bank name or a saved bank's folder, None (plain GeoCLIP), or a
            bank object / ``(K, D)`` matrix (recorded as ``"custom"``; its vectors are saved with the model).
        resume: continue the run in ``run_dir`` from its last checkpoint (with ``epochs`` raised to train longer).
        location_features: the location encoder's outputs for ``coordinates`` computed beforehand (``(N, D_loc)``
            array or ``.npy``), e.g. cached once for many runs; only with a frozen encoder and no GPS noise
            (``train_location="none"``, both noise sigmas 0), where they are exactly what training would compute.
    """
    run_dir = Path(run_dir)
    concepts = options.get("concepts")
    if isinstance(concepts, os.PathLike):
        options["concepts"] = concepts = os.fspath(concepts)
    if concepts is not None and not isinstance(concepts, str):
        options["concepts"] = "custom"  # a bank object or matrix: its basis is saved with the weights
    else:
        concepts = None
    if resume:
        config, meta = _resumed_config(run_dir, config, options)
        concepts = _Placeholder(meta["concept_names"], meta["concept_dim"]) if meta["concept_names"] else None
    else:
        config = dataclasses.replace(config or TrainConfig(), **options)
    features = load_features(features)
    latlon = as_coordinates(coordinates)
    if len(latlon) != len(features):
        raise ValueError(f"{len(features)} image features but {len(latlon)} coordinates; they must pair row by row.")
    if len(features) < 2:
        raise ValueError("Training needs at least 2 images.")
    validation = _validation_split(val_features, val_coordinates)
    if features.ndim == 3 and config.views is not None and config.views > features.shape[1]:
        raise ValueError(f"views={config.views} but the features hold {features.shape[1]} views per image.")

    device = _device(config.device)
    if resume and meta["feature_dim"] != features.shape[-1]:
        raise GeoembedError(f"The run was trained on {meta['feature_dim']}-d features; these are "
                            f"{features.shape[-1]}-d.")
    if not resume and (run_dir / CONFIG_NAME).exists():
        raise GeoembedError(f"{run_dir} already holds a training run; resume it (resume=True / --resume) or choose "
                            f"another folder.")

    model = build_model(config, features.shape[-1], concepts=concepts)
    _set_trainable(model, config.train_location)
    if config.freeze_image_projection:
        model.concepts.image_projection.requires_grad_(False)
    model.to(device)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_gamma)
    generator = torch.Generator().manual_seed(config.seed)
    if location_features is not None and not config.caches_locations:
        raise ValueError("location_features can only stand in for a frozen location encoder without GPS noise: "
                         "use train_location='none', gps_noise_m=0 and queue_noise_m=0.")
    if config.init_from is not None and not resume:
        _initialise_concepts(model, config.init_from)
    cache = _LocationCache(model, latlon, progress, precomputed=location_features) if config.caches_locations else None
    queue = GPSQueue(config.queue_size, generator=generator,
                     dim=None if cache is None else int(model.location_encoder.embedding_dim))
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume:
        start_epoch, history = _load_checkpoint(run_dir, model, optimizer, scheduler, queue, generator)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(run_dir, config, model, features.shape[-1])
        with atomic_write(run_dir / COORDINATES_NAME) as tmp:
            np.save(tmp, latlon)
    if cache is not None and queue.features is not None:
        queue.features.copy_(cache.encode(queue.coords))

    trainer = _Trainer(model, config, features, latlon, optimizer, queue, generator, cache, device, progress)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], **trainer.run_epoch(epoch)}
        scheduler.step()
        row["temperature"] = float(1.0 / model.scale().detach().exp())
        if validation is not None:
            row.update(_validate(model, validation, latlon, cache))
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        _save_checkpoint(run_dir, model, optimizer, scheduler, queue, generator, epoch + 1, history)
        if progress:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
            print(f"epoch {epoch + 1}/{config.epochs}: {shown}", flush=True)
    model.eval()
    return TrainResult(model, run_dir, history)


def _initialise_concepts(model: ConceptAwareGeoCLIP, source: str | os.PathLike) -> None:
    """Copy a trained run's concept module into ``model``'s (offset, projections whose shapes match)."""
    from safetensors.torch import load_file

    path = Path(source)
    if path.is_dir():
        path = path / MODEL_NAME
    if not path.is_file():
        raise GeoembedError(f"init_from={str(source)!r} is neither a training run folder nor a weights file.")
    if path.parent.joinpath(CONFIG_NAME).is_file():
        _, meta = read_run_config(path.parent)
        if meta["concept_names"] is not None and list(meta["concept_names"]) != model.concept_names:
            raise GeoembedError(f"init_from={str(source)!r} was trained with other concepts than this run's bank; "
                                f"use the same bank.")
    saved = load_file(path)
    own = model.concepts.state_dict()
    copied = {}
    for key, value in own.items():
        other = saved.get("concepts." + key)
        if other is None:
            other = saved.get(key)
        if other is not None and other.shape == value.shape:
            copied[key] = other
    if "offset" not in copied or "location_projection.weight" not in copied:
        raise GeoembedError(f"init_from={str(source)!r} holds no concept module that fits this model (its basis "
                            f"offset and location projection must have the same shapes).")
    model.concepts.load_state_dict({**own, **copied}, strict=True)


def _validation_split(val_features: Any, val_coordinates: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if (val_features is None) != (val_coordinates is None):
        raise ValueError("Give both val_features and val_coordinates, or neither.")
    if val_features is None:
        return None
    features = load_features(val_features)
    coords = as_coordinates(val_coordinates)
    if len(features) != len(coords):
        raise ValueError(f"{len(features)} validation features but {len(coords)} validation coordinates.")
    return features, coords


def _set_trainable(model: ConceptAwareGeoCLIP, train_location: str) -> None:
    parameters = dict(model.location_encoder.named_parameters())
    if train_location == "heads" and not any("head" in name for name in parameters):
        raise ValueError("train_location='heads' needs a location encoder with parameters named '*head*' (GeoCLIP's "
                         "output layers); this one has none. Use 'all' or 'none'.")
    for name, parameter in parameters.items():
        if train_location == "none" or (train_location == "heads" and "head" not in name):
            parameter.requires_grad_(False)


class _LocationCache:
    """Location encoder outputs of the training coordinates, computed once (frozen encoder, no GPS noise)."""

    def __init__(self, model: ConceptAwareGeoCLIP, latlon: np.ndarray, progress: bool, precomputed: Any = None):
        self.model = model
        if precomputed is None:
            self.features = self.encode(torch.tensor(latlon), progress=progress)
            return
        features = load_features(precomputed)
        width = int(model.location_encoder.embedding_dim)
        if features.shape != (len(latlon), width):
            raise ValueError(f"location_features must be ({len(latlon)}, {width}) (one {width}-d location embedding "
                             f"per coordinate), got {tuple(features.shape)}.")
        self.features = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if not torch.isfinite(self.features).all():
            raise ValueError("location_features contain NaN or infinite values.")

    @torch.no_grad()
    def encode(self, latlon: torch.Tensor, progress: bool = False) -> torch.Tensor:
        from geoembed.progress import progress_bar

        encoder = self.model.location_encoder
        device = next(self.model.parameters()).device
        chunks = [encoder(latlon[s : s + 4096].to(device).float()).float().cpu()
                  for s in progress_bar(range(0, len(latlon), 4096), desc="location embeddings", unit="batch",
                                        enabled=progress)]
        return torch.cat(chunks) if chunks else torch.zeros(0, encoder.embedding_dim)


class _Trainer:
    """One epoch of GeoCLIP training (eq. 4 of the paper), plus the concept-space divergence when concept-aware."""

    def __init__(self, model, config: TrainConfig, features, latlon, optimizer, queue, generator, cache, device,
                 progress):
        self.model, self.config, self.features, self.latlon = model, config, features, torch.tensor(latlon)
        self.optimizer, self.queue, self.generator, self.cache = optimizer, queue, generator, cache
        self.device, self.progress = device, progress
        self.autocast = config.amp and device.type == "cuda"

    def run_epoch(self, epoch: int) -> dict[str, float]:
        from geoembed.progress import progress_bar

        self.model.train()
        n, batch = len(self.latlon), self.config.batch_size
        order = torch.randperm(n, generator=self.generator)
        steps = [order[s : s + batch] for s in range(0, n, batch)]
        if len(steps) > 1 and len(steps[-1]) < 2:  # a batch of one has no in-batch negative
            steps = steps[:-1]
        totals = {"loss": 0.0, "contrastive": 0.0, "divergence": 0.0, "alignment": 0.0}
        bar = progress_bar(steps, desc=f"epoch {epoch + 1}/{self.config.epochs}", unit="step", enabled=self.progress)
        for index in bar:
            losses = self.step(index)
            for key in totals:
                totals[key] += losses[key] / len(steps)
            bar.set_postfix(loss=f"{losses['loss']:.3f}")
        return totals

    def _image_batch(self, index: torch.Tensor) -> torch.Tensor:
        """``(B, V, F)`` features of the batch's images (``V`` views drawn per image when the file holds several)."""
        rows = np.sort(index.numpy())  # sorted reads are sequential on a memory map
        batch = torch.as_tensor(np.asarray(self.features[rows], dtype=np.float32))
        batch = batch[torch.as_tensor(np.argsort(np.argsort(index.numpy())))]  # back to the shuffled order
        if not torch.isfinite(batch).all():
            raise ValueError(f"Image features of rows {rows[:5].tolist()}... contain NaN or infinite values.")
        if batch.ndim == 2:
            return batch[:, None, :]
        views = self.config.views or batch.shape[1]
        choice = torch.rand(batch.shape[:2], generator=self.generator).argsort(dim=1)[:, :views]
        return torch.gather(batch, 1, choice[:, :, None].expand(-1, -1, batch.shape[2]))

    def step(self, index: torch.Tensor) -> dict[str, float]:
        config, model = self.config, self.model
        images = self._image_batch(index).to(self.device)
        b, v = images.shape[:2]
        coords = self.latlon[index]
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            image_space = model.image_space(images.reshape(b * v, -1)).float().reshape(b, v, -1)
            if self.cache is not None:
                batch_loc = self.cache.features[index].to(self.device)[:, None].expand(-1, v, -1)
                queue_loc = self.queue.features.to(self.device)
            else:
                noisy = torch.cat([jitter_coordinates(coords, config.gps_noise_m, self.generator) for _ in range(v)])
                queue = jitter_coordinates(self.queue.coords, config.queue_noise_m, self.generator)
                encoded = model.location_encoder(torch.cat((noisy, queue)).to(self.device).float())
                batch_loc = encoded[: b * v].reshape(v, b, -1).transpose(0, 1)
                queue_loc = encoded[b * v :]
            location_space = model.location_space(torch.cat((batch_loc.reshape(b * v, -1), queue_loc))).float()
        image = torch.nn.functional.normalize(image_space, dim=-1)
        location = torch.nn.functional.normalize(location_space, dim=-1)
        batch_location = location[: b * v].reshape(b, v, -1)
        queue_location = location[b * v :]
        contrastive = sum(info_nce(image[:, j], torch.cat((batch_location[:, j], queue_location)), model.scale())
                          for j in range(v)) / v
        divergence = torch.zeros((), device=self.device)
        if model.concepts is not None and config.divergence_weight > 0:
            divergence = concept_divergence(image.reshape(b * v, -1), batch_location.reshape(b * v, -1),
                                            config.divergence, config.bandwidth)
        alignment = torch.zeros((), device=self.device)
        if config.alignment_weight > 0:  # each pair's own cosine in the retrieval space, pulled towards 1
            alignment = 1 - (image * batch_location).sum(dim=-1).mean()
        loss = contrastive + config.divergence_weight * divergence + config.alignment_weight * alignment
        if not torch.isfinite(loss):
            raise FloatingPointError(f"The training loss became {float(loss)}; lower the learning rate.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.queue.push(coords, None if self.cache is None else self.cache.features[index])
        return {"loss": loss.item(), "contrastive": contrastive.item(), "divergence": divergence.item(),
                "alignment": alignment.item()}


def _validate(model, validation, train_latlon: np.ndarray, cache: _LocationCache | None) -> dict[str, float]:
    features, coords = validation
    gallery = embed_gallery(model, train_latlon, location_features=None if cache is None else cache.features)
    result = evaluate_retrieval(model, features, coords, gallery=train_latlon, gallery_embeddings=gallery)
    return {f"val_{k}": v for k, v in result.metrics.items() if k not in ("n", "gallery_size")}


def evaluate_run(run_dir: str | os.PathLike, features: Any, coordinates: Any, gallery: Any = "train", *,
                 device: Any = "auto", progress: bool = False) -> RetrievalResult:
    """Retrieval accuracy of a saved run; ``gallery="train"`` uses the run's training coordinates."""
    model = load_model(run_dir, device=device)
    if isinstance(gallery, str) and gallery == "train":
        gallery = np.load(Path(run_dir) / COORDINATES_NAME)
    return evaluate_retrieval(model, features, coordinates, gallery, progress=progress)


__all__ = [
    "TrainConfig", "TrainResult", "IMAGE_HEADS", "TRAIN_LOCATION", "build_model", "load_bank", "load_model",
    "read_run_config", "train_geoclip", "evaluate_run", "CONFIG_NAME", "MODEL_NAME", "CHECKPOINT_NAME",
    "CHECKPOINT_STATE_NAME", "COORDINATES_NAME",
]
