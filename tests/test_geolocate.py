"""Photo geolocation (geoembed.retrieval.geolocate) and text maps (geoembed.retrieval.text_maps).

The image model is GeoCLIP's image encoder with its real published head on a tiny random CLIP (no registry package
ships CLIP weights); the location encoder is the real pretrained GeoCLIP one. Galleries are small regular grids, so
the suite stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import geoembed
from geoembed.errors import GeoembedError, InvalidCoordinatesError
from geoembed.geo import countries, haversine_km
from geoembed.registry import create_image_backbone
from geoembed.retrieval.gallery import gallery_embeddings, load_gallery
from geoembed.retrieval.geolocate import geolocate
from geoembed.retrieval.search import inside_mask
from geoembed.retrieval.text_maps import text_map

from fakes import TINY_CLIP  # noqa: E402 - shared tiny open_clip architecture


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_image_backbone("geoclip", clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP)


@pytest.fixture(scope="module")
def photos():
    return [Image.fromarray((np.random.default_rng(i).random((40, 52, 3)) * 255).astype(np.uint8)) for i in range(3)]


def normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# -- geolocate ---------------------------------------------------------------------------------------------------------
def test_geolocate_matches_geoclip_predict(model, photos):
    """Same top-k coordinates and probabilities as the reference's predict (softmax over the whole gallery)."""
    gallery = load_gallery("grid:15")
    predictions = geolocate(photos, top_k=4, model=model, gallery=gallery)
    assert list(predictions.columns) == ["image", "rank", "lat", "lon", "probability", "similarity"]
    assert len(predictions) == 12 and predictions["rank"].tolist() == [1, 2, 3, 4] * 3

    encoder = geoembed.create_location_encoder("geoclip")
    with torch.inference_mode():
        images = torch.stack([model.preprocess(p) for p in photos])
        image_features = torch.nn.functional.normalize(model.encode(images), dim=1)
        locations = torch.nn.functional.normalize(encoder(torch.tensor(gallery.latlon, dtype=torch.float32)), dim=1)
        probabilities = (model.logit_scale.exp() * image_features @ locations.T).softmax(dim=-1)
        top = probabilities.topk(4, dim=1)
    for i in range(3):
        rows = predictions[predictions["image"] == f"image[{i}]"]
        np.testing.assert_allclose(rows[["lat", "lon"]].to_numpy(), gallery.latlon[top.indices[i].numpy()])
        np.testing.assert_allclose(rows["probability"], top.values[i].numpy(), rtol=1e-4)


def test_geolocate_within_a_radius(model, photos):
    predictions = geolocate(photos, top_k=3, model=model, gallery="grid:10", within=(48.85, 2.35, 750))
    distances = haversine_km(48.85, 2.35, predictions["lat"], predictions["lon"])
    assert (distances <= 750).all() and len(predictions) == 9
    per_image = np.array([[48.85, 2.35, 750], [-33.87, 151.21, 750], [40.7, -74.0, 750]])
    predictions = geolocate(photos, top_k=1, model=model, gallery="grid:10", within=per_image)
    assert (haversine_km(per_image[:, 0], per_image[:, 1], predictions["lat"], predictions["lon"]) <= 750).all()
    with pytest.raises(GeoembedError, match="No gallery point lies within 1 km"):
        geolocate(photos[:1], model=model, gallery="grid:15", within=(0.1, 0.1, 1))
    with pytest.raises(InvalidCoordinatesError):
        geolocate(photos[:1], model=model, gallery="grid:15", within=(120, 0, 100))


def test_geolocate_inside_polygons(model, photos):
    europe = [[lat, lon] for lat in range(36, 53) for lon in range(-10, 11)]
    france = countries()[countries()["name"] == "France"]
    predictions = geolocate(photos, top_k=5, model=model, gallery=europe, inside=france)
    assert inside_mask(predictions[["lat", "lon"]].to_numpy(), france).all()
    assert predictions.groupby("image")["probability"].sum().le(1 + 1e-6).all()
    with pytest.raises(GeoembedError, match="No point of the gallery"):
        geolocate(photos, model=model, gallery=[[0.0, -30.0]], inside=france)


