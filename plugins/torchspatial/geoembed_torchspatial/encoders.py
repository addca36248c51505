"""TorchSpatial's location encoders, written from the reference code in github.com/seai-lab/TorchSpatial (``main/``).

Every TorchSpatial location encoder is a *position encoder* (a fixed function of the coordinates, sometimes with a
few stored parameters) followed by a feed-forward network (``MultiLayerFeedForwardNN``). The embedding geoembed
returns is the network's output: the ``num_filts``-wide features that feed the released model's class head.

What the reference does, and this module reproduces (read from ``main/SpatialRelationEncoder.py``, ``module.py``,
``utils.py``, ``models.py``):

- Input: ``(lon, lat)`` in degrees, not normalised (``convert_loc_to_tensor_no_normalize``), as float32. geoembed's
  encoders receive ``[lat, lon]`` rows and swap them.
- Position encodings (per point; ``f`` runs over the frequencies):

  ======================  ===================================================================================
  Space2Vec-grid          for lon then lat, for each f: ``[sin(x f), cos(x f)]`` (x in degrees)
  Space2Vec-theory        a_k = [lon, lat] . u_k for 3 unit vectors 120 degrees apart; per f:
                          ``[sin a1 f, cos a1 f, sin a2 f, cos a2 f, sin a3 f, cos a3 f]``
  Sphere2Vec-sphereC      per f, with lon/lat scaled ``x f pi / 180``: ``[sin lat, cos lat cos lon, cos lat sin lon]``
  Sphere2Vec-sphereC+     per f: ``[sin lat, cos lat, sin lon, cos lon, cos lat cos lon, cos lat sin lon]``
  Sphere2Vec-sphereM      per f, scaled (f) and unscaled (1) angles: ``[sin lat_f, cos lat_f cos lon_1,
                          cos lat_1 cos lon_f, cos lat_f sin lon_1, cos lat_1 sin lon_f]``
  NeRF                    unit vector (x, y, z); ``[sin(x f) for f, sin(y f)..., sin(z f)..., cos(x f)..., ...]``
                          with the 16 NeRF frequencies ``pi 2^k`` (the reference ignores ``frequency_num`` here)
  rff                     ``sqrt(2/D) cos([lon', lat'] W + b)``, lon'/lat' min-max scaled to [-1, 1] over the
                          checkpoint's ``map_range``; W (2 x D) and b (D) are stored in the checkpoint
  tile_ffn                the embedding of the grid cell holding the point (cells of ``interval`` degrees over
                          ``map_range``; the reference never passes its ``min_radius`` as the interval, so the
                          1,000,000-degree default applies: one cell, the same vector everywhere)
  wrap_ffn                ``[sin(pi lon/180), sin(pi lat/90), cos(pi lon/180), cos(pi lat/90)]``
  xyz                     ``[cos lat cos lon, cos lat sin lon, sin lat]``
  ======================  ===================================================================================

  Geometric frequencies (Space2Vec, Sphere2Vec): ``f_i = 1 / (min_radius * (max_radius/min_radius)^(i/(F-1)))``.
  The reference computes these encodings in float64 NumPy and casts them to float32; so does this module (in
  torch), except rff, whose stored W and b are float32 and which the reference evaluates in float32.
- The network: ``num_hidden_layer`` hidden layers of ``hidden_dim`` then an output layer of ``num_filts``. Every
  layer, the last one included, is ``linear -> activation -> dropout (identity in eval) -> + input (skip, only when
  widths match) -> LayerNorm (hidden layers only, eps 1e-5)``. So a ReLU model's embedding is non-negative.
  The reference's dropout (p = 0.5) only acts in training; these encoders are for inference and have none, so
  fine-tuning them is not the reference's training procedure.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geoembed.location_encoders.contract import LocationEncoder
from geoembed.weights import WeightsRecord

#: geoembed's type slug -> the reference's ``spa_enc_type``.
TYPES: dict[str, str] = {
    "sphere2vec-spherec": "Sphere2Vec-sphereC",
    "sphere2vec-spherecplus": "Sphere2Vec-sphereC+",
    "sphere2vec-spherem": "Sphere2Vec-sphereM",
    "space2vec-grid": "Space2Vec-grid",
    "space2vec-theory": "Space2Vec-theory",
    "nerf": "NeRF",
    "rff": "rff",
    "tile-ffn": "tile_ffn",
    "wrap-ffn": "wrap_ffn",
    "xyz": "xyz",
}
SPA_ENC_TYPES = {v: k for k, v in TYPES.items()}

ACTIVATIONS = ("relu", "leakyrelu", "sigmoid", "tanh", "gelu")
LEAKY_SLOPE = 0.2  # module.get_activation_function: nn.LeakyReLU(negative_slope=0.2)
NERF_FREQUENCIES = 16  # NERFSpatialRelationLocationEncoder is built without frequency_num: its default 16 applies
TILE_INTERVAL = 1_000_000.0  # GridLookupSpatialRelationPositionEncoder's default cell size (degrees), see above
LAYERNORM_EPS = 1e-5  # nn.LayerNorm's default, used by SingleFeedForwardNN
#: Rows processed at once at inference: larger batches are split so activations stay cache-sized.
INFERENCE_CHUNK = 8192


@dataclass(frozen=True)
class TorchSpatialConfig:
    """The architecture of one TorchSpatial location encoder, as the checkpoint's ``params`` describe it."""

    spa_enc_type: str
    frequency_num: int
    min_radius: float
    max_radius: float
    map_range: tuple[float, float, float, float]
    num_hidden_layer: int
    hidden_dim: int
    num_filts: int
    activation: str
    use_layernorm: bool
    skip_connection: bool
    rbf_kernel_size: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if self.spa_enc_type not in SPA_ENC_TYPES:
            problems.append(f"spa_enc_type {self.spa_enc_type!r} is not one of {sorted(SPA_ENC_TYPES)}")
        for name in ("frequency_num", "num_filts", "hidden_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
                problems.append(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.num_hidden_layer, bool) or not isinstance(self.num_hidden_layer, int) or not (
            0 <= self.num_hidden_layer <= 64
        ):
            problems.append(f"num_hidden_layer must be an int in [0, 64], got {self.num_hidden_layer!r}")
        for name in ("min_radius", "max_radius", "rbf_kernel_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                problems.append(f"{name} must be a positive number, got {value!r}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"spa_f_act {self.activation!r} is not one of {ACTIVATIONS}")
        if len(self.map_range) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in self.map_range):
            problems.append(f"map_range must be 4 finite numbers, got {self.map_range!r}")
        elif not (self.map_range[0] < self.map_range[1] and self.map_range[2] < self.map_range[3]):
            problems.append(f"map_range must be (lon_min, lon_max, lat_min, lat_max) with min < max, got {self.map_range}")
        if self.spa_enc_type in ("Space2Vec-grid", "Space2Vec-theory", "Sphere2Vec-sphereC", "Sphere2Vec-sphereC+",
                                 "Sphere2Vec-sphereM") and isinstance(self.frequency_num, int) and self.frequency_num < 2:
            problems.append("geometric frequencies need frequency_num >= 2")
        if problems:
            raise ValueError("Invalid TorchSpatial configuration: " + "; ".join(problems) + ".")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "TorchSpatialConfig":
        """Read the configuration from a checkpoint's ``params`` dict (the reference's argparse options)."""
        required = ("spa_enc_type", "frequency_num", "min_radius", "max_radius", "map_range", "num_hidden_layer",
                    "hidden_dim", "num_filts", "spa_f_act", "use_layn", "skip_connection")
        missing = [k for k in required if k not in params]
        if missing:
            raise ValueError(f"the checkpoint's params lack {missing}")
        if params.get("freq_init", "geometric") != "geometric":
            raise ValueError(f"freq_init {params.get('freq_init')!r} is not supported (only 'geometric' is published)")
        map_range = params["map_range"]
        if not isinstance(map_range, (list, tuple)):
            raise ValueError(f"map_range must be a list of 4 numbers, got {type(map_range).__name__}")
        return cls(
            spa_enc_type=params["spa_enc_type"],
            frequency_num=params["frequency_num"],
            min_radius=params["min_radius"],
            max_radius=params["max_radius"],
            map_range=tuple(map_range),  # type: ignore[arg-type]
            num_hidden_layer=params["num_hidden_layer"],
            hidden_dim=params["hidden_dim"],
            num_filts=params["num_filts"],
            activation=params["spa_f_act"],
            use_layernorm=bool(params["use_layn"]),
            skip_connection=bool(params["skip_connection"]),
            rbf_kernel_size=params.get("rbf_kernel_size", 1.0),
        )

    @property
    def type_slug(self) -> str:
        return SPA_ENC_TYPES[self.spa_enc_type]

    @property
    def position_dim(self) -> int:
        """Width of the position encoding, i.e. the network's input."""
        f = self.frequency_num
        return {
            "Space2Vec-grid": 4 * f,
            "Space2Vec-theory": 6 * f,
            "Sphere2Vec-sphereC": 3 * f,
            "Sphere2Vec-sphereC+": 6 * f,
            "Sphere2Vec-sphereM": 5 * f,
            "NeRF": 6 * NERF_FREQUENCIES,
            "rff": f,
            "tile_ffn": self.num_filts,
            "wrap_ffn": 4,
            "xyz": 3,
        }[self.spa_enc_type]

    @property
    def tile_grid(self) -> tuple[int, int]:
        """(columns, rows) of tile_ffn's lookup grid."""
        lon_min, lon_max, lat_min, lat_max = self.map_range
        return (int(math.ceil(float(lon_max - lon_min) / TILE_INTERVAL)),
                int(math.ceil(float(lat_max - lat_min) / TILE_INTERVAL)))

    def hyperparameters(self) -> dict[str, Any]:
        """Plain settings for model cards (what the reference reads from ``params``)."""
        out = asdict(self)
        out["map_range"] = list(self.map_range)
        out["position_dim"] = self.position_dim
        if self.spa_enc_type == "NeRF":
            out["frequency_num"] = NERF_FREQUENCIES
            out["note"] = f"params say frequency_num={self.frequency_num}; the reference NeRF encoder uses 16"
        return out


