"""encode_location: output contract, batching, devices, inputs and errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import torch

import geoembed
from geoembed.location_encoders.encode import get_location_encoder, iter_embeddings
from geoembed.errors import InvalidCoordinatesError, UnknownPluginError
from geoembed.testing import assert_embeddings_close


@pytest.fixture(scope="module")
def random_geoclip():
    """GeoCLIP's architecture with seeded random weights: fast, no weight files needed."""
    return geoembed.create_location_encoder("geoclip", pretrained=False, seed=0).eval()


def test_default_is_pretrained_geoclip_float32_512():
    emb = geoembed.encode_location(lat=[48.8566, -33.8688], lon=[2.3522, 151.2093])
    assert emb.shape == (2, 512) and emb.dtype == np.float32
    assert get_location_encoder("geoclip").weights.name == "geoclip.mp16"


def test_batch_size_does_not_change_results(random_geoclip):
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-90, 90, 257), rng.uniform(-180, 180, 257)
    full = geoembed.encode_location(lat=lat, lon=lon, encoder=random_geoclip, batch_size=1024)
    small = geoembed.encode_location(lat=lat, lon=lon, encoder=random_geoclip, batch_size=16)
    assert_embeddings_close(full, small)


def test_torch_output_and_normalisation(random_geoclip):
    emb = geoembed.encode_location(lat=[1.0, 2.0], lon=[3.0, 4.0], encoder=random_geoclip, normalize=True,
                                   output="torch")
    assert isinstance(emb, torch.Tensor) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))


def test_geodataframe_input_matches_lat_lon(random_geoclip):
    lat, lon = np.array([10.0, -20.0, 30.0]), np.array([100.0, -50.0, 5.0])
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs("EPSG:3857")
    a = geoembed.encode_location(gdf, encoder=random_geoclip)
    b = geoembed.encode_location(lat=lat, lon=lon, encoder=random_geoclip)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_iter_embeddings_streams_in_batches(random_geoclip):
    latlon = geoembed.as_latlon(lat=np.linspace(-80, 80, 50), lon=np.linspace(-170, 170, 50))
    chunks = list(iter_embeddings(latlon, random_geoclip, batch_size=20))
    assert [len(c) for c in chunks] == [20, 20, 10]


def test_encoders_built_by_name_are_cached():
    a = get_location_encoder("geoclip", pretrained=False, seed=3)
    b = get_location_encoder("geoclip", pretrained=False, seed=3)
    c = get_location_encoder("geoclip", pretrained=False, seed=4)
    assert a is b and a is not c


def test_explicit_cpu_device(random_geoclip):
    emb = geoembed.encode_location(lat=0.0, lon=0.0, encoder=random_geoclip, device="cpu")
    assert emb.shape == (1, 512)
    assert geoembed.resolve_device("cpu").type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():  # pragma: no cover - runs only where a GPU exists
    lat, lon = np.linspace(-60, 60, 100), np.linspace(-170, 170, 100)
    cpu = geoembed.encode_location(lat=lat, lon=lon, device="cpu")
    gpu = geoembed.encode_location(lat=lat, lon=lon, device="cuda")
    np.testing.assert_allclose(cpu, gpu, atol=1e-4)


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_bad_batch_size(batch_size, random_geoclip):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        geoembed.encode_location(lat=0.0, lon=0.0, encoder=random_geoclip, batch_size=batch_size)


def test_bad_output_and_encoder_arguments(random_geoclip):
    with pytest.raises(ValueError, match="output must be"):
        geoembed.encode_location(lat=0.0, lon=0.0, encoder=random_geoclip, output="list")
    with pytest.raises(UnknownPluginError, match="Did you mean 'geoclip'"):
        geoembed.encode_location(lat=0.0, lon=0.0, encoder="GeoClip")
    with pytest.raises(TypeError, match="registered name"):
        geoembed.encode_location(lat=0.0, lon=0.0, encoder=42)
    with pytest.raises(TypeError, match="only apply when the encoder is given by name"):
        geoembed.encode_location(lat=0.0, lon=0.0, encoder=random_geoclip, pretrained=False)


def test_invalid_coordinates_fail_before_any_model_is_built(monkeypatch):
    def explode(*args, **kwargs):
        raise AssertionError("the model must not be built for invalid input")

    monkeypatch.setattr(geoembed.location_encoders.encode, "get_location_encoder", explode)
    with pytest.raises(InvalidCoordinatesError, match="swapped"):
        geoembed.encode_location(lat=[151.2], lon=[-33.9])


def test_non_finite_model_output_is_an_error_not_a_nan():
    class Broken(geoembed.LocationEncoder):
        embedding_dim = 2

        def forward(self, latlon):
            return torch.full((latlon.shape[0], 2), float("nan"))

    with pytest.raises(FloatingPointError, match="non-finite embeddings.*rows 0..1"):
        geoembed.encode_location(lat=[0.0, 1.0], lon=[0.0, 1.0], encoder=Broken())


def test_factory_returning_wrong_type_is_reported():
    geoembed.register_location_encoder("not_an_encoder", lambda **kw: "oops")
    try:
        with pytest.raises(TypeError, match="returned a str, not a geoembed.LocationEncoder"):
            geoembed.encode_location(lat=0.0, lon=0.0, encoder="not_an_encoder")
    finally:
        geoembed.registry.location_encoders.unregister("not_an_encoder")


def test_unavailable_devices_are_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available here"):
        geoembed.resolve_device("cuda:0")
    with pytest.raises(ValueError, match="Unknown device 'gpu'"):
        geoembed.resolve_device("gpu")
