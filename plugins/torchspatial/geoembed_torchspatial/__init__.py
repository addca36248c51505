"""TorchSpatial's pretrained location encoders for geoembed (a plugin distribution: ``geoembed-torchspatial``).

17 encoders, one per published fMoW/YFCC checkpoint of github.com/seai-lab/TorchSpatial, registered through the
entry point group ``geoembed.location_encoders`` exactly as any third-party plugin:
``torchspatial-<type>.<dataset>`` with type in sphere2vec-spherec, sphere2vec-spherecplus, sphere2vec-spherem,
space2vec-grid, space2vec-theory, nerf, rff, tile-ffn, wrap-ffn, xyz and dataset fmow or yfcc (not every pair was
published; ``geoembed.list_location_encoders("torchspatial-*")`` lists the 17).

>>> import geoembed
>>> emb = geoembed.encode_location(lat=[48.86], lon=[2.35], encoder="torchspatial-sphere2vec-spherec.yfcc")  # doctest: +SKIP

Like every geoembed encoder they take ``[lat, lon]`` degrees; the original code takes ``(lon, lat)``, and the
encoders swap. The embedding is the location encoder's output, the 256-d features that feed the class head.
Every factory carries a :class:`geoembed.model_card.ModelCard` (``factory.card``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from geoembed.errors import WeightsError
from geoembed.model_card import ModelCard, with_card
from geoembed.weights import resolve_weights

from geoembed_torchspatial.checkpoints import (
    CHECKPOINTS,
    DATASETS,
    RECORDS,
    REPOSITORY,
    check_family,
    published_for_sha,
    read_checkpoint,
)
from geoembed_torchspatial.encoders import TorchSpatialConfig, TorchSpatialEncoder

__all__ = ["TorchSpatialEncoder", "TorchSpatialConfig", "CHECKPOINTS", "RECORDS", "create", "load_checkpoint",
           "ENCODER_NAMES"]

#: The registered names, sorted.
ENCODER_NAMES = tuple(sorted(CHECKPOINTS))


def load_checkpoint(path: str | Path) -> TorchSpatialEncoder:
    """Build a TorchSpatial encoder from any checkpoint file of a supported type (its ``params`` give the
    architecture), e.g. one trained on another dataset. The weights record describes the file as a user file."""
    from geoembed.weights import WeightsRecord, sha256_file

    checkpoint = read_checkpoint(path)
    model = _load_into(checkpoint)
    sha = sha256_file(path)
    published = published_for_sha(sha)
    model.weights = published.record if published is not None else WeightsRecord(
        name=f"torchspatial-{checkpoint.config.type_slug}.custom-{sha[:12]}",
        filename=Path(path).name,
        sha256=sha,
        source=f"user file {path}",
        license="unknown (user file)",
        citation=RECORDS[next(iter(RECORDS))].citation.split("; ")[0],
        description=f"TorchSpatial {checkpoint.config.spa_enc_type} checkpoint trained on {checkpoint.dataset!r}",
    )
    return model


def create(name: str, pretrained: bool = True, *, weights_path: str | Path | None = None,
           seed: int | None = 0) -> TorchSpatialEncoder:
    """Build the registered encoder ``name``: the published weights (resolved offline-first: ``weights_path`` file
    or folder, geoembed's cache, then a download from GitHub), or seeded random weights with ``pretrained=False``."""
    published = CHECKPOINTS.get(name)
    if published is None:
        raise ValueError(f"Unknown TorchSpatial encoder {name!r}; the names are {list(ENCODER_NAMES)}.")
    if not pretrained and weights_path is None:
        return TorchSpatialEncoder(published.config, seed=seed).eval()
    resolved = resolve_weights(published.record, weights_path)
    other = published_for_sha(resolved.record.sha256)
    if other is not None and other is not published:
        raise WeightsError(
            f"{resolved.path} is the published checkpoint of {other.encoder_name!r} (TorchSpatial "
            f"{other.config.spa_enc_type} trained on {other.dataset}), not of {name!r}. Use "
            f"create_location_encoder({other.encoder_name!r}) for it."
        )
    checkpoint = read_checkpoint(resolved.path)
    check_family(checkpoint, published.config.spa_enc_type, name)
    model = _load_into(checkpoint)
    model.weights = resolved.record
    return model


def _load_into(checkpoint) -> TorchSpatialEncoder:
    model = TorchSpatialEncoder(checkpoint.config, seed=None)
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in checkpoint.state_dict]
    problems += [f"unexpected {k}" for k in checkpoint.state_dict if k not in expected]
    problems += [f"{k}: shape {tuple(v.shape)} where the architecture needs {tuple(expected[k].shape)}"
                 for k, v in checkpoint.state_dict.items() if k in expected and v.shape != expected[k].shape]
    if problems:
        raise WeightsError(
            f"{checkpoint.path} does not fit the TorchSpatial {checkpoint.config.spa_enc_type} architecture its own "
            f"params describe: {'; '.join(problems[:5])}."
        )
    model.load_state_dict(checkpoint.state_dict, strict=True)
    return model.eval()


