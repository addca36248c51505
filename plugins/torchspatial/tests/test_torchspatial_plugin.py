"""Tests of the geoembed-torchspatial plugin.

The published checkpoints come from ``<repo>/../shared/weights/torchspatial`` (or ``$GEOEMBED_SHARED_DIR``); tests
that need them skip cleanly where that folder is absent. Reference features (``data/torchspatial_reference.npz``)
were computed by the original TorchSpatial code with ``data/make_reference.py``.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import geoembed
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.model_card import ModelCard, card_of
from geoembed.weights import cached_weights_path, sha256_file

import geoembed_torchspatial as ts
from geoembed_torchspatial.checkpoints import CHECKPOINTS, PUBLISHED, RECORDS, read_checkpoint
from geoembed_torchspatial.encoders import INFERENCE_CHUNK, TorchSpatialConfig, TorchSpatialEncoder

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
REFERENCE = HERE / "data" / "torchspatial_reference.npz"
NAMES = sorted(CHECKPOINTS)
#: Features must equal the reference's to within this, measured as max|ours - reference| / max|reference| per model.
RELATIVE_TOLERANCE = 1e-5

EXPECTED_NAMES = sorted(
    [f"torchspatial-{t}.{d}" for t in ("sphere2vec-spherec", "sphere2vec-spherem", "space2vec-theory", "nerf", "rff",
                                       "wrap-ffn", "xyz") for d in ("fmow", "yfcc")]
    + ["torchspatial-sphere2vec-spherecplus.fmow", "torchspatial-space2vec-grid.yfcc", "torchspatial-tile-ffn.fmow"]
)


@pytest.fixture(autouse=True)
def _offline_and_isolated_cache(tmp_path_factory, monkeypatch):
    """No test touches the network or the developer's cache."""
    monkeypatch.setenv("GEOEMBED_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEOEMBED_CACHE_DIR", str(tmp_path_factory.mktemp("geoembed-cache")))


def _weights_dir() -> Path:
    shared = Path(os.environ.get("GEOEMBED_SHARED_DIR", REPO / ".." / "shared"))
    return shared / "weights" / "torchspatial"


@pytest.fixture(scope="module")
def weights_dir() -> Path:
    folder = _weights_dir()
    if not all((folder / p.filename).is_file() for p in PUBLISHED):
        pytest.skip(f"the published TorchSpatial checkpoints are not in {folder} (set GEOEMBED_SHARED_DIR)")
    return folder


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


def _installed() -> bool:
    try:
        importlib_metadata.distribution("geoembed-torchspatial")
    except importlib_metadata.PackageNotFoundError:
        return False
    return True


# -- registration and cards -------------------------------------------------------------------------------------
def test_the_17_published_checkpoints_are_the_encoders():
    assert NAMES == EXPECTED_NAMES
    assert sorted(p.filename for p in PUBLISHED) == sorted({p.filename for p in PUBLISHED})
    assert not any("rbf" in p.filename for p in PUBLISHED)


@pytest.mark.skipif(not _installed(), reason="geoembed-torchspatial is not installed (pip install -e plugins/torchspatial)")
def test_registered_through_entry_points_as_a_third_party_plugin():
    geoembed.refresh_plugins()
    assert geoembed.list_location_encoders("torchspatial-*") == EXPECTED_NAMES
    assert set(EXPECTED_NAMES) <= set(geoembed.list_location_encoders(pretrained=True))
    assert not set(EXPECTED_NAMES) & set(geoembed.list_location_encoders(pretrained=False))
    from geoembed.registry import THIRD_PARTY, location_encoders

    spec = location_encoders.spec("torchspatial-nerf.yfcc")
    assert (spec.origin, spec.distribution) == (THIRD_PARTY, "geoembed-torchspatial")
    assert spec.load() is ts.nerf_yfcc