_BUFFERS = threading.local()


def _buffer(slot: int, rows: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """A ``(rows, width)`` CPU scratch tensor for this thread, reused across calls; it grows to the largest request
    (forward passes at most ``INFERENCE_CHUNK`` rows: 16 MB per slot at width 512)."""
    buffers = getattr(_BUFFERS, "by_slot", None)
    if buffers is None:
        buffers = _BUFFERS.by_slot = {}
    buf = buffers.get(slot)
    if buf is None or buf.dtype != dtype or buf.shape[1] != width or buf.shape[0] < rows:
        buf = buffers[slot] = torch.empty((rows, width), dtype=dtype)
    return buf[:rows]


def geometric_frequencies(frequency_num: int, max_radius: float, min_radius: float) -> np.ndarray:
    """The reference's ``_cal_freq_list(freq_init="geometric")``: float64, ``1 / timescales``."""
    log_increment = math.log(float(max_radius) / float(min_radius)) / (frequency_num * 1.0 - 1)
    timescales = min_radius * np.exp(np.arange(frequency_num).astype(float) * log_increment)
    return 1.0 / timescales


class _FFNLayer(nn.Module):
    """One ``SingleFeedForwardNN``: ``linear -> act -> (+ input) -> LayerNorm``; names match the checkpoint."""

    def __init__(self, in_dim: int, out_dim: int, layernorm: bool, skip: bool):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.layernorm = nn.LayerNorm(out_dim, eps=LAYERNORM_EPS) if layernorm else None
        self.skip = bool(skip and in_dim == out_dim)


class _FFN(nn.Module):
    """``MultiLayerFeedForwardNN`` (the structure; the computation is in :meth:`TorchSpatialEncoder._network`)."""

    def __init__(self, config: TorchSpatialConfig):
        super().__init__()
        c = config
        if c.num_hidden_layer <= 0:
            layers = [_FFNLayer(c.position_dim, c.num_filts, False, False)]
        else:
            layers = [_FFNLayer(c.position_dim, c.hidden_dim, c.use_layernorm, c.skip_connection)]
            layers += [_FFNLayer(c.hidden_dim, c.hidden_dim, c.use_layernorm, c.skip_connection)
                       for _ in range(c.num_hidden_layer - 1)]
            layers.append(_FFNLayer(c.hidden_dim, c.num_filts, False, False))
        self.layers = nn.ModuleList(layers)


class _PositionParameters(nn.Module):
    """Stored parts of a position encoder: rff's ``dirvec``/``shift``, tile_ffn's ``embedding``."""

    def __init__(self, config: TorchSpatialConfig, generator: torch.Generator | None):
        super().__init__()
        if config.spa_enc_type == "rff":
            std = math.sqrt(config.rbf_kernel_size)
            self.dirvec = nn.Parameter(torch.randn(2, config.frequency_num, generator=generator) * std,
                                       requires_grad=False)
            self.shift = nn.Parameter(torch.rand(config.frequency_num, generator=generator) * (2 * math.pi),
                                      requires_grad=False)
        elif config.spa_enc_type == "tile_ffn":
            cols, rows = config.tile_grid
            self.embedding = nn.Embedding(cols * rows, config.num_filts)
            with torch.no_grad():
                self.embedding.weight.normal_(0, 1.0 / config.num_filts, generator=generator)


class TorchSpatialEncoder(LocationEncoder):
    """A TorchSpatial location encoder: ``(N, 2)`` ``[lat, lon]`` degrees to ``(N, num_filts)`` features.

    Build it through the registry (``geoembed.create_location_encoder("torchspatial-sphere2vec-spherec.yfcc")``) or
    from a checkpoint with :func:`geoembed_torchspatial.load_checkpoint`. The original code takes ``(lon, lat)``; this
    class takes geoembed's ``[lat, lon]`` and swaps.
    """

    def __init__(self, config: TorchSpatialConfig, seed: int | None = 0):
        super().__init__()
        self.config = config
        self.embedding_dim = config.num_filts
        self.weights: WeightsRecord | None = None
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.random.fork_rng(devices=[]):  # nn.Linear draws from the global generator: keep it local
            if seed is not None:
                torch.manual_seed(seed)
            self.position_encoder = _PositionParameters(config, generator)
            self.ffn = _FFN(config)
        if config.spa_enc_type in ("Space2Vec-grid", "Space2Vec-theory", "Sphere2Vec-sphereC",
                                   "Sphere2Vec-sphereC+", "Sphere2Vec-sphereM"):
            freqs = geometric_frequencies(config.frequency_num, config.max_radius, config.min_radius)
        elif config.spa_enc_type == "NeRF":
            freqs = np.pi * np.exp2(np.arange(NERF_FREQUENCIES).astype(float))
        else:
            freqs = np.zeros(0)
        # float64 and deliberately not a buffer: Apple's MPS has no float64, so positions are encoded on the CPU there
        self.frequencies = torch.from_numpy(freqs)
        self._frequencies_on: dict[torch.device, torch.Tensor] = {torch.device("cpu"): self.frequencies}

    # -- the computation ----------------------------------------------------------------------------------------
    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        if latlon.ndim != 2 or latlon.shape[1] != 2:
            raise ValueError(f"expected an (N, 2) tensor of [lat, lon] degrees, got shape {tuple(latlon.shape)}.")
        if latlon.shape[0] > INFERENCE_CHUNK and not torch.is_grad_enabled():
            return torch.cat([self.forward(part) for part in latlon.split(INFERENCE_CHUNK)])
        if self.config.spa_enc_type == "tile_ffn" and not torch.is_grad_enabled():
            # The network sees only the cell's embedding: run it once per cell and look the result up (same function,
            # row by row; the reference runs it on every point).
            return self._cell_outputs()[self._tile_index(latlon)]
        return self._network(self.position_encoding(latlon))

    def _cell_outputs(self) -> torch.Tensor:
        weights = [p for p in self.parameters()]
        key = tuple((p.data_ptr(), p.device, 0 if p.is_inference() else p._version) for p in weights)
        cached = getattr(self, "_cell_cache", None)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                table = self._network(self.position_encoder.embedding.weight.to(torch.float32))
            cached = self._cell_cache = (key, table)
        return cached[1]

    def position_encoding(self, latlon: torch.Tensor) -> torch.Tensor:
        """The position encoder's output (float32), the network's input."""
        kind = self.config.spa_enc_type
        if kind == "rff":
            return self._rff(latlon)
        if kind == "tile_ffn":
            return self._tile(latlon)
        if latlon.device.type == "mps":  # no float64 there
            return self.position_encoding(latlon.cpu()).to(latlon.device)
        freqs = self._frequencies_on.get(latlon.device)
        if freqs is None:
            freqs = self._frequencies_on[latlon.device] = self.frequencies.to(latlon.device)
        x = latlon.to(torch.float64)
        lon, lat = x[:, 1], x[:, 0]
        n = x.shape[0]
        if kind == "Space2Vec-grid":
            angles = torch.stack((lon, lat), dim=1)[:, :, None] * freqs  # (N, 2, F)
            enc = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)  # (N, 2, F, 2)
        elif kind == "Space2Vec-theory":
            half, root = -1.0 / 2.0, math.sqrt(3) / 2.0
            a = torch.stack((lon * 1.0 + lat * 0.0, lon * half + lat * root, lon * half + lat * -root), dim=1)
            angles = a[:, None, :] * freqs[None, :, None]  # (N, F, 3)
            enc = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1)  # (N, F, 3, 2)
        elif kind in ("Sphere2Vec-sphereC", "Sphere2Vec-sphereC+"):
            scaled = torch.stack((lon, lat), dim=1)[:, :, None] * freqs * math.pi / 180  # (N, 2, F)
            lon_f, lat_f = scaled[:, 0], scaled[:, 1]
            lat_sin, lat_cos, lon_sin, lon_cos = torch.sin(lat_f), torch.cos(lat_f), torch.sin(lon_f), torch.cos(lon_f)
            if kind == "Sphere2Vec-sphereC":
                parts = (lat_sin, lat_cos * lon_cos, lat_cos * lon_sin)
            else:
                parts = (lat_sin, lat_cos, lon_sin, lon_cos, lat_cos * lon_cos, lat_cos * lon_sin)
            enc = torch.stack(parts, dim=-1)  # (N, F, 3 or 6)
        elif kind == "Sphere2Vec-sphereM":
            rad = torch.stack((lon, lat), dim=1) * math.pi / 180  # (N, 2)
            lon1, lat1 = rad[:, 0:1], rad[:, 1:2]
            scaled = rad[:, :, None] * freqs  # (N, 2, F)
            lon_f, lat_f = scaled[:, 0], scaled[:, 1]
            lat_f_cos, lat1_cos = torch.cos(lat_f), torch.cos(lat1)
            enc = torch.stack((torch.sin(lat_f), lat_f_cos * torch.cos(lon1), lat1_cos * torch.cos(lon_f),
                               lat_f_cos * torch.sin(lon1), lat1_cos * torch.sin(lon_f)), dim=-1)  # (N, F, 5)
        elif kind in ("xyz", "NeRF"):
            lon_r, lat_r = torch.deg2rad(lon), torch.deg2rad(lat)
            xyz = torch.stack((torch.cos(lat_r) * torch.cos(lon_r), torch.cos(lat_r) * torch.sin(lon_r),
                               torch.sin(lat_r)), dim=1)  # (N, 3)
            if kind == "xyz":
                enc = xyz
            else:
                angles = xyz[:, :, None] * freqs  # (N, 3, F)
                enc = torch.cat((torch.sin(angles), torch.cos(angles)), dim=1)  # (N, 6, F)
        elif kind == "wrap_ffn":
            scaled = torch.stack((lon / 180.0, lat / 90.0), dim=1)
            enc = torch.cat((torch.sin(math.pi * scaled), torch.cos(math.pi * scaled)), dim=1)  # (N, 4)
        else:  # pragma: no cover - TorchSpatialConfig refuses other types
            raise AssertionError(kind)
        return enc.reshape(n, -1).to(torch.float32)

    def _rff(self, latlon: torch.Tensor) -> torch.Tensor:
        lon_min, lon_max, lat_min, lat_max = self.config.map_range
        x = (latlon.cpu() if latlon.device.type == "mps" else latlon).to(torch.float64)
        lon = ((x[:, 1] - lon_min) * 1.0 / (lon_max - lon_min)) * 2 - 1  # data_utils.coord_normalize, float64
        lat = ((x[:, 0] - lat_min) * 1.0 / (lat_max - lat_min)) * 2 - 1
        pe = self.position_encoder
        coords = torch.stack((lon, lat), dim=1).to(pe.dirvec.device, torch.float32)  # the reference's FloatTensor
        projected = torch.addmm(pe.shift.to(torch.float32), coords, pe.dirvec.to(torch.float32))
        return torch.cos(projected) * math.sqrt(2.0 / self.config.frequency_num)

    def _tile_index(self, latlon: torch.Tensor) -> torch.Tensor:
        lon_min, _, lat_min, _ = self.config.map_range
        cols, rows = self.config.tile_grid
        x = (latlon.cpu() if latlon.device.type == "mps" else latlon).to(torch.float64)
        col = torch.floor((x[:, 1] - lon_min) / TILE_INTERVAL).clamp(0, cols - 1)
        row = torch.floor((x[:, 0] - lat_min) / TILE_INTERVAL).clamp(0, rows - 1)
        return (row * cols + col).to(self.position_encoder.embedding.weight.device, torch.long)

    def _tile(self, latlon: torch.Tensor) -> torch.Tensor:
        return self.position_encoder.embedding.weight.to(torch.float32)[self._tile_index(latlon)]

    def _network(self, h: torch.Tensor) -> torch.Tensor:
        act = self.config.activation
        # At CPU inference, hidden layers write into per-thread buffers that are reused from call to call: a fresh
        # multi-megabyte tensor per layer and call costs page faults that measured ~25% of the time at 4,096 points.
        # The returned tensor is always freshly allocated.
        reuse = h.device.type == "cpu" and not torch.is_grad_enabled()
        last = len(self.ffn.layers) - 1
        for i, layer in enumerate(self.ffn.layers):
            weight, bias = layer.linear.weight, layer.linear.bias
            if reuse and i < last:
                out = torch.addmm(bias, h, weight.t(), out=_buffer(i, h.shape[0], weight.shape[0], h.dtype))
            else:
                out = torch.addmm(bias, h, weight.t())
            if act == "relu":
                out = out.relu_()
            elif act == "leakyrelu":
                out = F.leaky_relu(out, LEAKY_SLOPE, inplace=True)
            elif act == "sigmoid":
                out = out.sigmoid_()
            elif act == "tanh":
                out = out.tanh_()
            else:
                out = F.gelu(out)
            if layer.skip:
                out = out + h
            if layer.layernorm is not None:
                out = F.layer_norm(out, (out.shape[-1],), layer.layernorm.weight, layer.layernorm.bias, LAYERNORM_EPS)
            h = out
        return h

    @property
    def identity(self) -> str:
        return f"{super().identity}:{self.config.spa_enc_type}"
