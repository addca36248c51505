"""``geoembed geolocate`` and ``geoembed evaluate-photos`` end to end, on photos the tests make.

The CLI runs in-process with a tiny GeoCLIP image encoder (real head, tiny random CLIP) registered at run time under
its own name, exactly as a user's plugin would be chosen with ``--model``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import ExifTags, Image

from geoembed.cli import main
from geoembed.geo import haversine_km
from geoembed.retrieval.evaluation import accuracy_at
from geoembed.retrieval.geolocate import geolocate
from geoembed.image_backbones.images import clear_backbone_cache
from geoembed.registry import image_backbones, register_image_backbone

TINY_CLIP = dict(
    embed_dim=768,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1),
)
MODEL = "tiny-geoclip-for-tests"


@pytest.fixture(autouse=True)
def tiny_model():
    from geoembed_geoclip import geoclip_image_encoder

    def factory(**kwargs):
        torch.manual_seed(0)
        return geoclip_image_encoder(clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP, **kwargs)

    register_image_backbone(MODEL, factory, overwrite=True)
    yield
    image_backbones.unregister(MODEL)
    clear_backbone_cache()


def make_photo(path, seed, gps=None):
    image = Image.fromarray((np.random.default_rng(seed).random((40, 52, 3)) * 255).astype(np.uint8))
    exif = Image.Exif()
    if gps is not None:
        lat, lon = gps
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({
            1: "N" if lat >= 0 else "S", 2: (abs(lat), 0.0, 0.0), 3: "E" if lon >= 0 else "W", 4: (abs(lon), 0.0, 0.0),
        })
    image.save(path, exif=exif)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "paris.jpg", 0, gps=(48.85, 2.35))
    make_photo(folder / "sydney.jpg", 1, gps=(-33.87, 151.21))
    make_photo(folder / "no_gps.jpg", 2)
    (folder / "broken.jpg").write_text("not a photo")
    return folder


def test_geolocate_command_writes_predictions(photos, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    args = ["geolocate", str(photos), "--top-k", "2", "-o", str(out), "--model", MODEL, "--gallery", "grid:30",
            "--no-progress"]
    assert main(args) == 0
    table = pd.read_csv(out)
    assert len(table) == 6 and set(table["rank"]) == {1, 2}
    assert {p.rsplit("/", 1)[-1] for p in table["image"]} == {"paris.jpg", "sydney.jpg", "no_gps.jpg"}
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.jpg" in err and "3 images located" in err
    assert main(args) == 2  # the output exists: refused without --overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_geolocate_command_searches_inside_a_country(photos, tmp_path, capsys):
    gallery = tmp_path / "europe.csv"
    pd.DataFrame([(lat, lon) for lat in range(36, 53) for lon in range(-10, 11)], columns=["lat", "lon"]).to_csv(
        gallery, index=False)
    assert main(["geolocate", str(photos / "paris.jpg"), "--model", MODEL, "--gallery", str(gallery),
                 "--country", "France", "--no-progress"]) == 0
    printed = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert len(printed) == 5
    from geoembed.geo import countries
    from geoembed.retrieval.search import inside_mask

    assert inside_mask(printed[["lat", "lon"]].to_numpy(), countries()[countries()["name"] == "France"]).all()
    assert main(["geolocate", str(photos), "--model", MODEL, "--country", "Frnace", "--no-progress"]) == 2
    assert "Did you mean 'France'" in capsys.readouterr().err


def test_evaluate_photos_from_a_table(photos, tmp_path, capsys):
    table = tmp_path / "truth.csv"
    pd.DataFrame({"image": ["photos/paris.jpg", "photos/sydney.jpg"], "lat": [48.85, -33.87],
                  "lon": [2.35, 151.21]}).to_csv(table, index=False)
    per_image = tmp_path / "per_image.csv"
    assert main(["evaluate-photos", str(table), "--model", MODEL, "--gallery", "grid:30", "--json", "-o",
                 str(per_image), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 2 and summary["skipped"] == 0
    assert set(summary) >= {"acc@1km", "acc@25km", "acc@200km", "acc@750km", "acc@2500km", "median_km"}
    # the same figures from the Python API, computed independently
    predictions = geolocate([photos / "paris.jpg", photos / "sydney.jpg"], 1, model=MODEL, gallery="grid:30")
    expected = accuracy_at(predictions[["lat", "lon"]].to_numpy(), np.array([[48.85, 2.35], [-33.87, 151.21]]))
    assert summary == pytest.approx({**expected, "skipped": 0})
    rows = pd.read_csv(per_image)
    np.testing.assert_allclose(rows["error_km"], haversine_km(rows["lat"], rows["lon"], rows["pred_lat"], rows["pred_lon"]))


def test_evaluate_photos_from_exif_tags_within_a_radius(photos, capsys):
    assert main(["evaluate-photos", str(photos), "--model", MODEL, "--gallery", "grid:10", "--within-km", "750",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "2 photos evaluated, 2 skipped" in captured.out
    assert "750km  100.00 %" in captured.out  # every search was restricted to 750 km of the truth
    assert "no GPS position" in captured.err and "broken.jpg" in captured.err