@pytest.mark.parametrize("name", NAMES)
def test_every_factory_has_a_complete_card(name):
    card = card_of(ts.FACTORIES[name])
    assert isinstance(card, ModelCard) and card.pretrained
    assert card.embedding_dim == 256 == CHECKPOINTS[name].config.num_filts
    assert card.weights == (RECORDS[name],)
    assert card.license == "MIT"
    assert "TorchSpatial" in card.citation and "NeurIPS 2024" in card.citation
    assert card.input_convention.startswith("(lon, lat) degrees")
    assert CHECKPOINTS[name].dataset in card.training_data.lower().replace("mow", "mow").replace("yfcc100m", "yfcc")
    assert card.hyperparameters["spa_enc_type"] == CHECKPOINTS[name].config.spa_enc_type
    assert card.weights_status() == "needs download"  # offline test cache is empty; the URL is known


def test_weights_records_point_at_the_repository():
    for name, record in RECORDS.items():
        published = CHECKPOINTS[name]
        assert record.name == name and record.filename == published.filename
        assert record.url.startswith("https://github.com/seai-lab/TorchSpatial/raw/main/pre_trained_models/")
        assert record.url.endswith(published.filename.replace("+", "%2B"))
    assert RECORDS["torchspatial-sphere2vec-spherecplus.fmow"].url.count("%2B") == 1


# -- the checkpoints --------------------------------------------------------------------------------------------
def test_shared_files_have_the_recorded_sha256(weights_dir):
    for published in PUBLISHED:
        assert sha256_file(weights_dir / published.filename) == published.sha256, published.filename


def test_static_configs_equal_each_checkpoints_params(weights_dir):
    # Cards are built without reading files; this is where the recorded settings are checked against the files.
    for published in PUBLISHED:
        checkpoint = read_checkpoint(weights_dir / published.filename)
        assert checkpoint.config == published.config, published.filename
        assert checkpoint.dataset == published.dataset


# -- exactness --------------------------------------------------------------------------------------------------
def test_reference_file_describes_the_published_checkpoints(reference):
    assert list(reference["names"]) == NAMES
    assert list(reference["sha256"]) == [CHECKPOINTS[n].sha256 for n in NAMES]
    latlon = reference["latlon"]
    assert latlon.dtype == np.float32 and latlon.shape == (48, 2)
    assert {90.0, -90.0} <= set(latlon[:, 0].tolist()) and {180.0, -180.0} <= set(latlon[:, 1].tolist())


@pytest.mark.parametrize("name", NAMES)
def test_features_equal_the_reference_implementation(name, weights_dir, reference):
    model = geoembed.create_location_encoder(name, weights_path=weights_dir) if _installed() else ts.create(
        name, weights_path=weights_dir)
    with torch.no_grad():
        ours = model(torch.from_numpy(reference["latlon"])).numpy()
    theirs = reference[name]
    assert ours.shape == theirs.shape == (48, 256)
    relative = np.abs(ours - theirs).max() / np.abs(theirs).max()
    assert relative <= RELATIVE_TOLERANCE, f"{name}: max|ours - reference| / max|reference| = {relative:.3g}"


def test_input_order_is_lat_lon(weights_dir, reference):
    """Fed (lon, lat) by mistake, the features are far from the reference: the order matters and is [lat, lon]."""
    model = ts.create("torchspatial-sphere2vec-spherec.yfcc", weights_path=weights_dir)
    swapped = torch.from_numpy(reference["latlon"][:, ::-1].copy())
    swapped[:, 0] = swapped[:, 0].clamp(-90, 90)
    with torch.no_grad():
        wrong = model(swapped).numpy()
    theirs = reference["torchspatial-sphere2vec-spherec.yfcc"]
    assert np.abs(wrong - theirs).max() / np.abs(theirs).max() > 0.1


