"""MIND plugin: equivalence with the reference implementation, nested widths, loading, refusal of wrong files.

Reference vectors (``data/mind_reference.npz``) come from the reference code's own loader and ``embed`` on a random
state dict in the released layout (``data/mind_reference_state.safetensors``: float16, 12 residual blocks, width 256
instead of 3072 to stay small); ``data/make_reference.py`` regenerates both from a snapshot of the reference.

Tolerance: both sides compute in float32 with the same operations; only the accumulation order inside matrix
products may differ (BLAS kernels differ by CPU, thread count and batch size). Thirteen SIREN layers amplify those
~1e-7 relative roundings: encoding the reference points one at a time with a matrix-vector kernel (before the
encoder padded small batches to 16 rows) measured at most 2.7e-6 of the row's norm; the test allows 2e-5 of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.testing import check_location_encoder, check_plugin
from geoembed.weights import cached_weights_path, sha256_file

from geoembed_mind import MIND_RELEASE, MINDLocationEncoder, nested_widths

DATA = Path(__file__).parent / "data"
STATE = DATA / "mind_reference_state.safetensors"
REF = np.load(DATA / "mind_reference.npz")
RTOL_ROW_NORM = 2e-5


def assert_matches(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = np.linalg.norm(expected, axis=1, keepdims=True)
    worst = float((np.abs(actual - expected) / scale).max())
    assert worst <= RTOL_ROW_NORM, f"max |ours - reference| is {worst:.2e} of the row norm (allowed {RTOL_ROW_NORM})"


@pytest.mark.parametrize("dim", [64, 128, 256])
def test_matches_reference_at_every_nested_width(dim):
    encoder = geoembed.create_location_encoder("mind", weights_path=STATE, dim=dim)
    assert encoder.embedding_dim == dim
    latlon = REF["latlon"]
    ours = geoembed.encode_location(lat=latlon[:, 0], lon=latlon[:, 1], encoder=encoder)
    assert_matches(ours, REF["features"][:, :dim])


def test_points_one_at_a_time_and_in_a_large_batch_match_the_reference():
    encoder = MINDLocationEncoder.from_state_dict(geoembed.weights.load_state_dict(STATE))
    x = torch.from_numpy(REF["latlon"])
    with torch.no_grad():
        single = torch.cat([encoder(x[i : i + 1]) for i in range(len(x))]).numpy()
        big = encoder(x.repeat(65, 1)[:4101]).numpy()  # more than one inference chunk, with a 5-row remainder
    assert_matches(single, REF["features"])
    assert_matches(big, np.tile(REF["features"], (65, 1))[:4101])


def test_prefix_names_give_the_prefix_of_the_full_embedding():
    full = geoembed.create_location_encoder("mind", weights_path=STATE)
    assert full.embedding_dim == 256  # the test checkpoint's width; the released one is 3072
    latlon = REF["latlon"]
    with torch.no_grad():
        wide = full(torch.from_numpy(latlon)).numpy()
    for dim in (64, 128):
        narrow = geoembed.create_location_encoder(f"mind-{dim}", weights_path=STATE)
        with torch.no_grad():
            part = narrow(torch.from_numpy(latlon)).numpy()
        np.testing.assert_allclose(part, wide[:, :dim], rtol=0, atol=1e-5)
        assert narrow.identity != full.identity


def test_widths_outside_the_nested_prefixes_are_refused_clearly():
    with pytest.raises(ValueError, match=r"dim=100 is not one of MIND's nested embedding widths \(64, 128, 256\)"):
        geoembed.create_location_encoder("mind", weights_path=STATE, dim=100)
    with pytest.raises(ValueError, match="dim=512"):  # the small test checkpoint has 256 channels
        geoembed.create_location_encoder("mind-512", weights_path=STATE)
    with pytest.raises(TypeError, match="fixes dim=64"):
        geoembed.create_location_encoder("mind-64", weights_path=STATE, dim=128)
    assert nested_widths(3072) == (64, 128, 256, 512, 1024, 2048, 3072)


def test_float16_file_is_computed_in_float32_and_records_its_measured_checksum():
    encoder = geoembed.create_location_encoder("mind", weights_path=STATE)
    assert {p.dtype for p in encoder.parameters()} == {torch.float32}
    assert encoder.weights.name == "mind.release"
    assert encoder.weights.sha256 == sha256_file(STATE) and encoder.weights.sha256_published is False


def test_conforms_to_the_location_encoder_contract():
    check_plugin("location encoder", "mind", weights_path=STATE)
    check_location_encoder(MINDLocationEncoder(width=128, depth=2, seed=0))


@pytest.mark.slow
def test_random_model_of_the_released_size_builds_and_encodes():
    model = geoembed.create_location_encoder("mind", pretrained=False, seed=0)
    assert (model.width, model.depth, model.embedding_dim) == (3072, 12, 3072)
    assert sum(p.numel() for p in model.parameters()) == 3072 * 2 + 3072 + 12 * (3072 * 3072 + 3072)
    with torch.no_grad():
        out = model(torch.from_numpy(REF["latlon"][:8]))
    assert out.shape == (8, 3072) and bool(torch.isfinite(out).all())


def test_offline_without_the_file_names_the_download_command_and_the_options(monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("a download was attempted although GEOEMBED_OFFLINE=1")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(WeightsNotFoundError) as info:
        geoembed.create_location_encoder("mind-64")
    message = str(info.value)
    assert "hf download taylor-geospatial/MIND mind.safetensors --revision main" in message
    assert "weights_path=" in message and "--weights" in message
    assert str(cached_weights_path(MIND_RELEASE)) in message


def test_online_download_goes_through_the_hub_at_the_recorded_revision_into_the_cache(monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, revision=None, **kwargs):
        calls.append((repo_id, filename, revision))
        return str(STATE)

    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr("geoembed.image_backbones.hub.probe", lambda url, timeout=None: None)  # the Hub "answers"
    first = geoembed.create_location_encoder("mind")
    assert calls == [("taylor-geospatial/MIND", "mind.safetensors", "main")]
    assert cached_weights_path(MIND_RELEASE).is_file()
    second = geoembed.create_location_encoder("mind-64")  # from the cache: no second download
    assert len(calls) == 1
    assert first.weights.sha256 == second.weights.sha256 == sha256_file(STATE)


def _save(tmp_path, state, name="bad.safetensors"):
    from safetensors.torch import save_file

    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def test_checkpoints_of_another_family_or_layout_are_refused(tmp_path):
    geoclip_like = {"LocEnc0.capsule.0.b": torch.zeros(256, 2), "LocEnc0.head.0.weight": torch.zeros(512, 1024)}
    with pytest.raises(WeightsError, match="is not a MIND checkpoint: it has no 'first.linear.weight'.*LocEnc0"):
        geoembed.create_location_encoder("mind", weights_path=_save(tmp_path, geoclip_like))

    good = dict(geoembed.weights.load_state_dict(STATE))
    year = dict(good, **{"first.linear.weight": torch.zeros(256, 18, dtype=torch.float16)})
    with pytest.raises(WeightsError, match="year-conditioned MIND checkpoint"):
        geoembed.create_location_encoder("mind", weights_path=_save(tmp_path, year, "year.safetensors"))

    gap = {k: v for k, v in good.items() if not k.startswith("blocks.3.")}
    with pytest.raises(WeightsError, match="not numbered 0..10"):
        geoembed.create_location_encoder("mind", weights_path=_save(tmp_path, gap, "gap.safetensors"))

    extra = dict(good, **{"encoder.something": torch.zeros(1)})
    with pytest.raises(WeightsError, match="unexpected keys"):
        geoembed.create_location_encoder("mind", weights_path=_save(tmp_path, extra, "extra.safetensors"))


def test_a_reconstruction_head_in_the_file_is_ignored(tmp_path):
    good = dict(geoembed.weights.load_state_dict(STATE))
    with_head = dict(good, **{"head.weight": torch.zeros(64, 256, dtype=torch.float16),
                              "head.bias": torch.zeros(64, dtype=torch.float16)})
    encoder = geoembed.create_location_encoder("mind", weights_path=_save(tmp_path, with_head, "head.safetensors"))
    latlon = REF["latlon"]
    with torch.no_grad():
        assert_matches(encoder(torch.from_numpy(latlon)).numpy(), REF["features"])


def test_random_models_are_seeded_and_leave_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = MINDLocationEncoder(width=64, depth=1, seed=7)
    assert torch.equal(before, torch.random.get_rng_state())
    b = MINDLocationEncoder(width=64, depth=1, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_model_card_fields_describe_every_name():
    import geoembed_mind

    fields = geoembed_mind.MIND_CARD_FIELDS
    for key in ("family", "input_convention", "training_data", "license", "citation"):
        assert isinstance(fields[key], str) and fields[key].strip()
    assert fields["weights"] is MIND_RELEASE and fields["embedding_dim"] == 3072
    model_card = pytest.importorskip("geoembed.model_card")  # attached only where geoembed has model cards
    for dim in (64, 128, 256, 512, 1024, 2048):
        card = model_card.card_of(getattr(geoembed_mind, f"mind_{dim}_location_encoder"))
        assert card.embedding_dim == dim and card.pretrained and card.family == "MIND"
    assert model_card.card_of(geoembed_mind.mind_location_encoder).embedding_dim == 3072


def test_command_line_encodes_with_a_weights_file_and_says_what_to_fetch_without_one(tmp_path, capsys):
    from geoembed.cli import main
    from geoembed.io import read_embeddings

    latlon = REF["latlon"][:20]
    csv = tmp_path / "points.csv"
    csv.write_text("lat,lon\n" + "".join(f"{a!r},{b!r}\n" for a, b in latlon.tolist()))
    out = tmp_path / "emb.parquet"
    args = ["encode", str(csv), "--encoder", "mind-64", "--no-progress"]
    assert main([*args, "-o", str(out), "--weights", str(STATE)]) == 0
    assert "64-d embeddings with mind-64 (weights mind.release)" in capsys.readouterr().out
    assert_matches(read_embeddings(out), REF["features"][:20, :64])

    assert main([*args, "-o", str(tmp_path / "other.parquet")]) != 0  # offline, no file: a message, no traceback
    err = capsys.readouterr().err
    assert "hf download taylor-geospatial/MIND mind.safetensors --revision main" in err and "--weights" in err
