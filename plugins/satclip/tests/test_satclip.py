"""SatCLIP plugin: exactness against the original implementation (reference data from tests/data/make_reference.py),
checkpoint layout, refusals, offline behaviour and the geoembed contract."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import numpy as np
import pytest
import torch

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.testing import check_location_encoder

from geoembed_satclip import (
    WEIGHTS,
    AnalyticSphericalHarmonics,
    SatCLIPLocationEncoder,
    exact_real_spherical_harmonics,
    read_checkpoint,
    satclip_resnet18_l10,
    satclip_resnet18_l40,
    satclip_vit16_l40,
)

DATA = Path(__file__).resolve().parent / "data"
CKPT_L10 = DATA / "satclip_l10_reference.ckpt"
CKPT_L40 = DATA / "satclip_l40_small_reference.ckpt"
# Outputs are float64 (as the original's). After the positional encoding, the two implementations run the same
# float64 operations; BLAS may block the 100/512-wide dot products differently, each differing by at most
# ~n * eps * sum|w x| ~ 1e-13, which the sine layers (w0 = 30 first) amplify by well under 1e3.
NETWORK_ATOL = 1e-9


@pytest.fixture(scope="module")
def ref():
    return np.load(DATA / "satclip_reference.npz")


def latlon_of(ref) -> torch.Tensor:
    """geoembed's input: float32 [lat, lon] rows (the reference points are exactly float32)."""
    return torch.from_numpy(ref["lonlat"][:, ::-1].astype(np.float32).copy())


def lipschitz(model: SatCLIPLocationEncoder) -> float:
    """Upper bound of the SIREN's Lipschitz constant (l2): prod(w0 * ||W||_2) over sine layers, times ||W_last||_2."""
    bound = torch.linalg.matrix_norm(model.nnet.last_layer.weight, ord=2).item()
    for layer in model.nnet.layers:
        bound *= layer.w0 * torch.linalg.matrix_norm(layer.weight, ord=2).item()
    return bound


def test_l10_real_shapes_match_the_original(ref):
    model = satclip_resnet18_l10(weights_path=CKPT_L10)
    assert (model.legendre_polys, model.capacity, model.num_hidden_layers, model.embedding_dim) == (10, 512, 2, 256)
    with torch.no_grad():
        out = model(latlon_of(ref))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref["out_l10"], rtol=0, atol=NETWORK_ATOL)
    # the original's call convention gives the same
    with torch.no_grad():
        np.testing.assert_array_equal(model.encode_lonlat(torch.from_numpy(ref["lonlat"])).numpy(), out.numpy())


def test_l40_positional_encoding_is_the_originals_within_its_float64_bound(ref):
    lonlat = torch.from_numpy(ref["lonlat"])
    sh = AnalyticSphericalHarmonics(40)
    ours, bound = sh(lonlat), sh.error_bound(lonlat)
    diff = (ours - torch.from_numpy(ref["pe_l40"])).abs()
    assert bool((diff <= bound).all()), f"max excess {(diff - bound).max().item():.3g}"
    # the test can fail: the mathematically exact harmonics (what a stable recursion gives) break the bound,
    # because the released models were trained on the original's cancellation-affected values
    exact = exact_real_spherical_harmonics(lonlat, 40)
    exact_diff = (exact - torch.from_numpy(ref["pe_l40"])).abs()
    assert bool((exact_diff > bound).any()) and exact_diff.max().item() > 0.1


def test_l10_positional_encoding_equals_the_exact_harmonics_with_satclips_normalisation(ref):
    lonlat = torch.from_numpy(ref["lonlat"])
    ours = AnalyticSphericalHarmonics(10)(lonlat)
    np.testing.assert_allclose(ours.numpy(), exact_real_spherical_harmonics(lonlat, 10).numpy(), rtol=0, atol=1e-11)
    assert ours[0, 0].item() == pytest.approx(np.sqrt(np.pi) / 2)  # Y_0^0 carries SatCLIP's factor pi


def test_l40_network_matches_the_original_on_its_encoding(ref):
    model = satclip_resnet18_l40(weights_path=CKPT_L40)
    with torch.no_grad():
        out = model.nnet(torch.from_numpy(ref["pe_l40"]))
    np.testing.assert_allclose(out.numpy(), ref["out_l40"], rtol=0, atol=NETWORK_ATOL)