def test_large_batches_are_chunked_without_changing_results(weights_dir):
    model = ts.create("torchspatial-space2vec-grid.yfcc", weights_path=weights_dir)
    g = torch.Generator().manual_seed(0)
    points = torch.stack((torch.rand(INFERENCE_CHUNK + 37, generator=g) * 180 - 90,
                          torch.rand(INFERENCE_CHUNK + 37, generator=g) * 360 - 180), dim=1)
    with torch.no_grad():
        whole = model(points)
        parts = torch.cat([model(points[:INFERENCE_CHUNK]), model(points[INFERENCE_CHUNK:])])
    torch.testing.assert_close(whole, parts, rtol=1e-5, atol=1e-6)


# -- the geoembed contract --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in NAMES if "tile-ffn" not in n])
def test_conformance(name, weights_dir):
    from geoembed.testing import check_location_encoder

    check_location_encoder(ts.FACTORIES[name], weights_path=weights_dir)


def test_tile_ffn_is_location_independent_as_published(weights_dir, reference):
    # The reference's lookup grid has one cell (documented in docs/zoo.md): same embedding everywhere.
    theirs = reference["torchspatial-tile-ffn.fmow"]
    assert np.abs(theirs - theirs[0]).max() == 0
    model = ts.create("torchspatial-tile-ffn.fmow", weights_path=weights_dir)
    assert model.position_encoder.embedding.weight.shape == (1, 256)


def test_encode_location_validates_and_passes_weights_path(weights_dir):
    emb = geoembed.encode_location(lat=[48.8566, -33.8688], lon=[2.3522, 151.2093],
                                   encoder=ts.create("torchspatial-xyz.yfcc", weights_path=weights_dir))
    assert emb.shape == (2, 256) and np.isfinite(emb).all()
    with pytest.raises(ValueError, match="[Ll]atitude"):
        geoembed.encode_location(lat=[91.0], lon=[0.0],
                                 encoder=ts.create("torchspatial-xyz.yfcc", weights_path=weights_dir))


def test_random_weights_need_no_file():
    a = ts.create("torchspatial-sphere2vec-spherem.fmow", pretrained=False, seed=1)
    b = ts.create("torchspatial-sphere2vec-spherem.fmow", pretrained=False, seed=1)
    c = ts.create("torchspatial-sphere2vec-spherem.fmow", pretrained=False, seed=2)
    x = torch.tensor([[10.0, 20.0], [-30.0, 170.0]])
    with torch.no_grad():
        assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
    assert a.weights is None and a.embedding_dim == 256


# -- weights resolution ----------------------------------------------------------------------------------------
def test_weights_path_may_be_the_file_or_its_folder(weights_dir):
    published = CHECKPOINTS["torchspatial-rff.yfcc"]
    by_file = ts.create("torchspatial-rff.yfcc", weights_path=weights_dir / published.filename)
    by_folder = ts.create("torchspatial-rff.yfcc", weights_path=weights_dir)
    assert by_file.weights == by_folder.weights == RECORDS["torchspatial-rff.yfcc"]


def test_cached_file_is_used_offline_and_verified(weights_dir):
    record = RECORDS["torchspatial-xyz.fmow"]
    target = cached_weights_path(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights_dir / record.filename, target)
    assert card_of(ts.FACTORIES["torchspatial-xyz.fmow"]).weights_status() == "cached"
    assert ts.create("torchspatial-xyz.fmow").weights == record
    target.write_bytes(target.read_bytes()[:-10])  # truncated: refused, never loaded
    from geoembed.errors import ChecksumMismatchError

    with pytest.raises(ChecksumMismatchError):
        ts.create("torchspatial-xyz.fmow")


def test_missing_weights_say_what_to_do_offline():
    with pytest.raises(WeightsNotFoundError) as info:
        ts.create("torchspatial-nerf.fmow")
    message = str(info.value)
    assert "model_fmow_NeRF_inception_v3" in message and "weights_path" in message
    assert "GEOEMBED_OFFLINE" in message and "seai-lab/TorchSpatial" in message