def _input_convention(config: TorchSpatialConfig) -> str:
    base = "(lon, lat) degrees as float32"
    if config.spa_enc_type == "rff":
        return f"{base}; min-max scaled to [-1, 1] over map_range {list(config.map_range)} inside the model"
    if config.spa_enc_type == "wrap_ffn":
        return f"{base}; divided by (180, 90) inside the model"
    if config.spa_enc_type == "tile_ffn":
        return f"{base}; looked up in a grid over map_range {list(config.map_range)}"
    return f"{base}, unnormalised"


def _notes(name: str, config: TorchSpatialConfig) -> str:
    notes = []
    if config.spa_enc_type == "tile_ffn":
        notes.append("Location-independent: the released model's lookup grid has a single cell (the reference builds "
                     "the grid with its default 1,000,000-degree interval, not min_radius), so every place gets the "
                     "same embedding; the checkpoint was saved after 1 epoch.")
    if config.spa_enc_type == "rff" and tuple(config.map_range) != (-180, 180, -90, 90):
        notes.append(f"Coordinates are scaled over map_range {list(config.map_range)} (the reference default, "
                     f"continental US), also for places outside it, as in the reference.")
    if config.spa_enc_type == "NeRF":
        notes.append("The reference NeRF encoder uses 16 frequencies (pi 2^0 ... pi 2^15) whatever frequency_num "
                     "its params say.")
    if config.activation == "relu":
        notes.append("The output layer ends with ReLU (as in the reference), so embeddings are non-negative.")
    return " ".join(notes)


def _card(name: str) -> ModelCard:
    published = CHECKPOINTS[name]
    config = published.config
    record = RECORDS[name]
    return ModelCard(
        family=f"TorchSpatial {config.spa_enc_type}",
        embedding_dim=config.num_filts,
        input_convention=_input_convention(config),
        training_data=DATASETS[published.dataset],
        license=record.license,
        citation=record.citation,
        weights=record,
        hyperparameters={**config.hyperparameters(), **published.training},
        description=(f"Output of TorchSpatial's {config.spa_enc_type} location encoder (position encoding + "
                     f"{config.num_hidden_layer}-hidden-layer network), the features that feed the class head."),
        homepage=REPOSITORY,
        notes=_notes(name, config),
        training_sources=(published.dataset,),  # "fmow" or "yfcc"
    )


def _factory(name: str) -> Callable[..., TorchSpatialEncoder]:
    def factory(pretrained: bool = True, *, weights_path: str | Path | None = None,
                seed: int | None = 0) -> TorchSpatialEncoder:
        return create(name, pretrained, weights_path=weights_path, seed=seed)

    attr = _attribute(name)
    factory.__name__ = factory.__qualname__ = attr
    factory.__module__ = __name__
    factory.__doc__ = (f"Factory registered as ``{name!r}``: TorchSpatial {CHECKPOINTS[name].config.spa_enc_type} "
                       f"trained on {CHECKPOINTS[name].dataset}. ``weights_path``: the checkpoint file or a folder "
                       f"holding it; ``pretrained=False``: seeded random weights.")
    return with_card(_card(name))(factory)


def _attribute(name: str) -> str:
    """``torchspatial-sphere2vec-spherec.yfcc`` -> ``sphere2vec_spherec_yfcc`` (the entry point's target)."""
    return name.removeprefix("torchspatial-").replace("-", "_").replace(".", "_")


FACTORIES: dict[str, Callable[..., TorchSpatialEncoder]] = {name: _factory(name) for name in ENCODER_NAMES}
globals().update({_attribute(name): f for name, f in FACTORIES.items()})