def test_l40_end_to_end_within_the_propagated_encoding_difference(ref):
    model = satclip_resnet18_l40(weights_path=CKPT_L40)
    lonlat = torch.from_numpy(ref["lonlat"])
    with torch.no_grad():
        out = model(latlon_of(ref))
        pe_diff = torch.linalg.vector_norm(model.posenc(lonlat) - torch.from_numpy(ref["pe_l40"]), dim=1)
    allowed = lipschitz(model) * pe_diff.numpy() + NETWORK_ATOL
    actual = np.linalg.norm(out.numpy() - ref["out_l40"], axis=1)
    assert np.all(actual <= allowed), f"rows over the bound: {np.flatnonzero(actual > allowed)}"


def test_checkpoint_layout_is_the_lightning_one():
    checkpoint = read_checkpoint(CKPT_L10)  # torch.load(weights_only=True): no pickled code
    model = SatCLIPLocationEncoder.from_checkpoint(checkpoint)
    expected = {k[len("model.location."):] for k in checkpoint["state_dict"] if k.startswith("model.location.")}
    assert set(model.state_dict()) == expected == {
        "nnet.layers.0.weight", "nnet.layers.0.bias", "nnet.layers.1.weight", "nnet.layers.1.bias",
        "nnet.last_layer.weight", "nnet.last_layer.bias"}
    # a bare state dict (a SatCLIP module's, or torchgeo's) loads too, with the same result
    bare = {k: v for k, v in model.state_dict().items()}
    again = SatCLIPLocationEncoder.from_checkpoint(bare)
    x = torch.tensor([[10.0, 20.0], [-45.0, 170.0]])
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_explicit_file_is_described_by_its_real_hash():
    model = satclip_resnet18_l10(weights_path=CKPT_L10)
    from geoembed.weights import sha256_file

    assert model.weights.sha256 == sha256_file(CKPT_L10)
    assert model.weights.name.startswith("satclip-resnet18-l10.custom-")
    assert model.weights.sha256 != WEIGHTS["satclip-resnet18-l10"].sha256


def test_wrong_degree_is_refused_naming_the_right_model():
    with pytest.raises(WeightsError, match="L=40 SatCLIP.*satclip-<tower>-l40"):
        satclip_resnet18_l10(weights_path=CKPT_L40)


def test_other_families_and_settings_are_refused(tmp_path):
    from safetensors.torch import save_file

    climplicit_like = {"location_encoder.layers.0.weight": torch.zeros(2, 4), "chelsa_regressor.weight": torch.zeros(11, 2)}
    path = tmp_path / "model.safetensors"
    save_file(climplicit_like, str(path))
    with pytest.raises(WeightsError, match="Climplicit checkpoint"):
        satclip_resnet18_l10(weights_path=path)
    checkpoint = read_checkpoint(CKPT_L10)
    checkpoint["hyper_parameters"]["harmonics_calculation"] = "closed-form"
    with pytest.raises(WeightsError, match="harmonics_calculation='closed-form'"):
        SatCLIPLocationEncoder.from_checkpoint(checkpoint)
    bad = tmp_path / "notes.ckpt"
    bad.write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="Cannot read weights file"):
        satclip_resnet18_l10(weights_path=bad)


def test_offline_names_the_file_the_command_and_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")

    def no_download(record):  # pragma: no cover - must not be reached
        raise AssertionError("downloaded while GEOEMBED_OFFLINE=1")

    monkeypatch.setattr("geoembed.weights.download", no_download)
    with pytest.raises(WeightsNotFoundError) as info:
        satclip_resnet18_l10()
    message = str(info.value)
    assert ("hf download microsoft/SatCLIP-ResNet18-L10 satclip-resnet18-l10.ckpt --revision "
            "5b1d6063885cbcc7b784fdd721b467e56b22348a") in message
    assert "weights_path=" in message and "--weights" in message
    assert "c4af9559afb43d9c8be2781d4f70ce3f8a1087ea5a3773906c7c50ed05479ebd" in message
    with pytest.raises(WeightsNotFoundError, match="sha256 not published"):
        satclip_vit16_l40()