# -- refusing what is not a checkpoint of the right family ------------------------------------------------------
def test_a_checkpoint_of_another_type_is_refused_naming_it(weights_dir, tmp_path):
    nerf = tmp_path / "renamed.pth.tar"  # not the published sha: goes through the family check
    obj = torch.load(weights_dir / CHECKPOINTS["torchspatial-nerf.yfcc"].filename, weights_only=True, map_location="cpu")
    obj["epoch"] = 0
    torch.save(obj, nerf)
    with pytest.raises(WeightsError, match=r"NeRF checkpoint .*'yfcc'.*Sphere2Vec-sphereC encoder.*torchspatial-nerf.yfcc"):
        ts.create("torchspatial-sphere2vec-spherec.yfcc", weights_path=nerf)


def test_the_published_file_of_another_encoder_is_refused(weights_dir):
    with pytest.raises(WeightsError, match="published checkpoint of 'torchspatial-nerf.yfcc'"):
        ts.create("torchspatial-nerf.fmow", weights_path=weights_dir / CHECKPOINTS["torchspatial-nerf.yfcc"].filename)


def test_a_geoclip_file_is_refused_naming_it():
    from geoembed.weights import package_file_path
    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16

    path = package_file_path(LOCATION_ENCODER_MP16)
    if path is None:
        pytest.skip("the geoclip wheel is not installed")
    with pytest.raises(WeightsError, match="GeoCLIP location encoder state dict"):
        ts.create("torchspatial-xyz.yfcc", weights_path=path)


def test_rbf_checkpoints_are_refused_by_the_safe_loader(weights_dir):
    rbf = sorted(weights_dir.glob("*_rbf_*.pth.tar"))
    if not rbf:
        pytest.skip("no rbf checkpoint in the shared folder")
    with pytest.raises(WeightsError, match=r"safe loader .*rbf"):
        ts.load_checkpoint(rbf[0])


def test_pickled_code_never_runs(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo should-not-run > " + str(tmp_path / "ran"),))

    path = tmp_path / "evil.pth.tar"
    torch.save({"params": {"spa_enc_type": "xyz"}, "state_dict": {}, "x": Payload()}, path)
    with pytest.raises(WeightsError, match="safe loader"):
        ts.create("torchspatial-xyz.yfcc", weights_path=path)
    assert not (tmp_path / "ran").exists()


def test_a_mismatched_state_dict_is_refused(weights_dir, tmp_path):
    obj = torch.load(weights_dir / CHECKPOINTS["torchspatial-xyz.yfcc"].filename, weights_only=True, map_location="cpu")
    del obj["state_dict"]["spa_enc.ffn.layers.1.linear.bias"]
    path = tmp_path / "broken.pth.tar"
    torch.save(obj, path)
    with pytest.raises(WeightsError, match="missing ffn.layers.1.linear.bias"):
        ts.create("torchspatial-xyz.yfcc", weights_path=path)


def test_bad_params_are_refused_with_their_names():
    params = {"spa_enc_type": "Sphere2Vec-sphereC", "frequency_num": 0, "min_radius": -1.0, "max_radius": 1.0,
              "map_range": [-180, 180, -90, 90], "num_hidden_layer": 1, "hidden_dim": 512, "num_filts": 256,
              "spa_f_act": "swish", "use_layn": True, "skip_connection": True}
    with pytest.raises(ValueError, match="frequency_num.*min_radius.*spa_f_act"):
        TorchSpatialConfig.from_params(params)


def test_load_checkpoint_builds_any_supported_file(weights_dir):
    model = ts.load_checkpoint(weights_dir / CHECKPOINTS["torchspatial-wrap-ffn.fmow"].filename)
    assert isinstance(model, TorchSpatialEncoder) and model.weights == RECORDS["torchspatial-wrap-ffn.fmow"]


# -- python -m geoembed_torchspatial fetch ---------------------------------------------------------------------
def test_fetch_from_a_folder_fills_the_cache_verified(weights_dir, tmp_path, capsys):
    from geoembed_torchspatial.__main__ import main

    assert main(["fetch", "torchspatial-xyz.*", "--from", str(weights_dir)]) == 0
    assert "2 of 2 checkpoints" in capsys.readouterr().out
    for name in ("torchspatial-xyz.fmow", "torchspatial-xyz.yfcc"):
        assert sha256_file(cached_weights_path(RECORDS[name])) == RECORDS[name].sha256
        assert card_of(ts.FACTORIES[name]).weights_status() == "cached"
    assert not cached_weights_path(RECORDS["torchspatial-nerf.fmow"]).exists()

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / RECORDS["torchspatial-nerf.fmow"].filename).write_bytes(b"not the checkpoint")
    assert main(["fetch", "torchspatial-nerf.fmow", "--from", str(wrong)]) == 1
    assert "does not have the published sha256" in capsys.readouterr().err
    assert not cached_weights_path(RECORDS["torchspatial-nerf.fmow"]).exists()


