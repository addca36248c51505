"""First-run behaviour without the network: missing photos first, then one fast, actionable error for missing weights.

No test here touches the network: the Hub is made unreachable by replacing the client that the probe uses.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

import geoembed.image_backbones.hub as hub
from geoembed.image_backbones.hub import HubUnavailableError
from geoembed.cli import main
from geoembed.errors import WeightsNotFoundError
from geoembed.retrieval.geolocate import geolocate

OPENAI_FILE = "hf download timm/vit_large_patch14_clip_224.openai open_clip_model.safetensors"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray((np.random.default_rng(0).random((40, 52, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture
def unreachable_hub(monkeypatch, empty_hub_cache):
    """Online as far as the switches go, but no server answers; any real download attempt fails the test."""
    import httpx
    import huggingface_hub.utils
    import open_clip

    class NoNetwork:
        def head(self, url, **kwargs):
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("GEOEMBED_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.utils, "get_session", lambda: NoNetwork())
    monkeypatch.setattr(open_clip.pretrained, "download_pretrained",
                        lambda *a, **k: pytest.fail("a download was attempted although the Hub is unreachable"))


def test_unreachable_hub_fails_fast_with_one_error_that_says_what_to_fetch(photo, unreachable_hub):
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError) as caught:
        geolocate([photo], gallery="grid:30")
    elapsed = time.perf_counter() - start
    message = str(caught.value)
    assert isinstance(caught.value, WeightsNotFoundError) and isinstance(caught.value, FileNotFoundError)
    assert "huggingface.co cannot be reached" in message and "ConnectError" in message
    assert OPENAI_FILE in message and "--local-dir DIR" in message
    assert "clip_pretrained='DIR/open_clip_model.safetensors'" in message  # the keyword geolocate takes
    assert "huggingface-cli" not in message  # that command refuses to run in current huggingface_hub releases
    assert elapsed < 15, f"took {elapsed:.1f} s"  # a fixed probe, no retries (the download's retries took ~45 s)


def test_offline_switch_tries_nothing_and_says_so(photo, monkeypatch, empty_hub_cache):
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("GEOEMBED_OFFLINE=1 must not touch the network"))
    with pytest.raises(HubUnavailableError, match=r"downloads are off \(GEOEMBED_OFFLINE is set\)") as caught:
        geolocate([photo], gallery="grid:30")
    assert OPENAI_FILE in str(caught.value) and "unset GEOEMBED_OFFLINE" in str(caught.value)


def test_cli_names_the_flag_not_the_python_keyword(photo, unreachable_hub, capsys):
    start = time.perf_counter()
    assert main(["geolocate", str(photo), "--gallery", "grid:30", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - start < 15
    assert err.startswith("geoembed geolocate: error: Pretrained weights for open_clip ViT-L-14 'openai'")
    assert "--clip-weights DIR/open_clip_model.safetensors" in err and OPENAI_FILE in err
    assert "clip_pretrained" not in err and "Traceback" not in err


def test_evaluate_photos_cli_names_the_flag_too(photo, unreachable_hub, tmp_path, capsys):
    table = tmp_path / "truth.csv"
    table.write_text(f"image,lat,lon\n{photo.name},48.85,2.35\n")
    assert main(["evaluate-photos", str(table), "--gallery", "grid:30", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--clip-weights DIR/open_clip_model.safetensors" in err and "clip_pretrained" not in err


def test_missing_photo_is_reported_before_any_model_or_weights(tmp_path, monkeypatch, capsys):
    import geoembed.image_backbones.images

    monkeypatch.setattr(geoembed.image_backbones.images, "get_image_backbone",
                        lambda *a, **k: pytest.fail("the model was built before the photos were checked"))
    missing = tmp_path / "holiday.jpg"
    assert main(["geolocate", str(missing), "--gallery", "grid:30", "--no-progress"]) == 2
    assert f"No such photo: {missing}" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="No such photo"):
        geolocate([missing, tmp_path / "other.jpg"])


def test_cli_hints_name_shell_commands_and_flags(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("lat,lon\n10,120\n20,150\n")
    assert main(["encode", str(good), "-o", str(tmp_path / "a.npy"), "--encoder", "geoclp", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "`geoembed plugins --kind location_encoder`" in err and "Did you mean 'geoclip'" in err
    source = tmp_path / "points.csv"
    source.write_text("lat,lon\n120,10\n150,20\n")  # columns swapped
    assert main(["encode", str(source), "-o", str(tmp_path / "b.npy"), "--random-weights", "--no-progress"]) == 2
    assert "--lat-col and --lon-col" in capsys.readouterr().err


def test_weights_records_on_the_hub_fail_fast_when_it_is_unreachable(unreachable_hub, monkeypatch):
    import huggingface_hub

    from geoembed.weights import WeightsRecord, resolve_weights

    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda *a, **k: pytest.fail("a download was attempted although the Hub is unreachable"))
    record = WeightsRecord(name="toy.hub", filename="toy.safetensors", sha256="0" * 64, source="a test",
                           license="MIT", citation="none", hf_hub=("someone/toy", "toy.safetensors"))
    start = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match="huggingface.co cannot be reached"):
        resolve_weights(record)
    assert time.perf_counter() - start < 15
