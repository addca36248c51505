"""Baseline location encoders: correct maths, registered by name, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geoembed
from geoembed.location_encoders.baselines import RandomFourierFeaturesEncoder, SphericalHarmonicsEncoder

POINTS = np.array([[48.8566, 2.3522], [-33.87, 151.21], [0.0, -179.9], [89.9, 10.0], [-90.0, 0.0], [12.5, 180.0]])


def _scipy_real_harmonics(degree: int, latlon: np.ndarray) -> np.ndarray:
    from scipy.special import sph_harm_y

    theta = np.radians(90.0 - latlon[:, 0])
    phi = np.radians(latlon[:, 1])
    cols = []
    for l in range(degree + 1):
        for m in range(-l, l + 1):
            y = sph_harm_y(l, abs(m), theta, phi)  # complex, with the Condon-Shortley phase
            sign = (-1.0) ** abs(m)
            if m < 0:
                cols.append(np.sqrt(2) * sign * y.imag)
            elif m == 0:
                cols.append(y.real)
            else:
                cols.append(np.sqrt(2) * sign * y.real)
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("degree", [0, 3, 12])
def test_spherical_harmonics_match_scipy(degree):
    ours = SphericalHarmonicsEncoder(degree)(torch.tensor(POINTS, dtype=torch.float64)).numpy()
    assert ours.shape == (len(POINTS), (degree + 1) ** 2)
    np.testing.assert_allclose(ours, _scipy_real_harmonics(degree, POINTS), atol=1e-10)


def test_spherical_harmonics_are_orthonormal_on_the_sphere():
    from geoembed.geo import sample_sphere

    pts = sample_sphere(200_000, seed=1)
    y = SphericalHarmonicsEncoder(4)(torch.tensor(pts, dtype=torch.float64)).numpy()
    gram = 4 * np.pi * (y.T @ y) / len(pts)  # Monte Carlo estimate of the integral over the sphere
    np.testing.assert_allclose(gram, np.eye(25), atol=0.03)


def test_rff_is_seeded_and_bounded():
    a = RandomFourierFeaturesEncoder(seed=3)(torch.tensor(POINTS, dtype=torch.float32))
    b = RandomFourierFeaturesEncoder(seed=3)(torch.tensor(POINTS, dtype=torch.float32))
    c = RandomFourierFeaturesEncoder(seed=4)(torch.tensor(POINTS, dtype=torch.float32))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (len(POINTS), 768) and a.abs().max() <= 1.0
    # the antimeridian is no seam: -179.999 and 179.999 are 220 m apart and get nearly equal features
    near = RandomFourierFeaturesEncoder(seed=3)(torch.tensor([[10.0, -179.999], [10.0, 179.999]]))
    assert torch.allclose(near[0], near[1], atol=1e-2)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="degree"):
        SphericalHarmonicsEncoder(-1)
    with pytest.raises(ValueError, match="sigmas"):
        RandomFourierFeaturesEncoder(sigmas=(1.0, -2.0))
    with pytest.raises(ValueError, match="frequencies"):
        RandomFourierFeaturesEncoder(frequencies=0)


@pytest.mark.parametrize("name, dim", [("latlon", 2), ("xyz", 3), ("sphere_harmonics", 121), ("rff", 768)])
def test_baselines_are_registered_and_encode(name, dim):
    assert name in geoembed.list_location_encoders()
    emb = geoembed.encode_location(POINTS, order="latlon", encoder=name)
    assert emb.shape == (len(POINTS), dim) and emb.dtype == np.float32 and np.isfinite(emb).all()


def test_xyz_is_the_unit_vector():
    emb = geoembed.encode_location(POINTS, order="latlon", encoder="xyz")
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(emb[0], [0.6574, 0.0270, 0.7531], atol=1e-3)  # Paris, by hand
