"""MIND (Matryoshka Implicit Neural Distillation; Corley et al.), written to load the released checkpoint as is.

Architecture (the released ``mind.safetensors`` and the reference ``mind_standalone.py`` of
github.com/taylor-geospatial/mind):

1. the Equal Earth projection of ``[lat, lon]`` degrees, scaled as GeoCLIP does (the same function, reused from the
   GeoCLIP plugin);
2. a first SIREN layer ``h = sin(30 * (W0 p + b0))``, 2 -> 3072;
3. twelve residual SIREN blocks ``h = h + sin(W_i h + b_i)``, 3072 -> 3072;
4. the embedding is ``h`` itself (the reference's ``feature="pooled"``, its default), and its first 64, 128, 256,
   512, 1024, 2048 or 3072 channels are the nested (Matryoshka) embeddings the model was trained to provide.

Parameter names mirror the published state dict (``first.linear.weight``, ``blocks.0.linear.bias``, ...,
``year_freqs``), so the checkpoint loads without renaming. The weights are stored in float16; they are converted to
float32 once at load time and everything is computed in float32, as the reference's ``load_mind`` does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from geoembed.errors import WeightsError
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.weights import WeightsRecord, load_state_dict, resolve_weights
from geoembed_geoclip.location_encoder import equal_earth_projection

from geoembed_mind.weights import MIND_WEIGHTS

#: Widths at which the released model was supervised; each is a prefix of the full 3072-d embedding.
NESTED_WIDTHS = (64, 128, 256, 512, 1024, 2048, 3072)
RELEASE_WIDTH = 3072
RELEASE_DEPTH = 12
W0_FIRST = 30.0  # frequency of the first SIREN layer (the released checkpoint's default)
YEAR_FREQUENCIES = 8  # length of the (unused) ``year_freqs`` buffer stored in the checkpoint
#: Rows processed at a time at inference (two 4,096 x 3,072 float32 buffers, 100 MB). Measured in CPU time with
#: 3 blocks at width 3,072: 4,096-row chunks with a reused output buffer took 0.89x the reference's time, 1,024-row
#: chunks 1.02x (smaller products run less efficiently).
INFERENCE_CHUNK = 4096
#: Smaller inputs are padded to this many rows. Matrix-vector and small-matrix kernels round differently from the
#: blocked kernel, and thirteen sine layers amplify that to ~1e-4 (measured), so a point's embedding would depend on
#: its batch; from 16 rows up the same kernel runs and results were identical for every batch size from 1 to 99.
MIN_ROWS = 16

_BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.linear\.(weight|bias)$")


class _Linear(nn.Module):
    """``nn.Linear``'s parameters without its (here wasted) random initialisation; filled by ``load_state_dict``."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class SirenLayer(nn.Module):
    """``sin(w0 * (W x + b))``; the linear map is named ``linear`` as in the checkpoint."""

    def __init__(self, in_features: int, out_features: int, w0: float):
        super().__init__()
        self.linear = _Linear(in_features, out_features)
        self.w0 = float(w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * self.linear(x))


def nested_widths(width: int) -> tuple[int, ...]:
    """The embedding widths a MIND trunk of ``width`` channels offers: the nested prefixes up to ``width``."""
    return tuple(w for w in NESTED_WIDTHS if w < width) + (width,)


