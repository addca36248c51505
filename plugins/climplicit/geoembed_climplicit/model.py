"""Climplicit (Dollinger et al., ICLR 2025 workshops): an implicit neural representation of CHELSA climate.

Architecture, as released (``quickstart/climplicit.py`` of github.com/ecovision-uzh/climplicit and the Hub file):

1. ``(lon, lat)`` degrees scaled to [-1, 1] each (``2 * (lon + 180) / 360 - 1``, ``2 * (lat + 90) / 180 - 1``) and
   the month appended as ``sin(2 pi month / 12)``, ``cos(2 pi month / 12)``: 4 inputs, float32;
2. a ReSIREN: 16 sine layers of width 512. The first applies H-SIREN, ``sin(30 * sinh(2 * z))``; every later layer
   averages its pre-activation with the previous layer's (``z = (W x + b + z_prev) / 2``) before ``sin(z)``;
3. a linear layer to 256 features: the Climplicit embedding of that month.

Without a month the original returns four months (March, June, September, December) concatenated: 1,024 features.
The release also holds ``chelsa_regressor`` (256 -> 11 CHELSA variables), kept so the file loads strictly.
Parameter names mirror the release (``location_encoder.layers.0.weight`` ... ``location_encoder.last_layer.bias``,
``chelsa_regressor.weight``, ``chelsa_regressor.bias``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from geoembed.errors import WeightsError
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.weights import WeightsRecord, load_state_dict, resolve_weights

EMBEDDING_DIM = 256
DIM_HIDDEN = 512
NUM_LAYERS = 16
W0_INITIAL = 30.0
#: The months the original concatenates when no month is given.
DEFAULT_MONTHS = (3, 6, 9, 12)
N_CHELSA = 11
#: Inference processes this many rows at a time: 512 x 512 float32 activations (1 MB) stay in cache (measured
#: fastest of 512 to 16,384 at batch 4,096 on one thread).
ROWS_PER_CHUNK = 512


class ReSirenLayer(nn.Module):
    """One layer: parameters ``weight``, ``bias`` (names as in the release) and SIREN's initialisation."""

    def __init__(self, dim_in: int, dim_out: int, w0: float, is_first: bool):
        super().__init__()
        scale = (1 / dim_in) if is_first else math.sqrt(6.0 / dim_in) / w0
        self.weight = nn.Parameter(torch.empty(dim_out, dim_in).uniform_(-scale, scale))
        self.bias = nn.Parameter(torch.empty(dim_out).uniform_(-scale, scale))


