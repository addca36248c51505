"""SatCLIP's location encoder (Klemmer et al., AAAI 2025), written to load the released checkpoints as they are.

Architecture (``satclip/location_encoder.py`` of github.com/microsoft/satclip, and the released ``.ckpt`` files):

1. spherical harmonics of ``(lon, lat)`` up to degree ``L - 1`` (``L * L`` features), in SatCLIP's closed-form
   ("analytic") evaluation, see :mod:`geoembed_satclip.spherical_harmonics`;
2. a SIREN: ``num_hidden_layers`` layers ``x -> sin(w0 * (W x + b))`` of width ``capacity`` (``w0 = 30`` in the
   first layer, 1 after; dropout p=0.5 after each linear map in training mode, as the original), then a linear layer
   to 256 features. The original initialisation: first layer U(-1/d_in, 1/d_in), others U(+-sqrt(6/d_in)/w0).

Everything runs in float64, as in the original (``LocationEncoder(...).double()``). Parameter names mirror the
checkpoint: the Lightning file holds this module's tensors under ``model.location.`` (``model.location.nnet.layers.0
.weight``, ..., ``model.location.nnet.last_layer.bias``), selected here explicitly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from geoembed.errors import WeightsError
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.weights import WeightsRecord, resolve_weights

from geoembed_satclip.spherical_harmonics import CHUNK, MAX_L, AnalyticSphericalHarmonics

EMBEDDING_DIM = 256
CAPACITY = 512  # hidden width of the released location encoders
NUM_HIDDEN_LAYERS = 2
W0, W0_INITIAL = 1.0, 30.0
#: Key prefixes under which SatCLIP location-encoder tensors are found: the Lightning checkpoint, a SatCLIP model's
#: own state dict, and a bare location encoder (also torchgeo's ``SatCLIP`` module).
PREFIXES = ("model.location.", "location.", "")


class SirenLayer(nn.Module):
    """``sin(w0 * (x W^T + b))`` (or the identity after the last layer), with SatCLIP's initialisation."""

    def __init__(self, dim_in: int, dim_out: int, w0: float, is_first: bool, activation: bool = True,
                 dropout: bool = False):
        super().__init__()
        scale = (1 / dim_in) if is_first else math.sqrt(6.0 / dim_in) / w0
        self.weight = nn.Parameter(torch.empty(dim_out, dim_in, dtype=torch.float64).uniform_(-scale, scale))
        self.bias = nn.Parameter(torch.empty(dim_out, dtype=torch.float64).uniform_(-scale, scale))
        self.w0 = float(w0)
        self.activation = activation
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        if self.dropout and self.training:
            out = F.dropout(out, training=True)
        if not self.activation:
            return out
        if torch.is_grad_enabled() and out.requires_grad:
            return torch.sin(self.w0 * out)
        return out.mul_(self.w0).sin_()  # inference: same operations in place