class MINDLocationEncoder(LocationEncoder):
    """MIND location encoder: ``(N, 2)`` ``[lat, lon]`` degrees to the first ``dim`` of its 3072 channels.

    Build it with ``geoembed.create_location_encoder("mind")`` (pretrained, 3072-d), ``"mind-64"`` ... ``"mind-2048"``
    (the nested prefixes), or ``create_location_encoder("mind", dim=256)``.
    """

    def __init__(self, width: int = RELEASE_WIDTH, depth: int = RELEASE_DEPTH, dim: int | None = None,
                 seed: int | None = None, init: bool = True):
        super().__init__()
        for name, value, low in (("width", width, 1), ("depth", depth, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        dim = width if dim is None else dim
        if dim not in nested_widths(width):
            raise ValueError(
                f"dim={dim!r} is not one of MIND's nested embedding widths {nested_widths(width)}: the model was "
                f"trained so that these prefixes of its {width} channels stand alone."
            )
        self.width, self.depth, self.embedding_dim = width, depth, dim
        self.first = SirenLayer(2, width, W0_FIRST)
        self.blocks = nn.ModuleList(SirenLayer(width, width, 1.0) for _ in range(depth))
        self.register_buffer("year_freqs", 2.0 ** torch.arange(YEAR_FREQUENCIES).float())
        self.weights: WeightsRecord | None = None
        if init:
            if seed is None:
                self._siren_init()
            else:  # local, reproducible: never consumes the caller's global random state
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    self._siren_init()

    @torch.no_grad()
    def _siren_init(self) -> None:
        """SIREN's initialisation as MIND uses it: U(-1/in, 1/in) first, U(+-sqrt(6/in)) after, zero biases."""
        for i, layer in enumerate([self.first, *self.blocks]):
            fan_in = layer.linear.weight.shape[1]
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / layer.w0
            layer.linear.weight.uniform_(-bound, bound)
            layer.linear.bias.zero_()

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return self._forward_modules(latlon)
        return self._forward_inference(latlon)

    def _forward_modules(self, latlon: torch.Tensor) -> torch.Tensor:
        """The reference computation through the modules (differentiable)."""
        h = self.first(equal_earth_projection(latlon))
        for block in self.blocks:
            h = h + block(h)
        return h[:, : self.embedding_dim]

    @torch.no_grad()
    def _forward_inference(self, latlon: torch.Tensor) -> torch.Tensor:
        """The same function with in-place activations and one reused buffer, in row chunks; the last block computes
        only the kept prefix.

        Every step is the reference's operation on the same operands (``addmm`` with the bias, ``* 30`` then ``sin``
        in the first layer, ``h + sin(.)`` in the blocks; ``* 1.0`` is exact and skipped), so results agree with the
        reference to float32 rounding of the matrix products (tests: see the plugin's tests/test_mind.py).
        """
        n = latlon.shape[0]
        if 0 < n < MIN_ROWS:
            return self._forward_inference(torch.cat([latlon, latlon[-1:].expand(MIN_ROWS - n, 2)]))[:n]
        if n > INFERENCE_CHUNK and n % INFERENCE_CHUNK and n % INFERENCE_CHUNK < MIN_ROWS:
            # keep every chunk at MIN_ROWS or more, without padding: the last two chunks share the remainder
            cut = n - INFERENCE_CHUNK // 2 - n % INFERENCE_CHUNK
            return torch.cat([self._forward_inference(latlon[:cut]), self._forward_inference(latlon[cut:])])
        d = self.embedding_dim
        scratch = torch.empty(min(n, INFERENCE_CHUNK), self.width, dtype=torch.float32, device=latlon.device)
        out = []
        for part in latlon.split(INFERENCE_CHUNK):
            z = scratch[: part.shape[0]]
            projected = equal_earth_projection(part)
            h = torch.addmm(self.first.linear.bias, projected, self.first.linear.weight.T).mul_(self.first.w0).sin_()
            if not len(self.blocks):
                out.append(h[:, :d])
                continue
            for block in self.blocks[:-1]:
                h.add_(torch.addmm(block.linear.bias, h, block.linear.weight.T, out=z).sin_())
            last = self.blocks[-1].linear
            out.append(h[:, :d] + torch.addmm(last.bias[:d], h, last.weight[:d].T).sin_())
        return out[0].contiguous() if len(out) == 1 else torch.cat(out)

    # -- loading ----------------------------------------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, state: dict, *, dim: int | None = None, source: str | Path = "state dict"
                        ) -> "MINDLocationEncoder":
        """Build the encoder whose width and depth the state dict has, and load it (float16 values become float32)."""
        width, depth = check_mind_state_dict(state, source)
        model = cls(width=width, depth=depth, dim=dim, init=False)
        state = {k: v.float() for k, v in state.items() if not k.startswith("head.")}
        model.load_state_dict(state, strict=True)
        return model


def check_mind_state_dict(state: dict, source: str | Path = "state dict") -> tuple[int, int]:
    """Validate a MIND checkpoint's keys and shapes; return ``(width, depth)``. Raises :class:`WeightsError`."""
    keys = list(state)
    if "first.linear.weight" not in state:
        shown = ", ".join(sorted(keys)[:4]) + (", ..." if len(keys) > 4 else "")
        raise WeightsError(
            f"{source} is not a MIND checkpoint: it has no 'first.linear.weight' (its keys: {shown or 'none'}). "
            f"Pass the released mind.safetensors (or a file with its layout) as weights_path= / --weights."
        )
    blocks: dict[int, set[str]] = {}
    unexpected = []
    for key in keys:
        match = _BLOCK_KEY.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(match.group(2))
        elif key not in ("first.linear.weight", "first.linear.bias", "year_freqs", "head.weight", "head.bias"):
            unexpected.append(key)
    if unexpected:
        raise WeightsError(f"{source} is not a MIND ReSIREN checkpoint: unexpected keys {sorted(unexpected)[:5]}.")
    width, in_dim = state["first.linear.weight"].shape
    frequencies = int(state["year_freqs"].shape[0]) if "year_freqs" in state else None
    if in_dim != 2:
        if frequencies is not None and in_dim == 2 + 2 * frequencies:
            raise WeightsError(
                f"{source} is a year-conditioned MIND checkpoint (first layer takes {in_dim} inputs); geoembed's MIND "
                f"encoder takes locations only, like the released weights."
            )
        raise WeightsError(f"{source}: first.linear.weight has shape {tuple(state['first.linear.weight'].shape)}, "
                           f"expected (width, 2).")
    if frequencies != YEAR_FREQUENCIES:
        raise WeightsError(f"{source}: expected a year_freqs buffer of {YEAR_FREQUENCIES} values, found "
                           f"{'none' if frequencies is None else frequencies}.")
    depth = len(blocks)
    if sorted(blocks) != list(range(depth)) or any(parts != {"weight", "bias"} for parts in blocks.values()):
        raise WeightsError(f"{source}: residual blocks are incomplete or not numbered 0..{depth - 1}.")
    for i in range(depth):
        if tuple(state[f"blocks.{i}.linear.weight"].shape) != (width, width):
            raise WeightsError(f"{source}: blocks.{i}.linear.weight has shape "
                               f"{tuple(state[f'blocks.{i}.linear.weight'].shape)}, expected ({width}, {width}).")
    return int(width), depth


def _weights_record(tag: str) -> WeightsRecord:
    try:
        return MIND_WEIGHTS[tag]
    except KeyError:
        raise ValueError(f"Unknown MIND weights {tag!r}; available: {sorted(MIND_WEIGHTS)}.") from None


def mind_location_encoder(
    pretrained: bool = True,
    *,
    dim: int | None = None,
    weights: str = "release",
    weights_path: str | Path | None = None,
    width: int = RELEASE_WIDTH,
    depth: int = RELEASE_DEPTH,
    seed: int | None = None,
) -> MINDLocationEncoder:
    """Factory registered as ``"mind"``: the released MIND encoder, 3072-d unless ``dim`` picks a nested prefix.

    Args:
        pretrained: load the released weights (resolved offline-first: ``weights_path``, geoembed's cache, then the
            Hugging Face Hub unless ``GEOEMBED_OFFLINE=1``), or keep a random SIREN initialisation.
        dim: embedding width, one of 64, 128, 256, 512, 1024, 2048, 3072 (default: all 3072 channels).
        weights: which published weights (``"release"``).
        weights_path: the ``mind.safetensors`` file (or a folder holding it); width and depth are read from it.
        width, depth: architecture of a random model (``pretrained=False``); the checkpoint fixes them otherwise.
        seed: seed of the random initialisation.
    """
    if pretrained or weights_path is not None:
        record = _weights_record(weights)
        resolved = resolve_weights(record, weights_path)
        model = MINDLocationEncoder.from_state_dict(load_state_dict(resolved.path), dim=dim, source=resolved.path)
        model.weights = resolved.record
        return model.eval()
    return MINDLocationEncoder(width=width, depth=depth, dim=dim, seed=seed).eval()


def _prefix_factory(dim: int):
    def factory(pretrained: bool = True, **kwargs) -> MINDLocationEncoder:
        if "dim" in kwargs:
            raise TypeError(f"'mind-{dim}' fixes dim={dim}; use create_location_encoder('mind', dim=...) instead.")
        return mind_location_encoder(pretrained, dim=dim, **kwargs)

    factory.__name__ = factory.__qualname__ = f"mind_{dim}_location_encoder"
    factory.__doc__ = (f"Factory registered as ``\"mind-{dim}\"``: MIND's first {dim} channels (a nested embedding); "
                       f"options as :func:`mind_location_encoder` except ``dim``.")
    return factory


mind_64_location_encoder = _prefix_factory(64)
mind_128_location_encoder = _prefix_factory(128)
mind_256_location_encoder = _prefix_factory(256)
mind_512_location_encoder = _prefix_factory(512)
mind_1024_location_encoder = _prefix_factory(1024)
mind_2048_location_encoder = _prefix_factory(2048)
