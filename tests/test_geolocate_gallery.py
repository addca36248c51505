"""Galleries (geoembed.retrieval.gallery): the galleries registry kind, loading galleries from names, grids, files,
tables and arrays, and their embeddings in geoembed's disk cache.

The location encoder is the real pretrained GeoCLIP one; galleries are small grids. GeoCLIP's MP-16 gallery belongs
to the GeoCLIP plugin and is tested there (plugins/geoembed_geoclip/tests/test_gallery_and_evaluation.py).
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata

import numpy as np
import pandas as pd
import pytest

import geoembed
from geoembed import registry
from geoembed.errors import CacheWarning, InvalidCoordinatesError, UnknownPluginError
from geoembed.retrieval.gallery import (
    Gallery,
    create_gallery,
    gallery_cache_path,
    gallery_embeddings,
    list_galleries,
    load_gallery,
    register_gallery,
)
from geoembed.testing import assert_embeddings_close


@pytest.fixture
def clean_galleries():
    """Forget galleries a test registers at run time."""
    before = set(registry.galleries._runtime)
    yield
    for name in set(registry.galleries._runtime) - before:
        registry.galleries.unregister(name)


# -- galleries from names, grids, files, tables and arrays -------------------------------------------------------------
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
    path = gallery_cache_path(load_gallery("grid:30"), geoembed.create_location_encoder("geoclip"))
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
    path = gallery_cache_path(gallery, geoembed.create_location_encoder("geoclip"))
    path.write_bytes(b"not a numpy file")
    with pytest.warns(CacheWarning):
        np.testing.assert_array_equal(gallery_embeddings(gallery), good)


def test_gallery_class_is_public():
    gallery = Gallery.from_latlon(np.array([[1.0, 2.0]]), "mine")
    assert geoembed.load_gallery(gallery) is gallery and len(gallery) == 1


# -- the galleries registry kind ---------------------------------------------------------------------------------------
CAPITALS = [[48.8566, 2.3522], [-33.8688, 151.2093], [35.6762, 139.6503]]


def _entry_point_gallery(**kwargs):
    """A gallery factory that the tests reach through an entry point, as an installed plugin's would be."""
    return Gallery.from_latlon(CAPITALS, "capitals", **kwargs)


def test_register_create_and_list_galleries(clean_galleries):
    @register_gallery("test.capitals")
    def capitals():
        return Gallery.from_latlon(CAPITALS, "capitals")

    register_gallery("test.array", lambda step=1.0: np.array(CAPITALS[:2]) * step)
    assert list_galleries("test.*") == ["test.array", "test.capitals"]
    assert geoembed.list_galleries is list_galleries and geoembed.create_gallery is create_gallery
    built = create_gallery("test.capitals")
    assert isinstance(built, Gallery) and built.latlon.tolist() == CAPITALS
    from_array = create_gallery("test.array", step=0.5)  # the factory's own options
    assert from_array.name == "test.array" and from_array.latlon.tolist() == (np.array(CAPITALS[:2]) * 0.5).tolist()
    assert load_gallery("test.capitals").checksum == built.checksum  # gallery= and --gallery take registered names
    with pytest.raises(ValueError, match="already registered"):
        register_gallery("test.capitals", capitals)
    register_gallery("test.bad", lambda: "not a gallery")
    with pytest.raises(TypeError, match="must return a geoembed.Gallery"):
        create_gallery("test.bad")


def test_an_unknown_gallery_names_the_known_ones(clean_galleries):
    register_gallery("test.capitals", _entry_point_gallery)
    with pytest.raises(UnknownPluginError, match=r"Unknown gallery 'test.capitols'.*Did you mean 'test.capitals'") \
            as err:
        create_gallery("test.capitols")
    assert "geoembed.list_galleries()" in str(err.value) and "'geoembed.galleries'" in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"neither a file nor a known gallery \(.*'test.capitals'.*grid:STEP"):
        load_gallery("test.capitols")


def test_galleries_come_from_entry_points(monkeypatch):
    extra = importlib_metadata.EntryPoint("entry.capitals", "test_geolocate_gallery:_entry_point_gallery",
                                          "geoembed.galleries")
    real = registry._entry_points
    monkeypatch.setattr(registry, "_entry_points",
                        lambda group: [*real(group), *([extra] if group == extra.group else [])])
    registry.refresh_plugins()
    try:
        assert "entry.capitals" in list_galleries()
        spec = registry.galleries.spec("entry.capitals")
        assert spec.origin == registry.THIRD_PARTY and not spec.loaded  # listing imports nothing
        assert create_gallery("entry.capitals", grid_step=None).latlon.tolist() == CAPITALS
        assert registry.REGISTRIES["geoembed.galleries"] is registry.galleries  # `geoembed plugins` walks it
    finally:
        monkeypatch.undo()
        registry.refresh_plugins()
    assert "entry.capitals" not in list_galleries()
