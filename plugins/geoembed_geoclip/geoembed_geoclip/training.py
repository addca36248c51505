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
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoembed.atomic import atomic_write
from geoembed.errors import GeoembedError

from geoembed_geoclip.concept_aware import ConceptAlignment, ConceptAwareGeoCLIP, geoclip_head
from geoembed.retrieval.evaluation import THRESHOLDS_KM
from geoembed_geoclip.evaluation import (
    as_coordinates,
    embed_gallery,
    evaluate_retrieval,
    load_features,
    RetrievalResult,
)
from geoembed_geoclip.losses import DIVERGENCES, GPSQueue, concept_divergence, info_nce, jitter_coordinates

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"
CHECKPOINT_NAME = "checkpoint.safetensors"
CHECKPOINT_STATE_NAME = "checkpoint.json"
COORDINATES_NAME = "train_coordinates.npy"
IMAGE_HEADS = ("mlp", "mp16", "none")
TRAIN_LOCATION = ("all", "heads", "none")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``). Defaults follow the GeoCLIP paper.

    Attributes:
        concepts: concept bank for the concept-aware model: a registered name (``"geography"``, ``"generic"``) or a
            saved bank's folder; None trains plain GeoCLIP. The bank's vectors are stored with the model.
        image_head: ``"mlp"`` (GeoCLIP's head shape, random init), ``"mp16"`` (the published head; 768-d CLIP
            ViT-L/14 features) or ``"none"`` (features go straight to the concept projection).
        location_encoder, location_encoder_kwargs: a registered location encoder and its factory options.
        center_concepts: subtract the bank's mean vector before normalising the basis (see
            :class:`~geoembed_geoclip.concept_aware.ConceptAlignment`).
        train_location: ``"all"`` (the paper), ``"heads"`` (only parameters named ``*head*``: GeoCLIP's per-scale
            output layers) or ``"none"`` (frozen; with both noises at 0 its outputs are computed once, much faster).
        divergence, divergence_weight, bandwidth: the Concept Space Divergence (``"cs"`` or ``"mmd"``), its weight
            (the paper gives none; 0 switches it off) and its Gaussian kernel bandwidth (None: median heuristic).
        views: augmented views used per image and step when features are ``(N, P, F)``; None uses all ``P``.
        amp: bfloat16 autocast when training on CUDA (ignored on CPU).
    """

    concepts: str | None = "geography"
    image_head: str = "mlp"
    location_encoder: str = "geoclip"
    location_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    train_location: str = "all"
    center_concepts: bool = True
    temperature: float = 0.07
    learn_temperature: bool = True
    divergence: str = "cs"
    divergence_weight: float = 0.1
    bandwidth: float | None = None
    epochs: int = 10
    batch_size: int = 512
    lr: float = 3e-5
    weight_decay: float = 1e-6
    lr_gamma: float = 0.87
    queue_size: int = 4096
    gps_noise_m: float = 150.0
    queue_noise_m: float = 1000.0
    views: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.image_head in IMAGE_HEADS, f"image_head must be one of {IMAGE_HEADS}, got {self.image_head!r}"),
            (self.train_location in TRAIN_LOCATION,
             f"train_location must be one of {TRAIN_LOCATION}, got {self.train_location!r}"),
            (self.divergence in DIVERGENCES, f"divergence must be one of {DIVERGENCES}, got {self.divergence!r}"),
            (self.divergence_weight >= 0, f"divergence_weight must be >= 0, got {self.divergence_weight}"),
            (self.bandwidth is None or self.bandwidth > 0, f"bandwidth must be positive or None, got {self.bandwidth}"),
            (_positive_int(self.epochs), f"epochs must be a positive integer, got {self.epochs!r}"),
            (_positive_int(self.batch_size) and self.batch_size >= 2,
             f"batch_size must be an integer >= 2 (contrastive learning needs negatives), got {self.batch_size!r}"),
            (self.lr > 0 and self.weight_decay >= 0 and 0 < self.lr_gamma <= 1,
             "lr must be > 0, weight_decay >= 0 and lr_gamma in (0, 1]"),
            (isinstance(self.queue_size, int) and self.queue_size >= 0,
             f"queue_size must be >= 0, got {self.queue_size!r}"),
            (self.gps_noise_m >= 0 and self.queue_noise_m >= 0, "GPS noise sigmas must be >= 0 metres"),
            (self.views is None or _positive_int(self.views),
             f"views must be a positive integer or None, got {self.views!r}"),
            (0 < self.temperature < 1, f"temperature must be in (0, 1), got {self.temperature}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")
        if self.image_head == "none" and self.concepts is None:
            raise ValueError("image_head='none' needs a concept bank (the features go straight to the concept "
                             "projection); plain GeoCLIP needs an image head.")

    @property
    def caches_locations(self) -> bool:
        """True when location embeddings never change during training (frozen encoder, no GPS noise)."""
        return self.train_location == "none" and self.gps_noise_m == 0 and self.queue_noise_m == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training options {unknown}; known: {sorted(known)}.")
        return cls(**data)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass
class TrainResult:
    """The trained model, its run folder and the per-epoch metrics."""

    model: ConceptAwareGeoCLIP
    run_dir: Path
    history: list[dict[str, float]]


# -- building models -------------------------------------------------------------------------------------------------
def build_model(config: TrainConfig, feature_dim: int, concepts: Any = None) -> ConceptAwareGeoCLIP:
    """A fresh model for ``config`` on the CPU; ``concepts`` (a bank or ``(K, D)`` matrix) overrides
    ``config.concepts``.

    Initialisation is seeded with ``config.seed`` without touching the global random state.
    """
    from geoembed.registry import create_location_encoder

    location_encoder = create_location_encoder(config.location_encoder, **config.location_encoder_kwargs)
    location_dim = int(location_encoder.embedding_dim)
    if concepts is None and config.concepts is not None:
        concepts = load_bank(config.concepts)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.image_head == "none":
            head: torch.nn.Module = torch.nn.Identity()
            image_dim = feature_dim
        else:
            out_dim = 512 if concepts is not None else location_dim
            head = geoclip_head(feature_dim, out_dim)
            image_dim = out_dim
            if config.image_head == "mp16":
                _load_published_head(head, feature_dim, out_dim)
        alignment = (ConceptAlignment(concepts, image_dim, location_dim, center=config.center_concepts)
                     if concepts is not None else None)
    if alignment is None and image_dim != location_dim:
        raise ValueError(f"Plain GeoCLIP needs image and location embeddings of one width: {image_dim} vs "
                         f"{location_dim}.")
    return ConceptAwareGeoCLIP(head, location_encoder, alignment, temperature=config.temperature,
                               learn_temperature=config.learn_temperature)


def _load_published_head(head: torch.nn.Module, feature_dim: int, out_dim: int) -> None:
    from geoembed.weights import load_state_dict, resolve_weights
    from geoembed_geoclip.weights import IMAGE_HEAD_MP16

    if (feature_dim, out_dim) != (768, 512):
        raise ValueError(f"image_head='mp16' is GeoCLIP's head for 768-d CLIP ViT-L/14 features (to 512); these "
                         f"features are {feature_dim}-d. Use image_head='mlp' to train a head from scratch.")
    head.load_state_dict(load_state_dict(resolve_weights(IMAGE_HEAD_MP16).path), strict=True)


def load_bank(spec: Any):
    """A concept bank from a registered name or a saved folder (:func:`geoembed.concepts.bank.load_concept_bank`)."""
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    from geoembed.concepts.bank import load_concept_bank

    return load_concept_bank(spec)


def load_model(run_dir: str | os.PathLike, device: Any = "cpu") -> ConceptAwareGeoCLIP:
    """The model saved in a run folder (no concept bank or network needed: the basis is stored with the weights)."""
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    config, meta = read_run_config(run_dir)
    concepts = None
    if meta["concept_names"] is not None:  # placeholder basis, overwritten by the saved one
        concepts = _Placeholder(meta["concept_names"], meta["concept_dim"])
    model = build_model(config, meta["feature_dim"], concepts=concepts)
    model_path = run_dir / MODEL_NAME
    if not model_path.is_file():
        raise GeoembedError(f"{run_dir} has no {MODEL_NAME}: the run has not finished an epoch yet.")
    model.load_state_dict(load_file(model_path), strict=True)
    if config.train_location != "none":
        model.location_encoder.weights = None  # fine-tuned: its identity must hash the new weights
    return model.to(_device(device)).eval()


class _Placeholder:
    def __init__(self, names: list[str], dim: int):
        self.names, self.embeddings = names, torch.ones(len(names), dim)


def read_run_config(run_dir: str | os.PathLike) -> tuple[TrainConfig, dict[str, Any]]:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise GeoembedError(f"{run_dir} is not a training run folder: it has no {CONFIG_NAME}.")
    data = json.loads(path.read_text())
    return TrainConfig.from_dict(data["config"]), data["model"]


def _device(device: Any) -> torch.device:
    from geoembed.location_encoders.encode import resolve_device

    return resolve_device(device)


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
    model.to(device)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_gamma)
    generator = torch.Generator().manual_seed(config.seed)
    cache = _LocationCache(model, latlon, progress) if config.caches_locations else None
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


def _resumed_config(run_dir: Path, config: TrainConfig | None,
                    options: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """The saved run's configuration; only ``epochs`` and ``device`` may be changed when resuming."""
    if not (run_dir / CHECKPOINT_STATE_NAME).is_file():
        raise GeoembedError(f"Nothing to resume in {run_dir}: it has no {CHECKPOINT_STATE_NAME}.")
    saved, meta = read_run_config(run_dir)
    requested = {**(config.to_dict() if config is not None else {}), **options}
    changeable = ("epochs", "device")
    changed = sorted(k for k, v in requested.items() if k not in changeable and saved.to_dict().get(k) != v)
    if changed:
        raise GeoembedError(f"Cannot resume with different options {changed}: the run was started with "
                            f"{ {k: saved.to_dict().get(k) for k in changed} }. Only epochs and device may change.")
    return dataclasses.replace(saved, **{k: requested[k] for k in changeable if k in requested}), meta


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

    def __init__(self, model: ConceptAwareGeoCLIP, latlon: np.ndarray, progress: bool):
        self.model = model
        self.features = self.encode(torch.tensor(latlon), progress=progress)

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
        totals = {"loss": 0.0, "contrastive": 0.0, "divergence": 0.0}
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
        loss = contrastive + config.divergence_weight * divergence
        if not torch.isfinite(loss):
            raise FloatingPointError(f"The training loss became {float(loss)}; lower the learning rate.")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.queue.push(coords, None if self.cache is None else self.cache.features[index])
        return {"loss": loss.item(), "contrastive": contrastive.item(), "divergence": divergence.item()}


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


