"""Reading images of every kind, skipping bad files, views, resumable feature extraction and EXIF GPS tags."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import ExifTags, Image

from geoembed.errors import GeoembedError
from geoembed.image_backbones.images import (
    FeatureStore,
    SkippedImageWarning,
    collect_images,
    encode_images,
    extract_features,
    read_exif_latlon,
)
from geoembed.registry import create_image_backbone
from geoembed.testing import assert_embeddings_close

from fakes import TINY_CLIP  # noqa: E402 - shared tiny open_clip architecture


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    return create_image_backbone("open_clip", model_name="ViT-B-32", pretrained=None, **TINY_CLIP)


def make_photo(seed: int, size=(40, 52)) -> Image.Image:
    return Image.fromarray((np.random.default_rng(seed).random((*size, 3)) * 255).astype(np.uint8))


@pytest.fixture
def photo_folder(tmp_path):
    """Three good photos, a corrupt JPEG, a text file with an image extension, a note and a nested photo."""
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for i in range(3):
        make_photo(i).save(folder / f"p{i}.jpg")
    make_photo(9).save(folder / "nested" / "deep.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "fake.png").write_text("not an image")
    (folder / "notes.txt").write_text("labels live elsewhere")
    return folder


def test_collect_images_from_folders_lists_and_objects(photo_folder):
    names = [item.name for item in collect_images(photo_folder)]
    assert [n.rsplit("/", 1)[-1] for n in names] == ["broken.jpg", "fake.png", "p0.jpg", "p1.jpg", "p2.jpg"]
    assert any(n.endswith("nested/deep.png") for n in (i.name for i in collect_images(photo_folder, recursive=True)))
    mixed = collect_images([photo_folder / "p0.jpg", make_photo(1), np.zeros((8, 8, 3), np.uint8)])
    assert [i.name for i in mixed][1:] == ["image[1]", "image[2]"]
    assert len(collect_images(torch.zeros(4, 3, 8, 8))) == 4  # a batch is four images
    with pytest.raises(TypeError, match="images must be"):
        collect_images(3.5)


def test_unreadable_files_are_reported_and_skipped(photo_folder, backbone):
    with pytest.warns(SkippedImageWarning) as caught:
        result = encode_images([photo_folder, photo_folder / "missing.jpg"], backbone, batch_size=2)
    assert [n.rsplit("/", 1)[-1] for n in result.names] == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert result.features.shape == (3, 768) and result.features.dtype == np.float32
    skipped = {name.rsplit("/", 1)[-1] for name, _ in result.skipped}
    assert skipped == {"broken.jpg", "fake.png", "missing.jpg"}
    assert len(caught) == 3


def test_features_do_not_depend_on_batching_or_input_kind(photo_folder, backbone):
    paths = [photo_folder / f"p{i}.jpg" for i in range(3)]
    one_batch = encode_images(paths, backbone, batch_size=8).features
    single = encode_images(paths, backbone, batch_size=1).features
    assert_embeddings_close(one_batch, single)
    as_arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    from_arrays = encode_images(as_arrays, backbone).features
    assert from_arrays.shape == (3, 768) and np.isfinite(from_arrays).all()


def test_ten_crop_and_augmented_views(photo_folder, backbone):
    paths = [photo_folder / "p0.jpg", photo_folder / "p1.jpg"]
    crops = encode_images(paths, backbone, views="ten_crop").features
    assert crops.shape == (2, 10, 768)
    first = encode_images(paths, backbone, views="augment", n_augment=3, seed=1).features
    again = encode_images(paths, backbone, views="augment", n_augment=3, seed=1).features
    other = encode_images(paths, backbone, views="augment", n_augment=3, seed=2).features
    assert first.shape == (2, 3, 768)
    np.testing.assert_array_equal(first, again)  # reproducible from the seed
    assert not np.allclose(first, other)
    assert not np.allclose(first[:, 0], first[:, 1])  # the views differ
    with pytest.raises(ValueError, match="views must be one of"):
        encode_images(paths, backbone, views="five_crop")


def test_extract_features_writes_a_memory_map_and_an_index(photo_folder, backbone, tmp_path):
    out = tmp_path / "features"
    with pytest.warns(SkippedImageWarning):
        store = extract_features(photo_folder, out, backbone, batch_size=2, progress=False)
    assert isinstance(store.features, np.memmap) and store.features.shape == (5, 768)
    assert store.complete
    assert list(store.index["status"]) == ["skipped", "skipped", "done", "done", "done"]
    expected = encode_images(sorted(photo_folder.glob("p*.jpg")), backbone).features
    assert_embeddings_close(store.features[2:], expected)  # batches of 2 against one batch
    assert not store.features[:2].any()  # skipped rows hold zeros
    reasons = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert {r["row"] for r in reasons} == {0, 1}
    assert FeatureStore.open(out).meta["backbone"] == backbone.identity


def test_extract_features_resumes_after_an_interruption(photo_folder, backbone, tmp_path):
    paths = sorted(photo_folder.glob("p*.jpg")) + [make_photo(i + 10) for i in range(3)]  # six images
    out = tmp_path / "resumable"
    calls = {"n": 0}
    original_encode = backbone.encode

    def encode_then_crash(batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the second batch
        return original_encode(batch)

    backbone.encode = encode_then_crash
    try:
        with pytest.raises(KeyboardInterrupt):
            extract_features(paths, out, backbone, batch_size=2, progress=False)
    finally:
        del backbone.encode
    partial = FeatureStore.open(out)
    assert not partial.complete and list(partial.index["status"]).count("done") == 2

    seen = []
    backbone.encode = lambda batch: seen.append(len(batch)) or original_encode(batch)
    try:
        store = extract_features(paths, out, backbone, batch_size=2, progress=False)
    finally:
        del backbone.encode
    assert sum(seen) == 4  # only the four pending images were encoded again
    assert store.complete
    assert_embeddings_close(store.features, encode_images(paths, backbone).features)


def test_extract_features_refuses_to_mix_runs(photo_folder, backbone, tmp_path):
    out = tmp_path / "mixed"
    paths = [photo_folder / "p0.jpg", photo_folder / "p1.jpg"]
    extract_features(paths, out, backbone, progress=False)
    with pytest.raises(GeoembedError, match="different views"):
        extract_features(paths, out, backbone, views="ten_crop", progress=False)
    store = extract_features(paths, out, backbone, views="ten_crop", progress=False, resume=False)
    assert store.features.shape == (2, 10, 768)
    with pytest.raises(GeoembedError, match="No images found"):
        extract_features([], tmp_path / "x", backbone, progress=False)


def test_float16_storage(photo_folder, backbone, tmp_path):
    store = extract_features([photo_folder / "p0.jpg"], tmp_path / "half", backbone, dtype="float16", progress=False)
    assert store.features.dtype == np.float16
    full = encode_images([photo_folder / "p0.jpg"], backbone).features
    np.testing.assert_allclose(store.features.astype(np.float32), full, rtol=2e-3, atol=2e-3)


def write_geotagged_jpeg(path, lat_dms, lat_ref, lon_dms, lon_ref):
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: lat_ref, 2: lat_dms, 3: lon_ref, 4: lon_dms})
    make_photo(0).save(path, exif=exif)


def test_read_exif_gps_position(tmp_path):
    sydney = tmp_path / "sydney.jpg"
    write_geotagged_jpeg(sydney, (33.0, 52.0, 4.68), "S", (151.0, 12.0, 30.0), "E")
    lat, lon = read_exif_latlon(sydney)
    assert lat == pytest.approx(-(33 + 52 / 60 + 4.68 / 3600))
    assert lon == pytest.approx(151 + 12 / 60 + 30 / 3600)
    plain = tmp_path / "plain.jpg"
    make_photo(1).save(plain)
    assert read_exif_latlon(plain) is None
