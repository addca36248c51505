"""Geo-localization: galleries, the on-disk gallery cache, chunked retrieval, restrictions, text maps, accuracy.

The image model is GeoCLIP's image encoder with its real published head on a tiny random CLIP (no registry package
ships CLIP weights); the location encoder is the real pretrained GeoCLIP one. Galleries are kept small so the suite
stays fast; the 100K MP-16 gallery is only read (its coordinates), not embedded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import geoembed
from geoembed.errors import CacheWarning, GeoembedError, InvalidCoordinatesError
from geoembed.geo import countries, haversine_km
from geoembed.retrieval.geolocate import (
    Gallery,
    accuracy_at,
    gallery_cache_path,
    gallery_embeddings,
    geolocate,
    inside_mask,
    load_gallery,
    retrieve,
    text_map,
)
from geoembed.registry import create_image_backbone
from geoembed.testing import assert_embeddings_close

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


# -- galleries ---------------------------------------------------------------------------------------------------------
def test_mp16_gallery_comes_from_the_geoclip_wheel():
    gallery = load_gallery("mp16")
    assert len(gallery) == 100_000 and gallery.name == "mp16-100k"
    assert gallery.latlon[0] == pytest.approx([-50.943392, -72.935664])  # first row of coordinates_100K.csv
    assert load_gallery("mp16").checksum == gallery.checksum
    with pytest.raises(ValueError):
        gallery.latlon[0, 0] = 0.0  # galleries are immutable: their checksum keys the cache


def test_gallery_from_grids_files_tables_and_arrays(tmp_path):
    grid = load_gallery("grid:30")
    assert len(grid) == 6 * 12 and grid.grid_step == 30
    land = load_gallery("land:10")
    assert 0 < len(land) < len(load_gallery("grid:10"))
    table = pd.DataFrame({"Latitude": [48.85, -33.87], "Longitude": [2.35, 151.21]})
    (tmp_path / "g.csv").write_text(table.to_csv(index=False))
    from_file = load_gallery(tmp_path / "g.csv")
    assert from_file.latlon.tolist() == [[48.85, 2.35], [-33.87, 151.21]]
    assert load_gallery(table).checksum == from_file.checksum == load_gallery([[48.85, 2.35], [-33.87, 151.21]]).checksum
    import geopandas as gpd

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([2.35], [48.85]), crs="EPSG:4326").to_crs("EPSG:3857")
    assert load_gallery(points).latlon == pytest.approx(np.array([[48.85, 2.35]]))
    with pytest.raises(InvalidCoordinatesError):
        load_gallery([[95.0, 10.0]])
    with pytest.raises(FileNotFoundError, match="known gallery"):
        load_gallery("mp17")
    with pytest.raises(ValueError, match="grid step"):
        load_gallery("land:fine")


def test_gallery_embeddings_are_cached_on_disk_and_keyed_by_encoder(monkeypatch):
    import geoembed.location_encoders.encode

    first = gallery_embeddings("grid:30")
    assert isinstance(first, np.memmap) and first.shape == (72, 512)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    expected = geoembed.encode_location(np.array(load_gallery("grid:30").latlon), order="latlon", normalize=True)
    assert_embeddings_close(first, expected)  # the gallery is encoded in its own batches
    path = gallery_cache_path(load_gallery("grid:30"), geoembed.get_location_encoder("geoclip"))
    assert path.is_file() and path.parent.name == "galleries"

    def must_not_encode(*args, **kwargs):
        raise AssertionError("the cached gallery was encoded again")

    monkeypatch.setattr(geoembed.location_encoders.encode, "iter_embeddings", must_not_encode)
    np.testing.assert_array_equal(gallery_embeddings("grid:30"), first)
    monkeypatch.undo()

    random_encoder = geoembed.create_location_encoder("geoclip", pretrained=False, seed=1)
    assert gallery_cache_path(load_gallery("grid:30"), random_encoder) != path
    half = gallery_embeddings("grid:30", dtype="float16")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), first, atol=1e-3)


def test_a_damaged_cache_file_is_rebuilt():
    gallery = load_gallery("grid:30")
    good = np.array(gallery_embeddings(gallery))
    path = gallery_cache_path(gallery, geoembed.get_location_encoder("geoclip"))
    path.write_bytes(b"not a numpy file")
    with pytest.warns(CacheWarning):
        np.testing.assert_array_equal(gallery_embeddings(gallery), good)


# -- retrieval ---------------------------------------------------------------------------------------------------------
def test_chunked_retrieval_equals_a_full_softmax_and_sort():
    rng = np.random.default_rng(0)
    gallery = normalized(rng.normal(size=(1000, 16))).astype(np.float32)
    queries = normalized(rng.normal(size=(4, 16))).astype(np.float32)
    found = retrieve(queries, gallery, 7, logit_scale=30.0, chunk_rows=128)
    logits = 30.0 * queries @ gallery.T
    order = np.argsort(-logits, axis=1)[:, :7]
    np.testing.assert_array_equal(found.indices, order)
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(found.probabilities, np.take_along_axis(probabilities, order, 1), rtol=1e-4)


def test_retrieval_restricted_by_mask_and_radius():
    rng = np.random.default_rng(1)
    latlon = np.column_stack([rng.uniform(-60, 60, 500), rng.uniform(-180, 180, 500)])
    gallery = normalized(rng.normal(size=(500, 8))).astype(np.float32)
    queries = normalized(rng.normal(size=(2, 8))).astype(np.float32)
    allowed = latlon[:, 1] > 0
    within = np.array([[0.0, 90.0, 3000.0], [10.0, 20.0, 4000.0]])
    found = retrieve(queries, gallery, 3, logit_scale=10.0, allowed=allowed, within=within, gallery_latlon=latlon,
                     chunk_rows=64)
    for q in range(2):
        near = allowed & (haversine_km(within[q, 0], within[q, 1], latlon[:, 0], latlon[:, 1]) <= within[q, 2])
        candidates = np.flatnonzero(near)
        logits = 10.0 * gallery[candidates] @ queries[q]
        np.testing.assert_array_equal(found.indices[q], candidates[np.argsort(-logits)[:3]])
        top = np.sort(logits)[::-1][:3]
        np.testing.assert_allclose(found.probabilities[q], np.exp(top - np.logaddexp.reduce(logits)), rtol=1e-4)


# -- geolocate ---------------------------------------------------------------------------------------------------------
def test_geolocate_matches_geoclip_predict(model, photos):
    """Same top-k coordinates and probabilities as the reference's predict (softmax over the whole gallery)."""
    gallery = load_gallery("grid:15")
    predictions = geolocate(photos, top_k=4, model=model, gallery=gallery)
    assert list(predictions.columns) == ["image", "rank", "lat", "lon", "probability", "similarity"]
    assert len(predictions) == 12 and predictions["rank"].tolist() == [1, 2, 3, 4] * 3

    encoder = geoembed.get_location_encoder("geoclip")
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


# -- text maps and accuracy --------------------------------------------------------------------------------------------
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


def test_accuracy_at_thresholds():
    true = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # about 0 km, 111 km and 1112 km from the truth
    predicted = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    result = accuracy_at(predicted, true)
    assert result["acc@1km"] == pytest.approx(1 / 3)
    assert result["acc@200km"] == pytest.approx(2 / 3)
    assert result["acc@2500km"] == 1.0
    assert result["median_km"] == pytest.approx(111.19, rel=1e-3) and result["n"] == 3
    with pytest.raises(ValueError, match="same shape"):
        accuracy_at(predicted[:2], true)


def test_gallery_class_is_public():
    gallery = Gallery.from_latlon(np.array([[1.0, 2.0]]), "mine")
    assert geoembed.load_gallery(gallery) is gallery and len(gallery) == 1
