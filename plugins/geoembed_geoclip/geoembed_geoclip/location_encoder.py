"""GeoCLIP's location encoder (Vivanco Cepeda et al., NeurIPS 2023), written to load the published checkpoint as is.

Architecture (paper section 3.1.1, and the released ``location_encoder_weights.pth``):

1. Equal Earth projection of ``[lat, lon]`` degrees, scaled so that longitude spans [-1, 1];
2. for each sigma in {2^0, 2^4, 2^8}: Gaussian random Fourier features ``[cos(2 pi B v), sin(2 pi B v)]`` with a fixed
   ``B`` (256 x 2, entries ~ N(0, sigma^2)), then an MLP 512 -> 1024 -> 1024 -> 1024 -> 512 (ReLU between);
3. the per-sigma outputs summed into one 512-d vector.

Module and parameter names mirror the published state dict (``LocEnc0.capsule.0.b``, ``LocEnc0.capsule.1.weight``,
..., ``LocEnc0.head.0.bias``), so ``load_state_dict`` takes the checkpoint without renaming keys. The paper's text says
four hidden layers; the released weights have three, and the weights are what we reproduce.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from geoembed.errors import WeightsError
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.model_card import ModelCard, with_card
from geoembed.testing import ACROSS_BATCH_RTOL
from geoembed.weights import WeightsRecord, load_state_dict, resolve_weights

from geoembed_geoclip.weights import LOCATION_ENCODER_MP16, LOCATION_ENCODER_WEIGHTS

# Equal Earth projection constants (Savric, Patterson & Jenny 2018) and GeoCLIP's scale factor, as in the reference.
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
SCALE = 66.50336
DEFAULT_SIGMAS = (2.0**0, 2.0**4, 2.0**8)
#: Numeric precisions of the inference path. "bfloat16" runs the MLPs in bfloat16 (projection and Fourier features
#: stay float32, where high frequencies need the precision): about 2x faster on CPUs with AVX512-BF16, cosine
#: similarity to float32 above 0.9999. Opt-in; see docs/performance.md for measurements.
PRECISIONS = ("float32", "bfloat16")
#: Larger inputs are processed this many rows at a time: 4,096 x 1,024 float32 activations (16 MB) stay in cache,
#: where one 65,536-row product measured ~40% slower per point.
INFERENCE_CHUNK = 4096
EMBEDDING_DIM = 512
RFF_FEATURES = 256  # rows of B; the encoding has 2 * 256 = 512 values
HIDDEN = 1024


def equal_earth_projection(latlon: torch.Tensor) -> torch.Tensor:
    """Project ``(N, 2)`` ``[lat, lon]`` degrees with Equal Earth, scaled as GeoCLIP does; returns ``(N, 2)`` ``[x, y]``."""
    latitude = torch.deg2rad(latlon[:, 0])
    longitude = torch.deg2rad(latlon[:, 1])
    sqrt3 = torch.sqrt(torch.tensor(3.0, dtype=latlon.dtype, device=latlon.device))
    theta = torch.asin((sqrt3 / 2) * torch.sin(latitude))
    denominator = 3 * (9 * A4 * theta**8 + 7 * A3 * theta**6 + 3 * A2 * theta**2 + A1)
    x = (2 * sqrt3 * longitude * torch.cos(theta)) / denominator
    y = A4 * theta**9 + A3 * theta**7 + A2 * theta**3 + A1 * theta
    return (torch.stack((x, y), dim=1) * SCALE) / 180


class GaussianFourierFeatures(nn.Module):
    """``[cos(2 pi v B^T), sin(2 pi v B^T)]`` with a fixed (non-trainable) ``B`` of shape ``(features, 2)``."""

    def __init__(self, sigma: float, features: int = RFF_FEATURES, generator: torch.Generator | None = None):
        super().__init__()
        self.b = nn.Parameter(torch.randn((features, 2), generator=generator) * sigma, requires_grad=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        vp = 2 * math.pi * v @ self.b.T
        return torch.cat((torch.cos(vp), torch.sin(vp)), dim=-1)


class GeoCLIPBranch(nn.Module):
    """One sigma: random Fourier features, then the MLP (named ``capsule`` and ``head`` as in the checkpoint)."""

    def __init__(self, sigma: float, generator: torch.Generator | None = None):
        super().__init__()
        self.sigma = float(sigma)
        self.capsule = nn.Sequential(
            GaussianFourierFeatures(sigma, generator=generator),
            nn.Linear(2 * RFF_FEATURES, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(HIDDEN, EMBEDDING_DIM))

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        return self.head(self.capsule(projected))


class GeoCLIPLocationEncoder(LocationEncoder):
    """GeoCLIP location encoder: ``(N, 2)`` ``[lat, lon]`` degrees to ``(N, 512)`` features.

    Build it with ``geoembed.create_location_encoder("geoclip")`` (pretrained) or
    ``create_location_encoder("geoclip", pretrained=False, seed=0)`` (same architecture, random weights).
    """

    embedding_dim = EMBEDDING_DIM

    def __init__(self, sigmas: Sequence[float] = DEFAULT_SIGMAS, seed: int | None = None, precision: str = "float32"):
        super().__init__()
        if not sigmas or any(not (isinstance(s, (int, float)) and s > 0) for s in sigmas):
            raise ValueError(f"sigmas must be a non-empty sequence of positive numbers, got {sigmas!r}.")
        self.sigmas = tuple(float(s) for s in sigmas)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        if seed is not None:  # nn.Linear draws from the global generator: fork it so seeding is reproducible & local
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self._build(generator)
        else:
            self._build(generator)
        self.weights: WeightsRecord | None = None
        self.precision = "float32"
        self.set_precision(precision)
        self._inference_cache: tuple | None = None

    def set_precision(self, precision: str) -> "GeoCLIPLocationEncoder":
        """Choose the inference precision (``"float32"``, exact; or ``"bfloat16"``, faster); training is float32."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        self.precision = precision
        return self

    @property
    def batch_rtol(self) -> float:
        """How far a point's embedding may move with its batch, times its L2 norm (geoembed.testing's contract).

        float32 keeps geoembed's guarantee (1e-4); bfloat16 MLPs round to 8 significant bits, so 2**-8 (measured:
        4e-4 between batch sizes 1 and 10).
        """
        return ACROSS_BATCH_RTOL if self.precision == "float32" else 2.0**-8

    @property
    def identity(self) -> str:
        base = super().identity
        return base if self.precision == "float32" else f"{base}:{self.precision}"

    def _build(self, generator: torch.Generator | None) -> None:
        for i, sigma in enumerate(self.sigmas):
            self.add_module(f"LocEnc{i}", GeoCLIPBranch(sigma, generator=generator))

    @property
    def branches(self) -> list[GeoCLIPBranch]:
        return [getattr(self, f"LocEnc{i}") for i in range(len(self.sigmas))]

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        projected = equal_earth_projection(latlon)
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return self._forward_modules(projected)  # gradients needed (training): no precomputed weight copies
        return self._forward_inference(projected)

    def _forward_modules(self, projected: torch.Tensor) -> torch.Tensor:
        """The reference computation through the modules (used for training: gradients reach every parameter)."""
        out = torch.zeros(projected.shape[0], EMBEDDING_DIM, dtype=projected.dtype, device=projected.device)
        for branch in self.branches:
            out += branch(projected)
        return out

    def _forward_inference(self, projected: torch.Tensor) -> torch.Tensor:
        """The same function with fewer kernel calls, and optionally bfloat16 MLPs.

        All branches' Fourier features come from one matrix product; each MLP layer is one ``addmm`` with its bias
        fused and ReLU in place. (Running the three branches as one batched product over stacked weights measured
        slower here: CPU ``bmm`` is not as well tuned as ``addmm``.) Float32 results equal the module path to float32
        rounding; tests check <= 1e-5 against the reference implementation.
        """
        if projected.shape[0] > INFERENCE_CHUNK:  # row-independent: chunks keep activations cache-sized
            return torch.cat([self._forward_inference(part) for part in projected.split(INFERENCE_CHUNK)])
        rff, per_branch = self._inference_weights()
        vp = (2 * math.pi * projected) @ rff.T  # (N, branches * 256)
        out = torch.zeros(projected.shape[0], EMBEDDING_DIM, dtype=torch.float32, device=projected.device)
        for i, layers in enumerate(per_branch):
            part = vp[:, i * RFF_FEATURES : (i + 1) * RFF_FEATURES]
            h = torch.cat((torch.cos(part), torch.sin(part)), dim=-1).to(layers[0][0].dtype)
            for weight, bias in layers[:-1]:
                h = torch.addmm(bias, h, weight).relu_()
            weight, bias = layers[-1]
            out += torch.addmm(bias, h, weight)
        return out

    def _inference_weights(self):
        """Weights rearranged for :meth:`_forward_inference`, rebuilt whenever parameters change (load, train, move)."""
        params = list(self.parameters())
        # Version counters see in-place updates (optimiser steps, load_state_dict); tensors created under
        # torch.inference_mode have none, and cannot be updated outside it.
        key = (self.precision, tuple((p.data_ptr(), 0 if p.is_inference() else p._version) for p in params))
        if self._inference_cache is None or self._inference_cache[0] != key:
            dtype = torch.float32 if self.precision == "float32" else torch.bfloat16
            with torch.no_grad():
                rff = torch.cat([b.capsule[0].b for b in self.branches]).detach().float().contiguous()
                layers = [[b.capsule[1], b.capsule[3], b.capsule[5], b.head[0]] for b in self.branches]
                per_branch = [[(lin.weight.detach().T.to(dtype), lin.bias.detach().to(dtype)) for lin in branch]
                              for branch in layers]
            self._inference_cache = (key, (rff, per_branch))
        return self._inference_cache[1]

    # -- loading ----------------------------------------------------------------------------------------------------
    def load_pretrained(self, weights: str = "mp16", weights_path: str | Path | None = None) -> "GeoCLIPLocationEncoder":
        """Load pretrained weights, resolved offline-first (path, cache, the ``geoclip`` wheel, download)."""
        record = _weights_record(weights)
        resolved = resolve_weights(record, weights_path)
        state = load_state_dict(resolved.path)
        self._load_checked(state, resolved.path)
        self.weights = resolved.record
        return self

    def _load_checked(self, state: dict, path: Path) -> None:
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(
                f"{path} is not a GeoCLIP location encoder state dict for sigmas {self.sigmas}: {exc}. A full GeoCLIP "
                f"checkpoint keeps these tensors under the prefix 'location_encoder.': load it with "
                f"GeoCLIPLocationEncoder.from_release(folder) or select those keys yourself."
            ) from None

    @classmethod
    def from_release(cls, folder: str | Path) -> "GeoCLIPLocationEncoder":
        """Load a downloaded Hub release folder (``config.json`` + ``model.safetensors``) of GeoCLIP.

        Both release types of the reference package are read: ``geoclip-location-encoder`` (keys as in this module)
        and ``geoclip-geolocation`` (the location encoder's keys carry the prefix ``location_encoder.``, which is
        selected explicitly here).
        """
        folder = Path(folder)
        config_path, weights_path = folder / "config.json", folder / "model.safetensors"
        if not config_path.is_file() or not weights_path.is_file():
            raise WeightsError(f"{folder} is not a GeoCLIP release: it needs config.json and model.safetensors.")
        config = json.loads(config_path.read_text())
        model_type = config.get("model_type")
        if model_type not in ("geoclip-location-encoder", "geoclip-geolocation") or config.get("format_version") != 1:
            raise WeightsError(
                f"{config_path} describes model_type={model_type!r}, format_version={config.get('format_version')!r}; "
                f"expected a GeoCLIP release ('geoclip-location-encoder' or 'geoclip-geolocation', format_version 1)."
            )
        state = load_state_dict(weights_path)
        if model_type == "geoclip-geolocation":
            prefix = "location_encoder."
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        model = cls(sigmas=config.get("sigma", DEFAULT_SIGMAS))
        model._load_checked(state, weights_path)
        from geoembed.weights import sha256_file

        base = _weights_record("mp16")
        model.weights = WeightsRecord(
            name=f"geoclip.release-{sha256_file(weights_path)[:12]}",
            filename=weights_path.name,
            sha256=sha256_file(weights_path),
            source=f"GeoCLIP release folder {folder}",
            license=base.license,
            citation=base.citation,
            description=f"GeoCLIP {model_type} release",
        )
        return model