def test_cache_with_unpublished_sha256_is_described_by_the_files_hash(tmp_path, monkeypatch):
    from geoembed.errors import ChecksumMismatchError
    from geoembed.weights import cached_weights_path, sha256_file

    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    record = WEIGHTS["satclip-vit16-l40"]
    assert record.sha256 is None and record.hf_revision == "0ef2acc0b91d3c8cfdf4a0cc03207095989287ab"
    target = cached_weights_path(record)
    target.parent.mkdir(parents=True)
    target.write_bytes(CKPT_L40.read_bytes())
    model = satclip_vit16_l40()
    assert model.weights.sha256 == sha256_file(target) and model.weights.name == record.name
    target.with_name(target.name + ".sha256").write_text("0" * 64 + "  satclip-vit16-l40.ckpt\n")
    with pytest.raises(ChecksumMismatchError, match="changed since it was downloaded"):
        satclip_vit16_l40()


def test_random_weights_follow_the_contract_and_the_seed():
    check_location_encoder(satclip_resnet18_l10, pretrained=False)
    a, b = satclip_resnet18_l40(pretrained=False, seed=3), satclip_resnet18_l40(pretrained=False, seed=3)
    assert a.weights is None and a.identity == b.identity
    state = torch.random.get_rng_state()
    satclip_resnet18_l10(pretrained=False, seed=1)
    assert torch.equal(state, torch.random.get_rng_state())


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="legendre_polys must be an integer from 1 to 40"):
        SatCLIPLocationEncoder(legendre_polys=41)
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        SatCLIPLocationEncoder(capacity=0)


def test_registered_through_this_distributions_entry_points():
    try:
        dist = md.distribution("geoembed-satclip")
    except md.PackageNotFoundError:
        pytest.skip("geoembed-satclip is not installed (pip install -e plugins/satclip)")
    names = {ep.name for ep in dist.entry_points if ep.group == "geoembed.location_encoders"}
    assert names == set(WEIGHTS)
    assert set(geoembed.list_location_encoders("satclip-*")) == set(WEIGHTS)
    model = geoembed.create_location_encoder("satclip-vit16-l10", pretrained=False)
    assert model.embedding_dim == 256
    emb = geoembed.encode_location(lat=[48.85, -33.87], lon=[2.35, 151.21], encoder=model)
    assert emb.shape == (2, 256) and np.isfinite(emb).all()


def test_chunked_in_place_inference_equals_the_plain_training_path():
    from geoembed_satclip.spherical_harmonics import CHUNK

    model = satclip_resnet18_l10(pretrained=False, seed=1)
    x = torch.rand(CHUNK * 2 + 5, 2) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0])
    with torch.no_grad():
        fast = model(x)
    slow = model.nnet(model.posenc(x.double()[:, [1, 0]]))  # one pass, out of place (eval: no dropout)
    slow.sum().backward()
    assert model.nnet.layers[0].weight.grad is not None
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=1e-12)


def test_model_cards_describe_every_name():
    from geoembed_satclip import CARDS

    for name, record in WEIGHTS.items():
        factory = {"satclip-resnet18-l10": satclip_resnet18_l10, "satclip-resnet18-l40": satclip_resnet18_l40,
                   "satclip-vit16-l40": satclip_vit16_l40}.get(name)
        fields = CARDS[name]
        assert fields["embedding_dim"] == 256 and fields["weights"] is record and "lon, lat" in fields["input_convention"]
        assert fields["hyperparameters"]["legendre_polys"] == int(name[-2:])
        if factory is None:
            continue
        try:
            from geoembed.model_card import card_of
        except ImportError:  # a core without model cards: the plain fields travel with the factory
            assert factory.card_fields is fields
        else:
            card = card_of(factory)
            assert card is not None and card.weights == (record,) and card.family == "SatCLIP"


def test_packaged_table_is_what_the_generator_derives():
    """The shipped coefficient table agrees with the committed generator (sympy) for the low degrees (fast)."""
    import gzip
    import importlib.util
    import json

    pytest.importorskip("sympy")
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_sh_coefficients.py"
    spec = importlib.util.spec_from_file_location("make_sh_coefficients", script)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    table = Path(__file__).resolve().parents[1] / "geoembed_satclip" / "data" / "sh_analytic.json.gz"
    functions = json.loads(gzip.decompress(table.read_bytes()))["functions"]
    assert len(functions) == 1600
    for entry in functions[:36]:  # degrees 0..5
        expression = str(generator.real_sh(entry["l"], entry["m"]).evalf())
        assert generator.parse(expression) == entry["factors"], (entry["l"], entry["m"], expression)
