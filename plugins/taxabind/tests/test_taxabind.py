"""TaxaBind plugin: equivalence with the reference (rshf's GeoCLIP LocationEncoder), loading, refusal of wrong files.

The reference vectors (``data/taxabind_reference.npz``) are the reference's outputs on 64 fixed points for a random
state dict in the published layout (``MVRL/ecogeo``: GeoCLIP's keys, float32, full size). That state dict is rebuilt
here bit for bit by ``data/make_reference.py``'s recipe (NumPy's legacy stream; its digest is checked first) and
written as a safetensors file, which the plugin then loads through its public path (``weights_path=``).

Tolerance: 1e-4 of the largest value. Both sides compute in float32 and differ only in the order of accumulation
inside the matrix products, which depends on the BLAS kernel (CPU, thread count, batch size): batched, the outputs
were identical here; encoding points one at a time (matrix-vector kernels) measured 2.1e-5 of the largest value.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.testing import check_plugin
from geoembed.weights import cached_weights_path, sha256_file

from geoembed_taxabind import TAXABIND_RELEASE, TaxaBindLocationEncoder
from geoembed_geoclip import GeoCLIPLocationEncoder, equal_earth_projection

DATA = Path(__file__).parent / "data"
REF = np.load(DATA / "taxabind_reference.npz")


def _recipe():
    spec = importlib.util.spec_from_file_location("taxabind_make_reference", DATA / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the recipe only; the reference is imported by its main() alone
    return module


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    from safetensors.torch import save_file

    recipe = _recipe()
    state = recipe.random_state()
    assert recipe.state_digest(state) == str(REF["state_sha256"]), "the random weights differ from the reference's"
    path = tmp_path_factory.mktemp("ecogeo") / "model.safetensors"
    save_file({k: torch.from_numpy(v) for k, v in state.items()}, str(path))
    return path


def assert_matches(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4 * float(np.abs(expected).max()))


def test_matches_the_reference_on_its_published_layout(weights_file):
    encoder = geoembed.create_location_encoder("taxabind", weights_path=weights_file)
    assert isinstance(encoder, TaxaBindLocationEncoder) and isinstance(encoder, GeoCLIPLocationEncoder)
    assert encoder.embedding_dim == 512
    latlon = REF["latlon"]
    ours = geoembed.encode_location(lat=latlon[:, 0], lon=latlon[:, 1], encoder=encoder)
    assert_matches(ours, REF["features"])
    with torch.no_grad():  # the plain module path too (the one training uses)
        modules = encoder._forward_modules(equal_earth_projection(torch.from_numpy(latlon))).numpy()
    assert_matches(modules, REF["features"])


def test_points_one_at_a_time_match_the_reference(weights_file):
    encoder = geoembed.create_location_encoder("taxabind", weights_path=weights_file)
    x = torch.from_numpy(REF["latlon"])
    with torch.no_grad():
        assert_matches(torch.cat([encoder(x[i : i + 1]) for i in range(len(x))]).numpy(), REF["features"])


def test_whole_model_state_dicts_are_read_under_their_location_encoder_prefix(weights_file, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(weights_file))
    wrapped = {f"location_encoder.{k}": v for k, v in state.items()}
    wrapped["logit_scale"] = torch.tensor(2.6592)
    path = tmp_path / "locationbind.safetensors"
    save_file(wrapped, str(path))
    encoder = geoembed.create_location_encoder("taxabind", weights_path=path)
    with torch.no_grad():
        assert_matches(encoder(torch.from_numpy(REF["latlon"])).numpy(), REF["features"])


def test_records_the_measured_checksum_and_differs_from_geoclip(weights_file):
    encoder = geoembed.create_location_encoder("taxabind", weights_path=weights_file)
    assert encoder.weights.name == "taxabind.ecogeo"
    assert encoder.weights.sha256 == sha256_file(weights_file) and encoder.weights.sha256_published is False
    assert "geoembed_taxabind" in encoder.identity


def test_conforms_to_the_location_encoder_contract(weights_file):
    check_plugin("location encoder", "taxabind", weights_path=weights_file)
    check_plugin("location encoder", "taxabind", pretrained=False, seed=0)


def test_offline_without_the_file_names_the_download_command_and_the_options(monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("a download was attempted although GEOEMBED_OFFLINE=1")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(WeightsNotFoundError) as info:
        geoembed.create_location_encoder("taxabind")
    message = str(info.value)
    assert "hf download MVRL/ecogeo model.safetensors --revision main" in message
    assert "weights_path=" in message and "--weights" in message
    assert str(cached_weights_path(TAXABIND_RELEASE)) in message


def test_online_download_goes_through_the_hub_at_the_recorded_revision(monkeypatch, weights_file):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, revision=None, **kwargs):
        calls.append((repo_id, filename, revision))
        return str(weights_file)

    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr("geoembed.image_backbones.hub.probe", lambda url, timeout=None: None)  # the Hub "answers"
    encoder = geoembed.create_location_encoder("taxabind")
    assert calls == [("MVRL/ecogeo", "model.safetensors", "main")]
    assert cached_weights_path(TAXABIND_RELEASE).is_file()
    assert encoder.weights.sha256 == sha256_file(weights_file)


def test_checkpoints_of_another_family_are_refused(tmp_path, weights_file):
    from safetensors.torch import load_file, save_file

    mind_like = tmp_path / "mind.safetensors"
    save_file({"first.linear.weight": torch.zeros(8, 2), "year_freqs": torch.ones(8)}, str(mind_like))
    with pytest.raises(WeightsError, match="is not a TaxaBind location encoder.*first.linear.weight"):
        geoembed.create_location_encoder("taxabind", weights_path=mind_like)

    two_branches = {k: v for k, v in load_file(str(weights_file)).items() if not k.startswith("LocEnc2.")}
    path = tmp_path / "two.safetensors"
    save_file(two_branches, str(path))
    with pytest.raises(WeightsError, match="does not have the TaxaBind/GeoCLIP location encoder layout"):
        geoembed.create_location_encoder("taxabind", weights_path=path)


def test_model_card_fields():
    import geoembed_taxabind

    fields = geoembed_taxabind.TAXABIND_CARD_FIELDS
    for key in ("family", "input_convention", "training_data", "license", "citation"):
        assert isinstance(fields[key], str) and fields[key].strip()
    assert fields["weights"] is TAXABIND_RELEASE and fields["embedding_dim"] == 512
    model_card = pytest.importorskip("geoembed.model_card")  # attached only where geoembed has model cards
    card = model_card.card_of(geoembed_taxabind.taxabind_location_encoder)
    assert card.embedding_dim == 512 and card.pretrained and card.family == "TaxaBind"


def test_command_line_encodes_with_a_weights_file_and_says_what_to_fetch_without_one(tmp_path, capsys, weights_file):
    from geoembed.cli import main
    from geoembed.io import read_embeddings

    latlon = REF["latlon"][:20]
    csv = tmp_path / "points.csv"
    csv.write_text("lat,lon\n" + "".join(f"{a!r},{b!r}\n" for a, b in latlon.tolist()))
    out = tmp_path / "emb.parquet"
    args = ["encode", str(csv), "--encoder", "taxabind", "--no-progress"]
    assert main([*args, "-o", str(out), "--weights", str(weights_file)]) == 0
    assert "512-d embeddings with taxabind (weights taxabind.ecogeo)" in capsys.readouterr().out
    assert_matches(read_embeddings(out), REF["features"][:20])

    assert main([*args, "-o", str(tmp_path / "other.parquet")]) != 0  # offline, no file: a message, no traceback
    err = capsys.readouterr().err
    assert "hf download MVRL/ecogeo model.safetensors --revision main" in err and "--weights" in err