class SirenNet(nn.Module):
    """SatCLIP's SIREN: ``layers`` (sine, dropout in training) and a linear ``last_layer``."""

    def __init__(self, dim_in: int, dim_hidden: int, dim_out: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            SirenLayer(dim_in if i == 0 else dim_hidden, dim_hidden, W0_INITIAL if i == 0 else W0, is_first=i == 0,
                       dropout=True)
            for i in range(num_layers)
        )
        self.last_layer = SirenLayer(dim_hidden, dim_out, W0, is_first=False, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


class SatCLIPLocationEncoder(LocationEncoder):
    """SatCLIP location encoder: ``(N, 2)`` ``[lat, lon]`` degrees to ``(N, 256)`` float64 features.

    The original takes ``(lon, lat)``; this class receives geoembed's ``[lat, lon]`` rows and swaps them.
    """

    def __init__(self, legendre_polys: int = 10, capacity: int = CAPACITY, num_hidden_layers: int = NUM_HIDDEN_LAYERS,
                 embed_dim: int = EMBEDDING_DIM, seed: int | None = None):
        super().__init__()
        for name, value in (("capacity", capacity), ("num_hidden_layers", num_hidden_layers),
                            ("embed_dim", embed_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.posenc = AnalyticSphericalHarmonics(legendre_polys)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.nnet = SirenNet(self.posenc.embedding_dim, capacity, embed_dim, num_hidden_layers)
        self.legendre_polys = legendre_polys
        self.capacity = capacity
        self.num_hidden_layers = num_hidden_layers
        self.embedding_dim = embed_dim
        self.weights: WeightsRecord | None = None

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        if latlon.shape[0] > CHUNK:  # rows are independent; cache-sized chunks (see spherical_harmonics.CHUNK)
            return torch.cat([self.forward(part) for part in latlon.split(CHUNK)])
        lonlat = latlon.to(torch.float64)[:, [1, 0]]
        return self.nnet(self.posenc(lonlat))

    def encode_lonlat(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The original's call convention: ``(N, 2)`` ``(lon, lat)`` degrees (no validation)."""
        return self.nnet(self.posenc(lonlat.to(torch.float64)))

    # -- loading ----------------------------------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any], source: str = "checkpoint") -> "SatCLIPLocationEncoder":
        """Build the encoder a checkpoint describes (architecture read from its tensors), load it strictly, eval mode."""
        state, hyper = location_state_dict(checkpoint, source)
        first = state["nnet.layers.0.weight"]
        legendre = math.isqrt(first.shape[1])
        num_layers = sum(1 for k in state if k.startswith("nnet.layers.") and k.endswith(".weight"))
        model = cls(legendre_polys=_checked_legendre(legendre, first.shape[1], source), capacity=first.shape[0],
                    num_hidden_layers=num_layers, embed_dim=state["nnet.last_layer.weight"].shape[0], seed=0)
        if hyper is not None and hyper.get("legendre_polys") not in (None, legendre):
            raise WeightsError(f"{source}: hyper_parameters say legendre_polys={hyper['legendre_polys']}, but the "
                               f"first layer takes {first.shape[1]} = {legendre}^2 features; the file is inconsistent.")
        try:
            model.load_state_dict({k: v.to(torch.float64) for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{source} is not a SatCLIP location encoder state dict: {exc}") from None
        return model.eval()  # inference mode: the original's SIREN applies dropout when training


def _checked_legendre(legendre: int, features: int, source: str) -> int:
    if legendre * legendre != features or not 1 <= legendre <= MAX_L:
        raise WeightsError(f"{source}: the first SIREN layer takes {features} features, not L*L for an L from 1 to "
                           f"{MAX_L}; this is not a SatCLIP spherical-harmonics location encoder.")
    return legendre


def location_state_dict(checkpoint: Mapping[str, Any], source: str = "checkpoint"):
    """Select the location encoder's tensors (``nnet.*``) from a Lightning checkpoint or a plain state dict.

    Returns ``(state_dict, hyper_parameters or None)``. Refuses checkpoints of other families or settings, naming
    what they are.
    """
    hyper = checkpoint.get("hyper_parameters") if isinstance(checkpoint.get("hyper_parameters"), Mapping) else None
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping):
        raise WeightsError(f"{source} holds no state dict (found {type(state).__name__} under 'state_dict').")
    if hyper is not None:
        expected = {"le_type": "sphericalharmonics", "pe_type": "siren", "harmonics_calculation": "analytic"}
        for key, value in expected.items():
            if key in hyper and hyper[key] != value:
                raise WeightsError(
                    f"{source} is a SatCLIP checkpoint with {key}={hyper[key]!r}; geoembed implements the released "
                    f"configuration ({key}={value!r}) only.")
    for prefix in PREFIXES:
        if f"{prefix}nnet.layers.0.weight" in state:
            selected = {k[len(prefix):]: v for k, v in state.items()
                        if k.startswith(prefix + "nnet.") and isinstance(v, torch.Tensor)}
            return selected, hyper
    raise WeightsError(f"{source} is not a SatCLIP checkpoint: {describe_keys(state)}")


def describe_keys(state: Mapping[str, Any]) -> str:
    """Name the family a state dict belongs to, from its keys (for refusal messages)."""
    keys = [k for k in state if isinstance(k, str)]
    if any(k.startswith("location_encoder.layers.") for k in keys) and any(k.startswith("chelsa_regressor") for k in keys):
        family = "it looks like a Climplicit checkpoint (keys 'location_encoder.*', 'chelsa_regressor.*')"
    elif any(k.startswith("LocEnc0.") for k in keys):
        family = "it looks like a GeoCLIP location encoder (keys 'LocEnc0.*')"
    else:
        family = "no SatCLIP location encoder keys ('model.location.nnet.*' or 'nnet.*')"
    shown = ", ".join(repr(k) for k in keys[:4]) + (" ..." if len(keys) > 4 else "")
    return f"{family}; first keys: {shown or 'none'}."


def read_checkpoint(path: str | Path) -> Mapping[str, Any]:
    """Read a ``.ckpt``/``.pth`` (``torch.load(weights_only=True)``: no pickled code) or ``.safetensors`` file."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"Cannot read weights file {path}: {type(exc).__name__}: {exc}. It is corrupt or not a PyTorch/"
            f"safetensors checkpoint (only safe formats load: safetensors, or torch files without pickled code)."
        ) from exc
    if not isinstance(checkpoint, Mapping):
        raise WeightsError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dictionary.")
    return checkpoint


def load_satclip(name: str, record: WeightsRecord, legendre_polys: int,
                 weights_path: str | Path | None = None) -> SatCLIPLocationEncoder:
    """Resolve ``record`` (or ``weights_path``) offline-first, verify it, and build the encoder it holds."""
    resolved = resolve_weights(record, weights_path)
    model = SatCLIPLocationEncoder.from_checkpoint(read_checkpoint(resolved.path), source=str(resolved.path))
    if model.legendre_polys != legendre_polys:
        raise WeightsError(
            f"{resolved.path} holds an L={model.legendre_polys} SatCLIP location encoder, but {name!r} is the "
            f"L={legendre_polys} model. Use 'satclip-<tower>-l{model.legendre_polys}' for this file.")
    model.weights = resolved.record
    return model.eval()
