"""The description-trained concept-aware alignment, shipped with the plugin, as two products.

The concept-aware GeoCLIP (:mod:`.concept_aware`) trained on place descriptions
(``plugins/geoembed_geoclip/scripts/train_concept_descriptions.py``) maps a pretrained GeoCLIP location embedding
into MiniLM's text space (its location projection, with the bank's mean direction projected out). Only its concept
module is shipped (``data/concept_minilm/<bank>.safetensors``, a few MB, with a ``<bank>.json`` weights record:
sha256, sources, training command); the GeoCLIP location encoder comes from its own record.

- :class:`GeoCLIPMiniLMProjection` (concept projection ``geoclip-minilm``): ``project(geoclip_embeddings)`` returns
  unit vectors in the MiniLM text space, so ANY MiniLM text concept (a bank's or your own words) scores a place by
  cosine.
- :class:`GeoCLIPConceptEncoder` (location encoder ``geoclip-concept``): ``[lat, lon]`` -> the concept activation
  vector over the bank the model was trained with (447 ``geography`` concepts), one named feature per concept
  (``feature_names``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from geoembed.errors import ChecksumMismatchError, WeightsNotFoundError
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.weights import WeightsRecord, sha256_file

DATA_DIR = Path(__file__).parent / "data" / "concept_minilm"
DEFAULT_BANK = "geography"
WEIGHTS_FORMAT = "geoembed-geoclip-concept-minilm"


# -- shipped weights -----------------------------------------------------------------------------------------------
def weights_path(bank: str = DEFAULT_BANK, folder: str | os.PathLike | None = None) -> Path:
    return Path(folder or DATA_DIR) / f"{bank}.safetensors"


def weights_record(bank: str = DEFAULT_BANK, folder: str | os.PathLike | None = None) -> WeightsRecord:
    """The :class:`WeightsRecord` of the shipped weights for ``bank`` (read from ``<bank>.json`` beside them)."""
    path = weights_path(bank, folder).with_suffix(".json")
    if not path.is_file():
        raise WeightsNotFoundError(
            f"No trained concept projection for the bank {bank!r} ({path} is missing). Train and ship one with "
            f"`python plugins/geoembed_geoclip/scripts/train_concept_descriptions.py --bank {bank} --ship`.")
    data = json.loads(path.read_text())
    fields = {f.name for f in dataclasses.fields(WeightsRecord)}
    record = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data["record"].items() if k in fields}
    return WeightsRecord(**record)


def record_info(bank: str = DEFAULT_BANK, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """Everything ``<bank>.json`` says: the record, ``training_sources``, the data manifest, the command."""
    return json.loads(weights_path(bank, folder).with_suffix(".json").read_text())


def load_concept_weights(bank: str = DEFAULT_BANK, folder: str | os.PathLike | None = None
                         ) -> tuple[dict[str, torch.Tensor], dict[str, Any], WeightsRecord]:
    """``(concept module state dict, metadata, record)`` of the shipped weights, sha256-verified."""
    from safetensors import safe_open

    record = weights_record(bank, folder)
    path = weights_path(bank, folder)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} is missing (its record {path.with_suffix('.json')} is there).")
    actual = sha256_file(path)
    if actual != record.sha256:
        raise ChecksumMismatchError(f"{path} has sha256 {actual}, its record says {record.sha256}: the file was "
                                    f"changed or damaged; reinstall the plugin or retrain with --ship.")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if metadata.get("format") != WEIGHTS_FORMAT:
        raise ChecksumMismatchError(f"{path} is not a {WEIGHTS_FORMAT} file.")
    meta = {k: json.loads(v) for k, v in metadata.items() if k != "format"}
    return tensors, meta, record


def export_concept_weights(model: Any, out: str | os.PathLike, *, config: dict[str, Any],
                           extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s concept module (and temperature) as a small safetensors file with its metadata."""
    from safetensors.torch import save_file

    from geoembed.atomic import atomic_write

    if model.concepts is None:
        raise ValueError("Only a concept-aware model has a concept module to export.")
    tensors = {f"concepts.{k}": v.detach().cpu().float().contiguous() for k, v in model.concepts.state_dict().items()}
    tensors["logit_scale"] = model.logit_scale.detach().cpu().float().reshape(1).contiguous()
    metadata = {"format": WEIGHTS_FORMAT, "concept_names": json.dumps(list(model.concepts.names)),
                "config": json.dumps(config), **{k: json.dumps(v) for k, v in (extra or {}).items()}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return out


def alignment_from_weights(tensors: dict[str, torch.Tensor], meta: dict[str, Any]):
    """Rebuild the :class:`~geoembed_geoclip.concept_aware.ConceptAlignment` stored in a shipped file."""
    from geoembed_geoclip.concept_aware import ConceptAlignment

    state = {k[len("concepts."):]: v for k, v in tensors.items() if k.startswith("concepts.")}
    names = list(meta["concept_names"])
    alignment = ConceptAlignment(torch.ones(len(names), state["offset"].shape[1]) + torch.eye(len(names),
                                 state["offset"].shape[1]), state["image_projection.weight"].shape[1],
                                 state["location_projection.weight"].shape[1], names=names,
                                 center=True, project_out_mean="mean_direction" in state)
    alignment.load_state_dict(state, strict=True)
    return alignment.eval()


def _training_sources(bank: str) -> tuple[str, ...]:
    try:
        return tuple(record_info(bank).get("training_sources", ()))
    except (OSError, ValueError):
        return ()


# -- the concept projection (interface: geoembed.concepts.projection) ------------------------------------------------
class GeoCLIPMiniLMProjection:
    """GeoCLIP location embeddings -> unit vectors in MiniLM's text space (the trained location projection).

    ``project(z)`` with ``z`` the raw 512-d outputs of the pretrained ``geoclip`` location encoder; score any MiniLM
    text vector ``t`` (``geoembed.concepts.text_encoders`` ``"minilm"``) by cosine. The vector is the place's
    normalised concept activations mapped back through the basis
    (:meth:`~geoembed_geoclip.concept_aware.ConceptAlignment.location_text_vectors`): its dot product with ``t`` is
    the trained model's own score of ``t`` read as a description of the place, times a constant per text.
    """

    def __init__(self, bank: str = DEFAULT_BANK, *, weights_folder: str | os.PathLike | None = None):
        from geoembed.concepts.text_encoders import MINILM_SPACE

        tensors, meta, record = load_concept_weights(bank, weights_folder)
        self.alignment = alignment_from_weights(tensors, meta)
        self.bank = bank
        self.weights = record
        self.metadata = meta
        self.source_space = "location:" + str(meta.get("location_weights", "geoclip.mp16"))
        self.target_space = MINILM_SPACE
        self.embedding_dim = int(self.alignment.concept_embeddings.shape[1])
        self.location_dim = int(self.alignment.location_projection.in_features)
        self.input_dim = self.location_dim  # the concept projection contract's name for it
        self.training_sources = tuple(meta.get("training_sources", ()))

    @property
    def concept_names(self) -> list[str]:
        return list(self.alignment.names)

    def project(self, location_embeddings: Any) -> np.ndarray:
        """``(N, D_loc)`` GeoCLIP embeddings -> ``(N, 384)`` float32 unit vectors in MiniLM's text space."""
        x = np.asarray(location_embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.location_dim:
            raise ValueError(f"location_embeddings must be (N, {self.location_dim}) outputs of the GeoCLIP location "
                             f"encoder ({self.source_space}), got shape {x.shape}.")
        if not np.isfinite(x).all():
            raise ValueError("location_embeddings contain NaN or infinite values.")
        with torch.no_grad():
            return self.alignment.location_text_vectors(torch.from_numpy(x)).numpy()

    def activations(self, location_embeddings: Any) -> np.ndarray:
        """``(N, K)`` the trained model's concept activations over its own bank (basis with the learned offset)."""
        x = torch.as_tensor(np.asarray(location_embeddings, dtype=np.float32))
        with torch.no_grad():
            return self.alignment.location_activations(x).numpy()

    def __repr__(self) -> str:
        return (f"GeoCLIPMiniLMProjection(bank={self.bank!r}, {self.source_space} -> {self.target_space}, "
                f"dim={self.embedding_dim})")


def geoclip_minilm_projection(bank: str = DEFAULT_BANK, **kwargs: Any) -> GeoCLIPMiniLMProjection:
    """Factory of the ``geoclip-minilm`` concept projection (entry point of ``geoembed.concept_projections``)."""
    return GeoCLIPMiniLMProjection(bank, **kwargs)


# -- the location encoder ------------------------------------------------------------------------------------------
class GeoCLIPConceptEncoder(LocationEncoder):
    """``[lat, lon]`` -> concept activations over the trained bank: pretrained GeoCLIP, the trained location
    projection into MiniLM's space, then the cosine with each (centred, offset) concept basis vector.

    ``feature_names`` are the concept names, so a featurizer's columns read as concepts.
    """

    def __init__(self, bank: str = DEFAULT_BANK, *, weights_folder: str | os.PathLike | None = None):
        super().__init__()
        from geoembed.registry import create_location_encoder

        projection = GeoCLIPMiniLMProjection(bank, weights_folder=weights_folder)
        self.location_encoder = create_location_encoder("geoclip")
        for parameter in self.location_encoder.parameters():
            parameter.requires_grad_(False)
        self.alignment = projection.alignment
        self.weights = projection.weights
        self.feature_names = projection.concept_names
        self.embedding_dim = len(self.feature_names)
        self.training_sources = projection.training_sources

    @property
    def identity(self) -> str:
        return f"{super().identity}+{self.location_encoder.identity}"

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        z = self.location_encoder(latlon.float())
        return self.alignment.location_vectors(z.float()) @ self.alignment.basis().T


def geoclip_concept_location_encoder(bank: str = DEFAULT_BANK, **kwargs: Any) -> GeoCLIPConceptEncoder:
    """Factory of the ``geoclip-concept`` location encoder (entry point of ``geoembed.location_encoders``)."""
    return GeoCLIPConceptEncoder(bank, **kwargs)


def concept_card():
    """The :class:`~geoembed.model_card.ModelCard` of ``geoclip-concept``: ``training_sources`` lists the description
    sources (a card field where the core has it; in ``hyperparameters`` otherwise)."""
    from geoembed.model_card import ModelCard

    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16

    try:
        record = weights_record(DEFAULT_BANK)
        weights: tuple[WeightsRecord, ...] = (record, LOCATION_ENCODER_MP16)
    except WeightsNotFoundError:
        weights = (LOCATION_ENCODER_MP16,)
    sources = _training_sources(DEFAULT_BANK)
    fields = {f.name for f in dataclasses.fields(ModelCard)}
    kwargs: dict[str, Any] = {}
    hyper: dict[str, Any] = {"bank": DEFAULT_BANK, "concepts": 447, "text_space": "all-MiniLM-L6-v2 (384-d)"}
    if "training_sources" in fields:
        kwargs["training_sources"] = sources
    else:
        hyper["training_sources"] = sources
    return ModelCard(
        family="GeoCLIP concept-aware (place descriptions, MiniLM concepts)",
        embedding_dim=447,
        input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside GeoCLIP",
        training_data=("pretrained GeoCLIP (MP-16); concept module trained on place descriptions written from "
                       "real geodata: " + (", ".join(sources) or "see the weights record")),
        license="MIT (model); data sources under their own licences (CC-BY-4.0, Copernicus, public domain)",
        citation=("arXiv:2509.01910 (concept-aware alignment); " + LOCATION_ENCODER_MP16.citation),
        weights=weights,
        hyperparameters=hyper,
        description="Concept activation vector over the 447 geography concepts: cosine of the projected GeoCLIP "
                    "embedding with each concept's MiniLM text vector (plus its learned offset).",
        homepage="https://github.com/VicenteVivan/geo-clip",
        notes="Trained on descriptions built from climate, land cover, elevation, coast and place sources: do not "
              "benchmark it on tasks built from those sources (training_sources).",
        **kwargs,
    )


def training_sources_of(card: Any) -> tuple[str, ...]:
    """A card's ``training_sources`` whether the core's ModelCard has the field or the card keeps it in
    ``hyperparameters``."""
    value = getattr(card, "training_sources", None)
    if value is None:
        value = dict(getattr(card, "hyperparameters", {}) or {}).get("training_sources", ())
    return tuple(value)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (text vectors before cosine scoring)."""
    return np.asarray(F.normalize(torch.as_tensor(np.asarray(x, dtype=np.float32)), dim=-1))


def _attach_card() -> None:
    from geoembed.model_card import with_card

    with_card(concept_card())(geoclip_concept_location_encoder)


_attach_card()