def test_geolocate_fewer_allowed_points_than_top_k(model, photos):
    predictions = geolocate(photos[:1], top_k=5, model=model, gallery="grid:30", within=(45, 15, 1500))
    assert 0 < len(predictions) < 5
    assert predictions["probability"].sum() == pytest.approx(1.0, rel=1e-5)


def test_ten_crop_averages_the_crop_scores(model, photos):
    gallery = load_gallery("grid:30")
    predictions = geolocate(photos[:1], top_k=1, model=model, gallery=gallery, ten_crop=True)
    crops = model.ten_crop()(photos[0])
    with torch.inference_mode():
        crop_features = normalized(model.encode(crops).numpy())
    similarity = (crop_features @ np.asarray(gallery_embeddings(gallery)).T).mean(axis=0)
    assert predictions["similarity"].iloc[0] == pytest.approx(similarity.max(), rel=1e-4)
    assert gallery.latlon[similarity.argmax()].tolist() == predictions[["lat", "lon"]].iloc[0].tolist()


def test_geolocate_skips_bad_files_and_reads_folders(model, photos, tmp_path):
    photos[0].save(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_text("not a photo")
    with pytest.warns(geoembed.SkippedImageWarning, match="b.jpg"):
        predictions = geolocate(tmp_path, top_k=2, model=model, gallery="grid:30")
    assert set(predictions["image"]) == {str(tmp_path / "a.jpg")}
    assert [name for name, _ in predictions.attrs["skipped"]] == [str(tmp_path / "b.jpg")]


def test_geolocate_checks_its_arguments(model, photos):
    with pytest.raises(ValueError, match="top_k"):
        geolocate(photos, top_k=0, model=model)
    wide = create_image_backbone("open_clip", model_name="ViT-B-32", pretrained=None, **TINY_CLIP)
    with pytest.raises(GeoembedError, match="768-d features"):
        geolocate(photos, model=wide, gallery="grid:30")
    with pytest.raises(ValueError, match="one such row per image"):
        geolocate(photos, model=model, gallery="grid:30", within=[(0, 0, 10)] * 2)


# -- text maps ---------------------------------------------------------------------------------------------------------
def test_text_map_scores_a_text_against_locations(model, tmp_path):
    out = tmp_path / "desert.png"
    scores = text_map("desert", out, model=model, gallery="grid:30")
    assert list(scores.columns) == ["lat", "lon", "similarity"] and len(scores) == 72
    with torch.inference_mode():
        text = normalized(model.encode_text(["desert"]).numpy())[0]
    np.testing.assert_allclose(scores["similarity"], np.asarray(gallery_embeddings("grid:30")) @ text, rtol=1e-5)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 500
    with pytest.raises(ValueError, match="non-empty string"):
        text_map("  ", model=model)


# -- the names that lived here before the split ------------------------------------------------------------------------
@pytest.mark.parametrize("name, module", [("accuracy_at", "evaluation"), ("load_gallery", "gallery"),
                                          ("retrieve", "search"), ("text_map", "text_maps")])
def test_moved_names_still_import_from_geolocate_with_a_warning(name, module):
    import importlib

    import geoembed.retrieval.geolocate as old

    with pytest.warns(DeprecationWarning, match=f"moved to geoembed.retrieval.{module}.{name}"):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(f"geoembed.retrieval.{module}"), name)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018


# -- the core reaches plugins' galleries through the registry only ----------------------------------------------------
def test_the_core_retrieval_code_does_not_import_the_plugin():
    core = Path(geoembed.__file__).parent
    sources = [*(core / "retrieval").glob("*.py"), *(core / "commands").glob("geolocate*.py"),
               core / "commands" / "evaluate_photos.py"]
    assert len(sources) >= 7
    offenders = [str(p) for p in sources if "geoembed_geoclip" in p.read_text()]
    assert offenders == []
