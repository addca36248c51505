"""Baseline location encoders: what a pretrained encoder must beat to be worth its weights.

Each is a :class:`~geoembed.LocationEncoder` registered through entry points (``pyproject.toml``), exactly like a
plugin, so benchmarks and users pick them by name:

- ``latlon``: raw ``[lat, lon]`` degrees (2 features); what a probe does with no encoder at all.
- ``xyz``: the 3-D unit vector on the sphere (3 features); no seam at the antimeridian, no pole singularity.
- ``sphere_harmonics``: real spherical harmonics up to ``degree`` (``(degree + 1)**2`` features), the smooth
  orthonormal basis on the sphere that SatCLIP and Rußwurm et al. (ICLR 2024) build on.
- ``rff``: untrained random Fourier features of the unit vector at several scales (seeded).

Plugins add baselines of their own the same way, e.g. ``geoclip-random`` (GeoCLIP's architecture with random weights)
from the GeoCLIP plugin.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from geoembed.location_encoders.contract import LocationEncoder
from geoembed.model_card import ModelCard, with_card


def _unit_vector(latlon: torch.Tensor) -> torch.Tensor:
    lat = torch.deg2rad(latlon[:, 0])
    lon = torch.deg2rad(latlon[:, 1])
    return torch.stack((torch.cos(lat) * torch.cos(lon), torch.cos(lat) * torch.sin(lon), torch.sin(lat)), dim=1)


class LatLonEncoder(LocationEncoder):
    """Raw ``[latitude, longitude]`` in degrees: the no-encoder baseline."""

    embedding_dim = 2

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        return latlon.clone()


class UnitVectorEncoder(LocationEncoder):
    """``[x, y, z]`` on the unit sphere (ECEF direction): continuous across the antimeridian and at the poles."""

    embedding_dim = 3

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        return _unit_vector(latlon)


class SphericalHarmonicsEncoder(LocationEncoder):
    """Real, orthonormal spherical harmonics ``Y_l^m`` for ``l = 0..degree`` (no Condon-Shortley phase).

    Features are ordered by ``l``, then ``m = -l..l``. Computed with the stable recurrence of fully normalised
    associated Legendre functions (no factorials, so high degrees do not overflow); checked against
    ``scipy.special.sph_harm_y`` in the tests.
    """

    def __init__(self, degree: int = 10):
        super().__init__()
        if isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= 100:
            raise ValueError(f"degree must be an integer in [0, 100], got {degree!r}.")
        self.degree = degree
        self.embedding_dim = (degree + 1) ** 2

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        x = latlon.to(torch.float64)
        colat = torch.deg2rad(90.0 - x[:, 0])
        lon = torch.deg2rad(x[:, 1])
        cos_t, sin_t = torch.cos(colat), torch.sin(colat)
        legendre = _normalized_legendre(self.degree, cos_t, sin_t)  # {(l, m): P̄_l^m(cos θ)}, m >= 0
        features = []
        for l in range(self.degree + 1):
            for m in range(-l, l + 1):
                p = legendre[(l, abs(m))]
                if m < 0:
                    features.append(math.sqrt(2.0) * p * torch.sin(-m * lon))
                elif m == 0:
                    features.append(p)
                else:
                    features.append(math.sqrt(2.0) * p * torch.cos(m * lon))
        return torch.stack(features, dim=1).to(latlon.dtype)


def _normalized_legendre(degree: int, cos_t: torch.Tensor, sin_t: torch.Tensor) -> dict[tuple[int, int], torch.Tensor]:
    """``P̄_l^m`` normalised so that ``P̄_l^m(cos θ) e^{imφ}`` is orthonormal on the unit sphere."""
    out: dict[tuple[int, int], torch.Tensor] = {(0, 0): torch.full_like(cos_t, math.sqrt(1.0 / (4.0 * math.pi)))}
    for m in range(1, degree + 1):  # diagonal: P̄_m^m from P̄_{m-1}^{m-1}
        out[(m, m)] = math.sqrt((2.0 * m + 1.0) / (2.0 * m)) * sin_t * out[(m - 1, m - 1)]
    for m in range(0, degree):  # first off-diagonal
        out[(m + 1, m)] = math.sqrt(2.0 * m + 3.0) * cos_t * out[(m, m)]
    for m in range(0, degree + 1):  # upward in l
        for l in range(m + 2, degree + 1):
            a = math.sqrt((4.0 * l * l - 1.0) / (l * l - m * m))
            b = math.sqrt(((l - 1.0) ** 2 - m * m) / (4.0 * (l - 1.0) ** 2 - 1.0))
            out[(l, m)] = a * (cos_t * out[(l - 1, m)] - b * out[(l - 2, m)])
    return out


class RandomFourierFeaturesEncoder(LocationEncoder):
    """Untrained Gaussian random Fourier features of the unit vector, one block per scale: ``[cos 2πBv, sin 2πBv]``.

    A larger ``sigma`` resolves finer detail (wavelength about ``6371 / sigma`` km on the sphere's surface).
    """

    def __init__(self, sigmas: Sequence[float] = (1.0, 4.0, 16.0), frequencies: int = 128, seed: int = 0):
        super().__init__()
        if not sigmas or any(isinstance(s, bool) or not isinstance(s, (int, float)) or s <= 0 for s in sigmas):
            raise ValueError(f"sigmas must be a non-empty sequence of positive numbers, got {sigmas!r}.")
        if isinstance(frequencies, bool) or not isinstance(frequencies, int) or frequencies < 1:
            raise ValueError(f"frequencies must be a positive integer, got {frequencies!r}.")
        self.sigmas = tuple(float(s) for s in sigmas)
        self.seed = seed
        generator = torch.Generator().manual_seed(int(seed))
        blocks = [torch.randn((frequencies, 3), generator=generator, dtype=torch.float64) * s for s in self.sigmas]
        self.register_buffer("frequency_matrix", torch.cat(blocks).to(torch.float32))
        self.embedding_dim = 2 * frequencies * len(self.sigmas)

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        # Phases reach hundreds of radians, where float32 rounding of the product (which depends on the batch size)
        # moves cos/sin by 1e-5: computed in float64, a point's features no longer depend on its batch.
        projected = 2.0 * math.pi * _unit_vector(latlon.double()) @ self.frequency_matrix.double().T
        return torch.cat((torch.cos(projected), torch.sin(projected)), dim=1).to(latlon.dtype)


# -- model cards (geoembed/model_card.py): untrained, so no weights and no training data ----------------------------
def _baseline_card(family: str, width: int, description: str, citation: str = "none", **hyperparameters) -> ModelCard:
    return ModelCard(
        family=family,
        embedding_dim=width,
        input_convention="(lat, lon) degrees (geoembed's own baseline)",
        training_data="none (untrained)",
        license="MIT (geoembed)",
        citation=citation,
        hyperparameters=hyperparameters,
        description=description,
    )


_RUSSWURM = ("Rußwurm, M., Klemmer, K., Rolf, E., Zbinden, R., Tuia, D. Geographic Location Encoding with Spherical "
             "Harmonics and Sinusoidal Representation Networks. ICLR 2024. arXiv:2310.06743")
_TANCIK = ("Tancik, M. et al. Fourier Features Let Networks Learn High Frequency Functions in Low Dimensional "
           "Domains. NeurIPS 2020. arXiv:2006.10739")


# -- factories registered as entry points (group geoembed.location_encoders) ----------------------------------------
@with_card(_baseline_card("latlon", 2, "Raw [lat, lon] degrees: the no-encoder baseline."))
def latlon() -> LatLonEncoder:
    """Factory of ``"latlon"``."""
    return LatLonEncoder()


@with_card(_baseline_card("xyz", 3, "The 3-D unit vector on the sphere."))
def xyz() -> UnitVectorEncoder:
    """Factory of ``"xyz"``."""
    return UnitVectorEncoder()


@with_card(_baseline_card("spherical harmonics", 121, "Real orthonormal spherical harmonics up to degree 10.",
                          _RUSSWURM, degree=10))
def sphere_harmonics(degree: int = 10) -> SphericalHarmonicsEncoder:
    """Factory of ``"sphere_harmonics"`` (121 features at the default degree 10)."""
    return SphericalHarmonicsEncoder(degree=degree)


@with_card(_baseline_card("random Fourier features", 768, "Untrained Gaussian random Fourier features of the unit "
                          "vector (seeded).", _TANCIK, sigmas=(1.0, 4.0, 16.0), frequencies=128, seed=0))
def rff(sigmas: Sequence[float] = (1.0, 4.0, 16.0), frequencies: int = 128, seed: int = 0) -> RandomFourierFeaturesEncoder:
    """Factory of ``"rff"`` (768 features by default)."""
    return RandomFourierFeaturesEncoder(sigmas=sigmas, frequencies=frequencies, seed=seed)
