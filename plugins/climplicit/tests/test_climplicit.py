"""Climplicit plugin: exactness against the reference implementation (reference data from tests/data/
make_reference.py), release layout, refusals, offline behaviour and the geoembed contract."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import numpy as np
import pytest

from geoembed.weights import sha256_file
import torch

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.testing import check_location_encoder

from geoembed_climplicit import CLIMPLICIT_CHELSA, ClimplicitLocationEncoder, climplicit

DATA = Path(__file__).resolve().parent / "data"
WEIGHTS_W64 = DATA / "climplicit_w64_reference.safetensors"
CASES = [(None, "out_default", 1024), (1, "out_month_1", 256), (4, "out_month_4", 256), (7, "out_month_7", 256),
         (12, "out_month_12", 256)]


@pytest.fixture(scope="module")
def ref():
    return np.load(DATA / "climplicit_reference.npz")


def latlon_of(ref) -> torch.Tensor:
    return torch.from_numpy(ref["lonlat"][:, ::-1].astype(np.float32).copy())


@pytest.mark.parametrize("month,key,width", CASES)
def test_matches_the_reference_within_its_own_float32_error(ref, month, key, width):
    """Both run float32 through 17 layers (w0 = 30 and sinh in the first), so BLAS blocking may move results by
    float32 roundoff amplified by the network. The tolerance is measured, not guessed: the same network in float64
    on the same float32 inputs gives the float32 evaluation's own error; ours may differ from the reference by at
    most twice that. The float64 check also catches any wrong formula (it would differ by O(1), not ~1e-6)."""
    model = climplicit(weights_path=WEIGHTS_W64, month=month)
    assert model.embedding_dim == width
    x = latlon_of(ref)
    with torch.no_grad():
        ours = model(x).numpy()
        exact = model.double()(x).numpy()
    reference = ref[key]
    assert ours.shape == reference.shape == (64, width) and ours.dtype == np.float32
    own_error = np.abs(reference - exact).max()
    assert own_error < 1e-4, f"float64 evaluation differs from the reference by {own_error:.3g}: wrong formula"
    assert np.abs(ours - reference).max() <= 2 * own_error + 1e-7


def test_default_is_the_four_months_concatenated(ref):
    model = climplicit(weights_path=WEIGHTS_W64)
    x = latlon_of(ref)
    with torch.no_grad():
        whole = model(x)
        parts = [climplicit(weights_path=WEIGHTS_W64, month=m)(x) for m in (3, 6, 9, 12)]
    torch.testing.assert_close(whole, torch.cat(parts, dim=1), rtol=0, atol=1e-6)


def test_release_layout_and_architecture_read_from_the_file():
    from safetensors.torch import load_file

    state = load_file(str(WEIGHTS_W64))
    model = climplicit(weights_path=WEIGHTS_W64)
    assert set(model.state_dict()) == set(state)
    assert {"location_encoder.layers.15.weight", "location_encoder.last_layer.bias", "chelsa_regressor.weight"} <= set(state)
    assert len(model.location_encoder.layers) == 16 and model.location_encoder.layers[1].weight.shape == (64, 64)
    released = ClimplicitLocationEncoder(seed=0)  # the release's shapes: 4 -> 16 x 512 -> 256, head 256 -> 11
    shapes = {k: tuple(v.shape) for k, v in released.state_dict().items()}
    assert shapes["location_encoder.layers.0.weight"] == (512, 4)
    assert shapes["location_encoder.layers.15.weight"] == (512, 512)
    assert shapes["location_encoder.last_layer.weight"] == (256, 512)
    assert shapes["chelsa_regressor.weight"] == (11, 256) and len(shapes) == 36


def test_other_families_are_refused_naming_them(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "satclip.safetensors"
    save_file({"nnet.layers.0.weight": torch.zeros(2, 100), "nnet.last_layer.weight": torch.zeros(256, 2)}, str(path))
    with pytest.raises(WeightsError, match="SatCLIP location encoder"):
        climplicit(weights_path=path)


def test_month_is_checked_before_any_file(tmp_path):
    for bad in (0, 13, 2.5, "may", True):
        with pytest.raises(ValueError, match="month must be an integer from 1"):
            climplicit(month=bad, weights_path=tmp_path / "missing.safetensors")


def test_offline_names_the_file_the_command_and_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")

    def no_download(record):  # pragma: no cover - must not be reached
        raise AssertionError("downloaded while GEOEMBED_OFFLINE=1")

    monkeypatch.setattr("geoembed.weights.download", no_download)
    with pytest.raises(WeightsNotFoundError) as info:
        climplicit()
    message = str(info.value)
    assert "hf download Jobedo/climplicit model.safetensors --revision main" in message
    assert "weights_path=" in message and "--weights" in message and "sha256 not published" in message
    assert CLIMPLICIT_CHELSA.sha256 is None


def test_hub_folder_is_accepted(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(WEIGHTS_W64.read_bytes())
    (tmp_path / "config.json").write_text('{"return_chelsa": false}')
    model = climplicit(weights_path=tmp_path, month=4)
    # nothing published tells the release from another file: the record keeps its name, with the measured checksum
    assert model.weights.name == "climplicit.chelsa" and model.embedding_dim == 256
    assert model.weights.sha256 == sha256_file(tmp_path / "model.safetensors")
    assert model.weights.sha256_published is False


def test_random_weights_follow_the_contract():
    check_location_encoder(climplicit, pretrained=False, month=6)
    a, b = climplicit(pretrained=False, seed=2), climplicit(pretrained=False, seed=2)
    assert a.identity == b.identity and a.weights is None


def test_registered_through_this_distributions_entry_points():
    try:
        dist = md.distribution("geoembed-climplicit")
    except md.PackageNotFoundError:
        pytest.skip("geoembed-climplicit is not installed (pip install -e plugins/climplicit)")
    assert {ep.name for ep in dist.entry_points if ep.group == "geoembed.location_encoders"} == {"climplicit"}
    assert geoembed.list_location_encoders("climplicit") == ["climplicit"]
    model = geoembed.create_location_encoder("climplicit", pretrained=False, month=1)
    emb = geoembed.encode_location(lat=[47.4, -33.9], lon=[8.55, 151.2], encoder=model)
    assert emb.shape == (2, 256) and np.isfinite(emb).all()


def test_chunked_in_place_inference_equals_the_plain_training_path():
    from geoembed_climplicit import model as module

    model = climplicit(pretrained=False, seed=1)
    x = torch.rand(module.ROWS_PER_CHUNK * 2 + 7, 2) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0])
    with torch.no_grad():
        fast = model(x)
    slow = model(x)  # grad enabled, parameters require grad: one pass, out of place
    slow.sum().backward()
    assert model.location_encoder.layers[0].weight.grad is not None
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=1e-6)


def test_model_card():
    from geoembed_climplicit import CARD

    assert CARD["embedding_dim"] == 1024 and CARD["weights"] is CLIMPLICIT_CHELSA
    try:
        from geoembed.model_card import card_of
    except ImportError:  # a core without model cards: the plain fields travel with the factory
        assert climplicit.card_fields is CARD
    else:
        card = card_of(climplicit)
        assert card is not None and card.family == "Climplicit" and card.weights == (CLIMPLICIT_CHELSA,)