def test_fetch_offline_without_source_reports_each_missing_file(capsys):
    from geoembed_torchspatial.__main__ import main

    assert main(["fetch", "torchspatial-rff.*"]) == 1
    err = capsys.readouterr().err
    assert err.count("error: torchspatial-rff.") == 2 and "GEOEMBED_OFFLINE" in err


def test_download_lands_in_the_cache_with_a_progress_bar(weights_dir, monkeypatch, capsys):
    """The download path, without a network: the record's URL is pointed at the local file (file://)."""
    import dataclasses

    from geoembed.weights import resolve_weights

    original = RECORDS["torchspatial-xyz.yfcc"]
    record = dataclasses.replace(original, url=(weights_dir / original.filename).resolve().as_uri())
    monkeypatch.delenv("GEOEMBED_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    resolved = resolve_weights(record)
    assert resolved.origin == "download" and resolved.path == cached_weights_path(original)
    assert sha256_file(resolved.path) == original.sha256
    assert f"downloading {original.filename}" in capsys.readouterr().err
    assert resolve_weights(record).origin == "cache"  # the second time, no download


def test_tile_lookup_table_follows_the_weights():
    """tile_ffn runs its network once per grid cell at inference; the table must track parameter changes."""
    model = ts.create("torchspatial-tile-ffn.fmow", pretrained=False, seed=3)
    x = torch.tensor([[10.0, 20.0], [-50.0, 170.0], [89.0, -179.0]])
    with torch.no_grad():
        fast = model(x)
    with torch.enable_grad():
        slow = model(x)  # the module path, every point through the network
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        model.ffn.layers[0].linear.bias.add_(1.0)
        changed = model(x)
    assert not torch.allclose(changed, fast)
    torch.testing.assert_close(changed, model._network(model.position_encoding(x)).detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layernorm", [True, False])
def test_reused_scratch_buffers_never_leak_into_results(layernorm):
    """Hidden layers write into per-thread buffers at inference; results must stay independent across calls."""
    config = TorchSpatialConfig("Sphere2Vec-sphereM", 8, 0.001, 1.0, (-180, 180, -90, 90), 2, 32, 16, "leakyrelu",
                                layernorm, True)
    model = TorchSpatialEncoder(config, seed=0).eval()
    x1 = torch.tensor([[10.0, 20.0], [-30.0, 100.0], [60.0, -120.0]])
    x2 = torch.tensor([[-5.0, 5.0], [45.0, -45.0], [0.0, 180.0]])
    with torch.no_grad():
        first = model(x1)
        kept = first.clone()
        second = model(x2)
    assert torch.equal(first, kept) and not torch.equal(first, second)
    with torch.enable_grad():
        reference_path = model(x1).detach()  # no buffers when gradients are on
    torch.testing.assert_close(first, reference_path, rtol=1e-6, atol=1e-7)


def test_geoclip_refuses_a_torchspatial_file_naming_it(weights_dir):
    with pytest.raises(WeightsError, match="TorchSpatial xyz checkpoint"):
        geoembed.create_location_encoder("geoclip", weights_path=weights_dir / RECORDS["torchspatial-xyz.yfcc"].filename)