class ReSiren(nn.Module):
    """Climplicit's residual SIREN (``layers`` + ``last_layer``)."""

    def __init__(self, dim_in: int = 4, dim_hidden: int = DIM_HIDDEN, dim_out: int = EMBEDDING_DIM,
                 num_layers: int = NUM_LAYERS):
        super().__init__()
        self.layers = nn.ModuleList(
            ReSirenLayer(dim_in if i == 0 else dim_hidden, dim_hidden, W0_INITIAL if i == 0 else 1.0, i == 0)
            for i in range(num_layers)
        )
        self.last_layer = ReSirenLayer(dim_hidden, dim_out, 1.0, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return self._forward(x, inplace=False)  # training: autograd needs the intermediate tensors
        if x.shape[0] > ROWS_PER_CHUNK:  # rows are independent; cache-sized activations measured faster
            return torch.cat([self._forward(part, inplace=True) for part in x.split(ROWS_PER_CHUNK)])
        return self._forward(x, inplace=True)

    def _forward(self, x: torch.Tensor, inplace: bool) -> torch.Tensor:
        """The reference's operations in the reference's order (in place where allowed: same roundings)."""
        first = self.layers[0]
        z = torch.addmm(first.bias, x, first.weight.T)
        if inplace:
            x = (2 * z).sinh_().mul_(W0_INITIAL).sin_()  # H-SIREN: sin(30 * sinh(2 z))
        else:
            x = torch.sin(W0_INITIAL * torch.sinh(2 * z))
        for layer in self.layers[1:]:
            a = torch.addmm(layer.bias, x, layer.weight.T)
            if inplace:
                z = a.add_(z).div_(2)  # residual on pre-activations: (W x + b + z_prev) / 2
                x = torch.sin(z, out=x)
            else:
                z = (a + z) / 2
                x = torch.sin(z)
        last = self.last_layer
        return torch.addmm(last.bias, x, last.weight.T)


def month_features(month: int, n: int, device=None) -> torch.Tensor:
    """``[sin(2 pi m / 12), cos(2 pi m / 12)]`` for ``n`` rows, float32, computed as the original does."""
    m = torch.ones(n, device=device) * month
    return torch.stack((torch.sin(m / 12 * torch.pi * 2), torch.cos(m / 12 * torch.pi * 2)), dim=1)


class ClimplicitLocationEncoder(LocationEncoder):
    """Climplicit: ``(N, 2)`` ``[lat, lon]`` degrees to ``(N, 256)`` (one month) or ``(N, 1024)`` features, float32.

    Args:
        month: 1..12 for that month's 256-d embedding; None (default) for the original's 1,024-d concatenation of
            March, June, September and December.
    """

    def __init__(self, month: int | None = None, *, dim_hidden: int = DIM_HIDDEN, num_layers: int = NUM_LAYERS,
                 seed: int | None = None):
        super().__init__()
        self.months = _check_month(month)
        self.month = month
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.location_encoder = ReSiren(4, dim_hidden, EMBEDDING_DIM, num_layers)
            self.chelsa_regressor = nn.Linear(EMBEDDING_DIM, N_CHELSA)
        self.embedding_dim = EMBEDDING_DIM * len(self.months)
        self.weights: WeightsRecord | None = None

    @staticmethod
    def position(latlon: torch.Tensor) -> torch.Tensor:
        """The original's ``Direct`` encoding of ``(lon, lat)``: both scaled to [-1, 1], float32."""
        x = latlon.to(torch.float32)
        lon = 2 * (x[:, 1] + 180) / 360 - 1
        lat = 2 * (x[:, 0] + 90) / 180 - 1
        return torch.stack((lon, lat), dim=1)

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        position = self.position(latlon)
        n = position.shape[0]
        # all months in one batch (rows are independent): one product per layer instead of four
        inputs = torch.cat([torch.cat((position, month_features(m, n, position.device)), dim=1)
                            for m in self.months])
        dtype = self.location_encoder.last_layer.weight.dtype
        out = self.location_encoder(inputs.to(dtype))
        return torch.cat(out.split(n), dim=1) if len(self.months) > 1 else out

    def load_release(self, state: Mapping[str, torch.Tensor], source: str) -> "ClimplicitLocationEncoder":
        """Load a release state dict strictly (refusing other families, naming what they are)."""
        if "location_encoder.layers.0.weight" not in state:
            raise WeightsError(f"{source} is not a Climplicit checkpoint: {_describe(state)}")
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{source} does not match Climplicit's architecture (4 inputs, sine layers, 256 "
                               f"outputs, an 11-variable CHELSA head): {exc}") from None
        return self


def _check_month(month) -> tuple[int, ...]:
    if month is None:
        return DEFAULT_MONTHS
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"month must be an integer from 1 (January) to 12 (December), or None for the 1,024-d "
                         f"embedding of March, June, September and December; got {month!r}.")
    return (month,)


def _describe(state: Mapping[str, torch.Tensor]) -> str:
    keys = list(state)
    if any(k.startswith(("model.location.nnet.", "nnet.layers.")) for k in keys):
        family = "it looks like a SatCLIP location encoder (keys 'nnet.*' / 'model.location.nnet.*')"
    elif any(k.startswith("LocEnc0.") for k in keys):
        family = "it looks like a GeoCLIP location encoder (keys 'LocEnc0.*')"
    else:
        family = "no Climplicit keys ('location_encoder.layers.*', 'chelsa_regressor.*')"
    shown = ", ".join(repr(k) for k in keys[:4]) + (" ..." if len(keys) > 4 else "")
    return f"{family}; first keys: {shown or 'none'}."


def from_state_dict(state: Mapping[str, torch.Tensor], month: int | None = None,
                    source: str = "state dict") -> ClimplicitLocationEncoder:
    """Build the Climplicit a state dict describes (width and depth read from its tensors) and load it strictly."""
    if "location_encoder.layers.0.weight" not in state:
        raise WeightsError(f"{source} is not a Climplicit checkpoint: {_describe(state)}")
    first = state["location_encoder.layers.0.weight"]
    num_layers = sum(1 for k in state if k.startswith("location_encoder.layers.") and k.endswith(".weight"))
    model = ClimplicitLocationEncoder(month, dim_hidden=first.shape[0], num_layers=num_layers, seed=0)
    return model.load_release(state, source).eval()


def load_climplicit(record: WeightsRecord, month: int | None = None,
                    weights_path: str | Path | None = None) -> ClimplicitLocationEncoder:
    """Resolve ``record`` (or ``weights_path``: a ``model.safetensors`` or a Hub folder) and load it."""
    _check_month(month)  # before any file is touched
    resolved = resolve_weights(record, weights_path)
    model = from_state_dict(load_state_dict(resolved.path), month, str(resolved.path))
    model.weights = resolved.record
    return model
