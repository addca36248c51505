"""A training run's folder: its configuration, weights, checkpoint and metrics files (all written atomically).

- ``config.json``: the :class:`~geoembed_geoclip.training_config.TrainConfig` and what is needed to rebuild the
  model (feature width, concept names and width);
- ``model.safetensors``: the latest weights (the configuration is carried in its metadata too);
- ``checkpoint.safetensors`` + ``checkpoint.json``: optimizer, scheduler, queue and random generator state, so a
  resumed run continues exactly where it stopped;
- ``train_coordinates.npy``: the training coordinates (the default evaluation gallery);
- ``metrics.json`` / ``metrics.csv``: one row per epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from geoembed.atomic import atomic_write
from geoembed.errors import GeoembedError
from geoembed.retrieval.evaluation import THRESHOLDS_KM

from geoembed_geoclip.concept_aware import ConceptAwareGeoCLIP
from geoembed_geoclip.losses import GPSQueue
from geoembed_geoclip.training_config import TrainConfig, _device, _Placeholder, build_model

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"
CHECKPOINT_NAME = "checkpoint.safetensors"
CHECKPOINT_STATE_NAME = "checkpoint.json"
COORDINATES_NAME = "train_coordinates.npy"


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



def read_run_config(run_dir: str | os.PathLike) -> tuple[TrainConfig, dict[str, Any]]:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise GeoembedError(f"{run_dir} is not a training run folder: it has no {CONFIG_NAME}.")
    data = json.loads(path.read_text())
    return TrainConfig.from_dict(data["config"]), data["model"]



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