def _weights_record(tag: str) -> WeightsRecord:
    try:
        return LOCATION_ENCODER_WEIGHTS[tag]
    except KeyError:
        raise ValueError(
            f"Unknown GeoCLIP weights {tag!r}; available: {sorted(LOCATION_ENCODER_WEIGHTS)}."
        ) from None


def geoclip_location_encoder(
    pretrained: bool = True,
    *,
    weights: str = "mp16",
    weights_path: str | Path | None = None,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    seed: int | None = None,
    precision: str = "float32",
) -> GeoCLIPLocationEncoder:
    """Factory registered as ``"geoclip"``: pretrained GeoCLIP by default, random weights with ``pretrained=False``.

    Args:
        pretrained: load the published weights (``weights`` tag), or keep a random initialisation.
        weights: which published weights (``"mp16"``).
        weights_path: your own file (``.pth``/``.safetensors``) or a folder holding one; a GeoCLIP Hub release
            folder (``config.json`` + ``model.safetensors``) is recognised too.
        sigmas: RFF scales of the random-weights architecture (pretrained weights fix them to 2^0, 2^4, 2^8).
        seed: seed of the random initialisation (for reproducible random baselines).
        precision: inference precision, ``"float32"`` (exact) or ``"bfloat16"`` (faster, opt-in).
    """
    if weights_path is not None and (Path(weights_path) / "config.json").is_file():
        return GeoCLIPLocationEncoder.from_release(weights_path).set_precision(precision).eval()
    if pretrained or weights_path is not None:
        if tuple(float(s) for s in sigmas) != DEFAULT_SIGMAS:
            raise ValueError("The published GeoCLIP weights use sigmas (1, 16, 256); other sigmas need pretrained=False.")
        # Seeded so that building never consumes the caller's random state; the checkpoint replaces these values.
        # (Building on the meta device instead would skip this ~0.1 s, but pulls in torch._dynamo: ~2 s to import.)
        model = GeoCLIPLocationEncoder(seed=0, precision=precision)
        return model.load_pretrained(weights, weights_path).eval()
    return GeoCLIPLocationEncoder(sigmas=sigmas, seed=seed, precision=precision).eval()


