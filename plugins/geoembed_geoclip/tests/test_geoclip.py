"""The GeoCLIP reference plugin: exact agreement with the reference implementation, and weight resolution."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import geoembed
from geoembed import weights as W
from geoembed.errors import ChecksumMismatchError, WeightsError, WeightsNotFoundError
from geoembed.testing import assert_embeddings_close
from geoembed_geoclip import LOCATION_ENCODER_MP16, GeoCLIPLocationEncoder, equal_earth_projection
from geoembed_geoclip.location_encoder import geoclip_location_encoder

REFERENCE = Path(__file__).parent / "data" / "geoclip_reference.npz"


@pytest.fixture(scope="module")
def reference():
    data = np.load(REFERENCE)
    return data["latlon"], data["embeddings"]


@pytest.fixture(scope="module")
def packaged_weights() -> Path:
    path = W.package_file_path(LOCATION_ENCODER_MP16)
    assert path is not None, "the geoclip wheel is a dependency: its weight file must be installed"
    return path


@pytest.mark.parametrize("batch_size", [1, 300, 2048], ids=["one-by-one", "batch-300", "batch-2048"])
def test_matches_reference_implementation_on_1034_points(reference, batch_size):
    """Within the across-batch guarantee, not bit for bit: the committed vectors came from one batch of 1,034 points
    on another CPU (3.98e-6 max abs difference on an AVX-512 machine at the same batch), and these are other batches."""
    latlon, expected = reference
    assert len(latlon) >= 1000
    points = latlon if batch_size > 1 else latlon[:40]  # one at a time is slow; 40 points cover the path
    out = geoembed.encode_location(points, order="latlon", encoder="geoclip", batch_size=batch_size)
    assert_embeddings_close(out, expected[: len(points)])


@pytest.mark.slow
def test_bit_identical_to_the_reference_package_at_equal_batch_and_kernel(reference):
    """The exact guarantee: the reference package and geoembed, same batch, same process (so the same CPU kernel and
    threads), give identical bits. Imports ``geoclip`` (and with it transformers: ~30 s), hence slow."""
    geoclip = pytest.importorskip("geoclip")
    latlon, _ = reference
    with torch.no_grad():
        expected = geoclip.LocationEncoder().eval()(torch.from_numpy(latlon)).numpy()
    out = geoembed.encode_location(latlon, order="latlon", encoder="geoclip", batch_size=len(latlon))
    np.testing.assert_array_equal(out, expected)


def test_training_path_has_gradients_and_equals_inference_path(reference):
    latlon, expected = reference
    enc = geoclip_location_encoder().train()
    out = enc(torch.from_numpy(latlon[:64]))
    out.square().sum().backward()
    assert enc.LocEnc2.head[0].weight.grad is not None and enc.LocEnc0.capsule[0].b.grad is None  # B stays fixed
    assert_embeddings_close(out.detach(), expected[:64])  # a batch of 64 against the reference's 1,034


def test_inference_weights_follow_parameter_changes(reference):
    latlon, _ = reference
    enc = geoclip_location_encoder(pretrained=False, seed=0)
    x = torch.from_numpy(latlon[:8])
    with torch.no_grad():
        before = enc(x)
        enc.LocEnc1.head[0].bias.add_(1.0)  # an in-place update, as an optimiser step would make
        after = enc(x)
    torch.testing.assert_close(after, before + 1.0)


def test_encoder_created_under_inference_mode_works():
    with torch.inference_mode():
        enc = geoembed.create_location_encoder("geoclip", pretrained=False, seed=0)
        assert enc(torch.zeros(2, 2)).shape == (2, 512)


def test_bfloat16_path_is_close_to_float32(reference):
    latlon, expected = reference
    enc = geoembed.create_location_encoder("geoclip", precision="bfloat16")
    for batch_size in (100, 2048):
        out = geoembed.encode_location(latlon, order="latlon", encoder=enc, batch_size=batch_size)
        cosine = (out * expected).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(expected, axis=1)
        assert cosine.min() >= 0.999
        assert np.abs(out - expected).max() > 0  # it really is a different computation
    assert enc.identity.endswith(":bfloat16") and enc.identity != geoclip_location_encoder().identity
    with pytest.raises(ValueError, match="precision must be one of"):
        enc.set_precision("float16")


def test_state_dict_keys_are_the_published_ones(packaged_weights):
    published = torch.load(packaged_weights, map_location="cpu", weights_only=True)
    model = GeoCLIPLocationEncoder()
    assert list(model.state_dict()) == list(published)
    assert all(model.state_dict()[k].shape == v.shape for k, v in published.items())
    model.load_state_dict(published, strict=True)  # no key surgery


def test_equal_earth_projection_agrees_with_proj():
    """GeoCLIP's projection is PROJ's Equal Earth on the unit sphere, scaled by 66.50336 / 180."""
    import pyproj

    rng = np.random.default_rng(1)
    latlon = np.column_stack([rng.uniform(-90, 90, 500), rng.uniform(-180, 180, 500)])
    x, y = pyproj.Proj(proj="eqearth", R=1.0)(latlon[:, 1], latlon[:, 0])
    expected = np.column_stack([x, y]) * 66.50336 / 180
    ours = equal_earth_projection(torch.tensor(latlon, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-9)
    edge = equal_earth_projection(torch.tensor([[0.0, 180.0]], dtype=torch.float64))
    assert abs(float(edge[0, 0]) - 1.0) < 1e-4  # longitude spans [-1, 1] at the equator


def test_pretrained_encoder_carries_provenance():
    enc = geoembed.create_location_encoder("geoclip")
    assert enc.weights is LOCATION_ENCODER_MP16
    assert enc.weights.license == "MIT" and "NeurIPS 2023" in enc.weights.citation
    assert enc.weights.sha256 in enc.identity


def test_random_weights_are_seeded_and_do_not_touch_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = geoembed.create_location_encoder("geoclip", pretrained=False, seed=7)
    after = torch.rand(1)
    b = geoembed.create_location_encoder("geoclip", pretrained=False, seed=7)
    assert before == after
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.weights is None and a.identity.split(":")[-1].startswith("random-")


def test_custom_sigmas_need_random_weights():
    enc = geoclip_location_encoder(pretrained=False, sigmas=(1, 8), seed=0)
    assert len(enc.branches) == 2
    with pytest.raises(ValueError, match="sigmas"):
        geoclip_location_encoder(pretrained=True, sigmas=(1, 8))


# -- weight resolution: path, cache, package, download --------------------------------------------------------------
def test_resolution_prefers_cache_over_package(packaged_weights):
    cached = W.cached_weights_path(LOCATION_ENCODER_MP16)
    cached.parent.mkdir(parents=True)
    shutil.copyfile(packaged_weights, cached)
    resolved = W.resolve_weights(LOCATION_ENCODER_MP16)
    assert (resolved.origin, resolved.path) == ("cache", cached)


def test_package_file_is_read_without_importing_geoclip():
    import subprocess
    import sys

    code = ("import sys, geoembed; geoembed.create_location_encoder('geoclip'); "
            "print('geoclip' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_corrupt_cache_file_is_a_clear_error(packaged_weights):
    cached = W.cached_weights_path(LOCATION_ENCODER_MP16)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(packaged_weights.read_bytes()[:1000])  # truncated download
    with pytest.raises(ChecksumMismatchError, match="corrupt, truncated.*Delete it"):
        geoclip_location_encoder()


def test_explicit_pth_file_and_folder(packaged_weights, tmp_path):
    shutil.copyfile(packaged_weights, tmp_path / "location_encoder_weights.pth")
    for given in (tmp_path / "location_encoder_weights.pth", tmp_path):
        enc = geoclip_location_encoder(weights_path=given)
        assert enc.weights.name == "geoclip.mp16"  # same bytes: same record


def test_explicit_safetensors_conversion_loads_and_gets_its_own_record(packaged_weights, tmp_path, reference):
    state = torch.load(packaged_weights, map_location="cpu", weights_only=True)
    save_file(state, tmp_path / "converted.safetensors")
    enc = geoclip_location_encoder(weights_path=tmp_path / "converted.safetensors")
    assert enc.weights.name.startswith("geoclip.custom-") and enc.weights.sha256 == W.sha256_file(
        tmp_path / "converted.safetensors")
    latlon, expected = reference
    out = geoembed.encode_location(latlon[:50], order="latlon", encoder=enc)
    assert np.abs(out - expected[:50]).max() <= 1e-5


@pytest.mark.parametrize("model_type, prefix", [("geoclip-location-encoder", ""), ("geoclip-geolocation", "location_encoder.")])
def test_hub_release_folder(packaged_weights, tmp_path, reference, model_type, prefix):
    state = torch.load(packaged_weights, map_location="cpu", weights_only=True)
    tensors = {prefix + k: v for k, v in state.items()}
    if prefix:
        tensors["logit_scale"] = torch.tensor(3.0)  # other parts of a full release are ignored by this encoder
    save_file(tensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type, "format_version": 1,
                                                      "sigma": [1, 16, 256]}))
    enc = geoembed.create_location_encoder("geoclip", weights_path=tmp_path)
    latlon, expected = reference
    out = geoembed.encode_location(latlon[:20], order="latlon", encoder=enc)
    assert np.abs(out - expected[:20]).max() <= 1e-5


def test_release_folder_with_wrong_type_is_refused(tmp_path):
    save_file({"x": torch.zeros(1)}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "format_version": 1}))
    with pytest.raises(WeightsError, match="expected a GeoCLIP release"):
        geoclip_location_encoder(weights_path=tmp_path)


def test_wrong_state_dict_is_a_clear_error(tmp_path):
    torch.save({"foo.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a GeoCLIP location encoder state dict"):
        geoclip_location_encoder(weights_path=tmp_path / "other.pth")


def test_garbage_file_is_a_clear_error(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsError, match="Cannot read weights file.*corrupt"):
        geoclip_location_encoder(weights_path=tmp_path / "garbage.pth")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="only safe formats"):
        W.load_state_dict(tmp_path / "evil.pth")


def test_missing_paths_and_folders(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        geoclip_location_encoder(weights_path=tmp_path / "nope.pth")
    with pytest.raises(WeightsNotFoundError, match="holds neither"):
        geoclip_location_encoder(weights_path=tmp_path)


@pytest.fixture
def record_not_installed():
    """The GeoCLIP record, as if the geoclip wheel were not installed."""
    return dataclasses.replace(LOCATION_ENCODER_MP16, package_file=("not-installed-dist", "x/y.pth"))


def test_offline_and_nothing_found_says_exactly_what_to_do(record_not_installed):
    with pytest.raises(WeightsNotFoundError) as info:
        W.resolve_weights(record_not_installed)
    message = str(info.value)
    assert str(W.cached_weights_path(record_not_installed)) in message
    assert LOCATION_ENCODER_MP16.sha256 in message
    assert "pip install not-installed-dist" in message
    assert "weights_path=" in message and "GEOEMBED_OFFLINE" in message


def test_download_verifies_and_moves_into_cache_atomically(record_not_installed, packaged_weights, monkeypatch):
    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    record = dataclasses.replace(record_not_installed, url=packaged_weights.as_uri())  # file:// stands in for https
    resolved = W.resolve_weights(record)
    assert resolved.origin == "download" and resolved.path == W.cached_weights_path(record)
    assert W.sha256_file(resolved.path) == record.sha256
    assert W.resolve_weights(record).origin == "cache"  # second time: no download


def test_download_with_wrong_checksum_leaves_nothing_behind(record_not_installed, tmp_path, monkeypatch):
    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    bogus = tmp_path / "bogus.pth"
    bogus.write_bytes(b"\0" * 100)
    record = dataclasses.replace(record_not_installed, url=bogus.as_uri())
    with pytest.raises(ChecksumMismatchError):
        W.resolve_weights(record)
    folder = W.cached_weights_path(record).parent
    assert not any(folder.iterdir())


def test_failed_download_reports_the_reason(record_not_installed, tmp_path, monkeypatch):
    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    record = dataclasses.replace(record_not_installed, url=(tmp_path / "missing.pth").as_uri())
    with pytest.raises(WeightsNotFoundError, match="downloading from .* failed"):
        W.resolve_weights(record)


def test_weights_record_rejects_short_checksums():
    with pytest.raises(ValueError, match="64 lowercase hex"):
        dataclasses.replace(LOCATION_ENCODER_MP16, sha256="abc")