# -- run folder files ------------------------------------------------------------------------------------------------
def _write_config(run_dir: Path, config: TrainConfig, model: ConceptAwareGeoCLIP, feature_dim: int) -> None:
    concepts = model.concepts
    meta = {
        "feature_dim": int(feature_dim),
        "concept_names": None if concepts is None else list(concepts.names),
        "concept_dim": None if concepts is None else int(concepts.concept_embeddings.shape[1]),
        "thresholds_km": list(THRESHOLDS_KM),
    }
    _write_json(run_dir / CONFIG_NAME, {"config": config.to_dict(), "model": meta})


def _write_json(path: Path, data: Any) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def _save_checkpoint(run_dir: Path, model, optimizer, scheduler, queue: GPSQueue, generator: torch.Generator,
                     epoch: int, history: list[dict[str, float]]) -> None:
    from safetensors.torch import save_file

    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config = (run_dir / CONFIG_NAME).read_text()  # carried inside the weights file too, so it describes itself
    with atomic_write(run_dir / MODEL_NAME) as tmp:
        save_file(weights, str(tmp), metadata={"format": "geoembed-geoclip-run", "epoch": str(epoch), "config": config})
    tensors = {f"model.{k}": v for k, v in weights.items()}
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        for name, value in state.items():
            tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors.update({f"queue.{k}": v for k, v in queue.state().items()})
    tensors["generator"] = generator.get_state()
    with atomic_write(run_dir / CHECKPOINT_NAME) as tmp:
        save_file(tensors, str(tmp))
    _write_json(run_dir / CHECKPOINT_STATE_NAME, {"epoch": epoch, "scheduler": scheduler.state_dict(),
                                                  "optimizer_param_groups": optimizer_state["param_groups"]})
    _write_json(run_dir / "metrics.json", history)
    with atomic_write(run_dir / "metrics.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            columns = list(dict.fromkeys(k for row in history for k in row))
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(history)


def _load_checkpoint(run_dir: Path, model, optimizer, scheduler, queue: GPSQueue,
                     generator: torch.Generator) -> tuple[int, list[dict[str, float]]]:
    from safetensors.torch import load_file

    tensors = load_file(run_dir / CHECKPOINT_NAME)
    state = json.loads((run_dir / CHECKPOINT_STATE_NAME).read_text())
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    device = next(model.parameters()).device
    optimizer_state: dict[str, Any] = {"state": {}, "param_groups": state["optimizer_param_groups"]}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            value = value if name == "step" else value.to(device)
            optimizer_state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(state["scheduler"])
    queue.load_state({k[len("queue."):]: v for k, v in tensors.items() if k.startswith("queue.")})
    generator.set_state(tensors["generator"])
    history = json.loads((run_dir / "metrics.json").read_text())
    return int(state["epoch"]), history