def geoclip_bfloat16_location_encoder(**kwargs) -> GeoCLIPLocationEncoder:
    """Factory registered as ``"geoclip-bf16"``: pretrained GeoCLIP with bfloat16 MLPs (faster; opt-in)."""
    kwargs.setdefault("precision", "bfloat16")
    return geoclip_location_encoder(**kwargs)


# -- model cards: attached to the factories here, so loading an entry point gives a carded factory -------------------
GEOCLIP_CARD = ModelCard(
    family="GeoCLIP",
    embedding_dim=512,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model",
    training_data="MP-16: 4.72M geotagged Flickr photos (contrastive with CLIP ViT-L/14 image features)",
    license=LOCATION_ENCODER_MP16.license,
    citation=LOCATION_ENCODER_MP16.citation,
    weights=LOCATION_ENCODER_MP16,
    hyperparameters={"sigmas": (1, 16, 256), "rff_features": 256, "hidden": 1024, "precision": "float32"},
    description="Sum of three random-Fourier-feature MLP branches; the location tower of GeoCLIP.",
    homepage="https://github.com/VicenteVivan/geo-clip",
    training_sources=("mp16",),
)
GEOCLIP_RANDOM_CARD = ModelCard(
    family="GeoCLIP (random weights)",
    embedding_dim=512,
    input_convention="(lat, lon) degrees, Equal Earth projected and scaled inside the model",
    training_data="none (seeded random weights)",
    license="MIT",
    citation=LOCATION_ENCODER_MP16.citation,
    hyperparameters={"sigmas": (1, 16, 256), "seed": 0},
    description="GeoCLIP's architecture with random weights; the gap to geoclip is what pretraining buys.",
)


@with_card(GEOCLIP_RANDOM_CARD)
def geoclip_random(seed: int = 0) -> GeoCLIPLocationEncoder:
    """Factory of ``"geoclip-random"``: GeoCLIP's architecture with seeded random weights (a baseline)."""
    return geoclip_location_encoder(pretrained=False, seed=seed)


with_card(GEOCLIP_CARD)(geoclip_location_encoder)
with_card(
    dataclasses.replace(
        GEOCLIP_CARD,
        hyperparameters={**GEOCLIP_CARD.hyperparameters, "precision": "bfloat16"},
        description="GeoCLIP with bfloat16 MLPs (same weights; cosine similarity to float32 above 0.9999).",
    )
)(geoclip_bfloat16_location_encoder)
