"""The plugin's gallery (``mp16``, through the ``geoembed.galleries`` entry points of its pyproject) and its retrieval
evaluation, which must give exactly what geoembed's own photo evaluation gives: one retrieval engine for both.

The entry points are read from this plugin's pyproject.toml and handed to geoembed's registry as an installation
would, so the wiring is tested before the plugin is (re)installed.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from geoembed import registry
from geoembed.retrieval.evaluation import evaluate_photos
from geoembed.retrieval.gallery import create_gallery, list_galleries, load_gallery
from geoembed_geoclip.concept_aware import ConceptAwareGeoCLIP
from geoembed_geoclip.evaluation import evaluate_retrieval, gallery_coordinates, predict_locations

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
TINY_CLIP = dict(
    embed_dim=768,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1),
)


@pytest.fixture
def plugin_galleries(monkeypatch):
    """The registry sees the galleries this plugin's pyproject declares (and no installed ones of that group)."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["geoembed.galleries"]
    entry_points = [importlib_metadata.EntryPoint(name, target, "geoembed.galleries")
                    for name, target in declared.items()]
    real = registry._entry_points
    monkeypatch.setattr(registry, "_entry_points",
                        lambda group: entry_points if group == "geoembed.galleries" else real(group))
    registry.refresh_plugins()
    yield declared
    monkeypatch.undo()
    registry.refresh_plugins()


def test_mp16_gallery_is_registered_through_the_pyproject_entry_points(plugin_galleries):
    assert set(plugin_galleries) == {"mp16", "mp16-100k"}
    assert list_galleries("mp16*") == ["mp16", "mp16-100k"]
    gallery = create_gallery("mp16")
    assert len(gallery) == 100_000 and gallery.name == "mp16-100k"  # the name its cached embeddings are filed under
    assert gallery.latlon[0] == pytest.approx([-50.943392, -72.935664])  # first row of coordinates_100K.csv
    assert load_gallery("mp16").checksum == create_gallery("mp16-100k").checksum == gallery.checksum
    with pytest.raises(ValueError):
        gallery.latlon[0, 0] = 0.0  # galleries are immutable: their checksum keys the cache


@pytest.fixture(scope="module")
def tiny_geoclip():
    from geoembed_geoclip import geoclip_image_encoder

    torch.manual_seed(0)
    return geoclip_image_encoder(clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP)


def test_plugin_and_core_evaluation_agree(tiny_geoclip, tmp_path):
    """The same photos, model and gallery: geoembed evaluate-photos' figures equal the plugin's evaluate_retrieval."""
    from geoembed.location_encoders.encode import get_location_encoder

    truth = np.array([[48.85, 2.35], [-33.87, 151.21], [40.7, -74.0], [-1.29, 36.82], [64.1, -21.9]])
    names = []
    for i in range(len(truth)):
        names.append(f"photo{i}.png")
        pixels = (np.random.default_rng(i).random((40, 52, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / names[-1])
    pd.DataFrame({"image": names, "lat": truth[:, 0], "lon": truth[:, 1]}).to_csv(tmp_path / "truth.csv", index=False)
    gallery = load_gallery("grid:20")
    summary, per_image = evaluate_photos(tmp_path / "truth.csv", model=tiny_geoclip, gallery=gallery, device="cpu")

    # the plugin: precomputed image features through a model whose image head is the identity and whose location
    # tower is the same GeoCLIP location encoder (plain GeoCLIP: no concept space)
    with torch.inference_mode():
        images = torch.stack([tiny_geoclip.preprocess(Image.open(tmp_path / n).convert("RGB")) for n in names])
        features = tiny_geoclip.encode(images).float().numpy()
    model = ConceptAwareGeoCLIP(torch.nn.Identity(), get_location_encoder("geoclip", device="cpu"), None)
    result = evaluate_retrieval(model, features, truth, gallery=np.array(gallery.latlon), batch_size=2)

    np.testing.assert_array_equal(result.predictions, per_image[["pred_lat", "pred_lon"]].to_numpy())
    np.testing.assert_allclose(result.errors_km, per_image["error_km"].to_numpy())
    assert {k: v for k, v in result.metrics.items() if k != "gallery_size"} == {
        k: v for k, v in summary.items() if k != "skipped"}
    assert result.metrics["gallery_size"] == len(gallery)
    index, predicted = predict_locations(model, features, np.array(gallery.latlon))
    np.testing.assert_array_equal(predicted, result.predictions)
    np.testing.assert_array_equal(index, result.gallery_index)


def test_gallery_coordinates_takes_the_plugin_gallery_without_the_registry():
    assert gallery_coordinates("mp16").shape == (100_000, 2)
