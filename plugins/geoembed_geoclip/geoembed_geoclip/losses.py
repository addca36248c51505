"""Losses of GeoCLIP training and of its concept-aware variant.

- :func:`info_nce`: GeoCLIP's image-to-GPS contrastive loss (paper eq. 4): each image against its own location, the
  other locations of the batch and a queue of extra GPS negatives, with a learnable temperature.
- :class:`GPSQueue`: the "dynamic queue" of GPS negatives (length 4096 in the paper), initialised uniformly over the
  latitude/longitude range and refreshed with each batch's coordinates (oldest first out).
- :func:`jitter_coordinates`: the Gaussian GPS noise (150 m on batch coordinates, 1000 m on the queue in the paper).
- :func:`concept_divergence`: the Concept Space Divergence between the image and location distributions in concept
  space.

Why the divergence is the Cauchy-Schwarz divergence (default) or MMD squared, not the formula as quoted.
The concept-aware paper describes its divergence as a mean of log Gaussian kernels between the two modalities. Read
literally, ``log k(x, y) = -|x - y|^2 / (2 s^2)``, so ``-2 mean log k(x, y) + mean log k(x, x') + mean log k(y, y')``
equals ``|mean(x) - mean(y)|^2 / s^2`` (:func:`mean_log_kernel_divergence`, and the test that checks this identity):
it only compares batch means, and two batches with equal means but different spreads score zero. Moving the log
outside the mean gives the Cauchy-Schwarz divergence (Jenssen et al. 2006)::

    D_CS(p, q) = -2 log mean k(x, y) + log mean k(x, x') + log mean k(y, y')

which is zero only when the two kernel mean embeddings are parallel, i.e. (for a characteristic kernel such as the
Gaussian) when the distributions are equal; it sees spread and shape, not only means. MMD squared with the same
kernel (Gretton et al. 2012) is offered as the alternative (``kind="mmd"``). The bandwidth ``s`` is the median
heuristic by default (the median pairwise distance of the pooled batch, recomputed per batch, no gradient), or a
number you give.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

DIVERGENCES = ("cs", "mmd")
METRES_PER_DEGREE = 111_320.0  # one degree of latitude (and of longitude at the equator), WGS84 mean, in metres


# -- contrastive loss ------------------------------------------------------------------------------------------------
def info_nce(image: torch.Tensor, locations: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """GeoCLIP's loss: cross-entropy of each image over ``[batch locations; queue locations]``.

    Args:
        image: ``(B, D)`` L2-normalised image embeddings.
        locations: ``(B + S, D)`` L2-normalised location embeddings; row ``i < B`` is image ``i``'s own location,
            the rest are queue negatives.
        logit_scale: log of the inverse temperature (``log(1 / 0.07)`` at the start of training).
    """
    batch = image.shape[0]
    if locations.shape[0] < batch:
        raise ValueError(f"locations must hold the batch's {batch} positives first, got {locations.shape[0]} rows.")
    logits = logit_scale.exp() * image @ locations.T
    targets = torch.arange(batch, device=image.device)
    return F.cross_entropy(logits, targets)


class GPSQueue:
    """A fixed-length FIFO of GPS coordinates used as extra negatives (GeoCLIP's dynamic queue).

    It may also hold each coordinate's location embedding (``dim``): with a frozen location encoder and no GPS noise
    the embeddings never change, so the trainer stores them instead of re-encoding 4096 points per step.
    """

    def __init__(self, size: int, *, generator: torch.Generator | None = None, dim: int | None = None):
        if size < 0:
            raise ValueError(f"queue size must be >= 0, got {size}.")
        self.size = int(size)
        uniform = torch.rand((self.size, 2), generator=generator, dtype=torch.float64)
        # Paper: "initialized randomly with values drawn from a uniform distribution covering the range of latitude
        # and longitude".
        self.coords = torch.stack((uniform[:, 0] * 180.0 - 90.0, uniform[:, 1] * 360.0 - 180.0), dim=1)
        self.features: torch.Tensor | None = None if dim is None else torch.zeros(self.size, dim)
        self.pointer = 0

    def push(self, coords: torch.Tensor, features: torch.Tensor | None = None) -> None:
        """Replace the oldest entries with ``coords`` (and their embeddings, for a queue that holds them)."""
        if self.size == 0:
            return
        coords = coords.detach().to("cpu", torch.float64)[-self.size :]
        rows = (self.pointer + torch.arange(len(coords))) % self.size
        self.coords[rows] = coords
        if self.features is not None:
            if features is None:
                raise ValueError("This queue holds embeddings: push the batch's embeddings with its coordinates.")
            self.features[rows] = features.detach().to("cpu", self.features.dtype)[-self.size :]
        self.pointer = int((self.pointer + len(coords)) % self.size)

    def state(self) -> dict[str, torch.Tensor]:
        """Tensors to checkpoint (embeddings are not saved: they are recomputed from the coordinates on resume)."""
        return {"coords": self.coords.clone(), "pointer": torch.tensor(self.pointer)}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        if state["coords"].shape != self.coords.shape:
            raise ValueError(f"checkpointed queue has shape {tuple(state['coords'].shape)}, expected "
                             f"{tuple(self.coords.shape)}; resume with the same queue_size.")
        self.coords = state["coords"].to(torch.float64).clone()
        self.pointer = int(state["pointer"])


def jitter_coordinates(latlon: torch.Tensor, sigma_m: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``latlon`` (degrees) moved by isotropic Gaussian noise of ``sigma_m`` metres; latitudes clamped, longitudes
    wrapped to [-180, 180)."""
    if sigma_m <= 0:
        return latlon
    noise = torch.randn(latlon.shape, generator=generator, dtype=latlon.dtype) * (sigma_m / METRES_PER_DEGREE)
    noise = noise.to(latlon.device)
    lat = (latlon[:, 0] + noise[:, 0]).clamp(-90.0, 90.0)
    coslat = torch.cos(torch.deg2rad(latlon[:, 0])).clamp_min(1e-3)  # metres per degree of longitude shrink poleward
    lon = torch.remainder(latlon[:, 1] + noise[:, 1] / coslat + 180.0, 360.0) - 180.0
    return torch.stack((lat, lon), dim=1)


# -- concept space divergence ----------------------------------------------------------------------------------------
def median_bandwidth(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Median heuristic: the median pairwise Euclidean distance over the pooled sample (no gradient)."""
    pooled = torch.cat((x, y)).detach().float()
    distances = torch.cdist(pooled, pooled)
    off_diagonal = distances[~torch.eye(len(pooled), dtype=torch.bool, device=pooled.device)]
    return off_diagonal.median().clamp_min(1e-6)


def _log_gaussian_kernel(a: torch.Tensor, b: torch.Tensor, bandwidth: torch.Tensor) -> torch.Tensor:
    """``log k(a_i, b_j) = -|a_i - b_j|^2 / (2 s^2)`` for all pairs."""
    squared = torch.cdist(a, b).pow(2)
    return -squared / (2 * bandwidth**2)


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (N, D) and (M, D) with the same D, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}.")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("A divergence between distributions needs at least 2 samples on each side.")


def _bandwidth(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None) -> torch.Tensor:
    if bandwidth is None:
        return median_bandwidth(x, y)
    if not (isinstance(bandwidth, (int, float)) and math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a positive number or None (median heuristic), got {bandwidth!r}.")
    return torch.tensor(float(bandwidth), device=x.device)


def cauchy_schwarz_divergence(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """Cauchy-Schwarz divergence between the samples ``x`` (N, D) and ``y`` (M, D) with a Gaussian kernel.

    Computed with log-sum-exp, so tiny kernel values (far-apart samples, small bandwidths) neither underflow to
    ``log 0`` nor lose precision. Always >= 0 (Cauchy-Schwarz inequality), 0 when the samples coincide.
    """
    _check_pair(x, y)
    s = _bandwidth(x, y, bandwidth)

    def log_mean_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(_log_gaussian_kernel(a, b, s).flatten(), dim=0) - math.log(len(a) * len(b))

    return -2 * log_mean_kernel(x, y) + log_mean_kernel(x, x) + log_mean_kernel(y, y)


def mmd_squared(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """Maximum mean discrepancy squared (biased V-statistic, >= 0) with a Gaussian kernel."""
    _check_pair(x, y)
    s = _bandwidth(x, y, bandwidth)

    def mean_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return _log_gaussian_kernel(a, b, s).exp().mean()

    return mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)


def mean_log_kernel_divergence(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """The literal reading of the paper's formula (a mean of log-kernels), kept to document why it is not used:
    it equals ``|mean(x) - mean(y)|^2 / s^2`` and so ignores everything about the distributions but their means."""
    _check_pair(x, y)
    s = _bandwidth(x, y, bandwidth)
    return (
        -2 * _log_gaussian_kernel(x, y, s).mean()
        + _log_gaussian_kernel(x, x, s).mean()
        + _log_gaussian_kernel(y, y, s).mean()
    )


def concept_divergence(x: torch.Tensor, y: torch.Tensor, kind: str = "cs",
                       bandwidth: float | None = None) -> torch.Tensor:
    """The Concept Space Divergence loss: ``"cs"`` (Cauchy-Schwarz, default) or ``"mmd"`` (MMD squared)."""
    if kind == "cs":
        return cauchy_schwarz_divergence(x.float(), y.float(), bandwidth)
    if kind == "mmd":
        return mmd_squared(x.float(), y.float(), bandwidth)
    raise ValueError(f"divergence must be one of {DIVERGENCES}, got {kind!r}.")
