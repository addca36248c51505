"""One of each: the encode pipeline (arrays and files), the identity hash, the cache of built models, the column naming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import geoembed
from geoembed.errors import DataFileError, PluginOutputError
from geoembed.io import embedding_column_names, read_embeddings
from geoembed.location_encoders.contract import LocationEncoder
from geoembed.location_encoders.encode import UnsupportedOptionError, embed_latlon, encode_file
from geoembed.testing import assert_embeddings_close
from geoembed.weights import state_dict_sha256, weights_identity

CITIES = np.array([[48.8566, 2.3522], [-33.8688, 151.2093], [40.7128, -74.006], [35.6762, 139.6503]])


@pytest.fixture
def points_csv(tmp_path):
    path = tmp_path / "points.csv"
    pd.DataFrame({"name": ["paris", "sydney", "nyc", "tokyo"], "lat": CITIES[:, 0], "lon": CITIES[:, 1]}).to_csv(
        path, index=False)
    return path


# -- one identity hash ---------------------------------------------------------------------------------------------
class _Linear(LocationEncoder):
    embedding_dim = 4

    def __init__(self, dtype=torch.float32, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.layer = torch.nn.Linear(2, 4).to(dtype)

    def forward(self, latlon):
        return self.layer(latlon.to(self.layer.weight.dtype))


def test_identity_of_random_bfloat16_weights():
    a, b, other = _Linear(torch.bfloat16), _Linear(torch.bfloat16), _Linear(torch.bfloat16, seed=1)
    assert a.identity == b.identity and a.identity.split(":")[-1].startswith("random-")
    assert a.identity != other.identity
    assert a.identity != _Linear(torch.float16).identity  # same shapes, another dtype
    # the image backbone contract hashes with the same function
    backbone = geoembed.ImageBackbone()
    backbone.head = torch.nn.Linear(3, 2).to(torch.bfloat16)
    assert backbone.identity.endswith(":random-" + state_dict_sha256(backbone))
    assert weights_identity(None, a) == "random-" + state_dict_sha256(a)


def test_bfloat16_encoder_runs_through_the_pipeline():
    emb = geoembed.encode_location(CITIES, order="latlon", encoder=_Linear(torch.bfloat16))
    assert emb.dtype == np.float32 and emb.shape == (4, 4) and np.isfinite(emb).all()


# -- one pipeline --------------------------------------------------------------------------------------------------
def test_embed_latlon_fills_a_given_array():
    model = geoembed.create_location_encoder("xyz")
    out = np.zeros((4, 3), dtype=np.float16)
    assert embed_latlon(CITIES, model, batch_size=3, out=out) is out
    np.testing.assert_allclose(out, geoembed.encode_location(CITIES, order="latlon", encoder="xyz"), atol=1e-3)
    with pytest.raises(ValueError, match=r"out must have shape \(4, 3\)"):
        embed_latlon(CITIES, model, out=np.zeros((4, 2)))


@pytest.mark.parametrize("output, route", [("out.parquet", "stream"), ("out.npy", "memory"),
                                           ("out.geoparquet", "memory")])
def test_encode_file_routes_agree(points_csv, tmp_path, output, route):
    summary = encode_file(points_csv, tmp_path / output, encoder="xyz", batch_size=3, progress=False)
    assert summary["route"] == route and summary["rows"] == 4 and summary["dim"] == 3
    assert summary["weights"] == "none" and summary["encoder"] == "xyz"
    assert_embeddings_close(read_embeddings(tmp_path / output),
                            geoembed.encode_location(CITIES, order="latlon", encoder="xyz"))


def test_encode_file_streams_only_where_it_can(points_csv, tmp_path):
    summary = encode_file(points_csv, tmp_path / "mem.parquet", encoder="xyz", stream=False, progress=False)
    assert summary["route"] == "memory" and summary["columns"] == ["xyz_000", "xyz_001", "xyz_002"]
    with pytest.raises(DataFileError, match="cannot be streamed"):
        encode_file(points_csv, tmp_path / "out.npy", encoder="xyz", stream=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        encode_file(tmp_path / "missing.csv", tmp_path / "x.parquet", encoder="xyz")


def test_encode_file_names_options_an_encoder_does_not_take(points_csv, tmp_path):
    with pytest.raises(UnsupportedOptionError, match="precision= does not apply to the location encoder 'xyz'") as info:
        encode_file(points_csv, tmp_path / "out.npy", encoder="xyz", precision="bfloat16")
    assert info.value.option == "precision" and isinstance(info.value, TypeError)
    assert not (tmp_path / "out.npy").exists()


def test_encode_file_random_weights_and_label(points_csv, tmp_path):
    summary = encode_file(points_csv, tmp_path / "out.npy", encoder="geoclip", pretrained=False, seed=3,
                          progress=False)
    assert summary["weights"] == "random (seed 3)"
    expected = geoembed.encode_location(CITIES, order="latlon", pretrained=False, seed=3)
    assert_embeddings_close(np.load(tmp_path / "out.npy"), expected)


# -- one column naming ---------------------------------------------------------------------------------------------
def test_one_naming_for_files_featurizer_and_accessor(points_csv, tmp_path):
    import geopandas as gpd

    from geoembed.downstream.featurizer import LocationFeaturizer

    encode_file(points_csv, tmp_path / "out.parquet", encoder="xyz", progress=False)
    file_names = [c for c in pd.read_parquet(tmp_path / "out.parquet").columns if c.startswith("xyz")]
    featurizer = LocationFeaturizer(encoder="xyz", cache=False).fit(CITIES)
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(CITIES[:, 1], CITIES[:, 0]), crs="EPSG:4326")
    accessor_names = list(gdf.geoembed.encode(encoder="xyz", cache=False).columns)
    assert file_names == list(featurizer.get_feature_names_out()) == accessor_names == ["xyz_000", "xyz_001",
                                                                                          "xyz_002"]


def test_names_are_unambiguous_for_names_ending_in_digits():
    names = embedding_column_names(12, encoder="satclip-l40")
    assert names[0] == "satclip-l40_000" and names[11] == "satclip-l40_011" and names == sorted(names)
    assert embedding_column_names(3) == ["emb_000", "emb_001", "emb_002"]  # an array whose encoder is unknown


class _Named(LocationEncoder):
    embedding_dim = 2
    feature_names = ("desert", "forest")

    def forward(self, latlon):
        return latlon.float() / 90.0


def test_encoder_feature_names_name_the_columns(points_csv, tmp_path):
    from geoembed.downstream.featurizer import LocationFeaturizer

    assert list(LocationFeaturizer(encoder=_Named(), cache=False).fit(CITIES).get_feature_names_out()) == [
        "desert", "forest"]
    encode_file(points_csv, tmp_path / "out.parquet", encoder=_Named(), progress=False)
    assert list(pd.read_parquet(tmp_path / "out.parquet").columns) == ["name", "lat", "lon", "desert", "forest"]
    np.testing.assert_allclose(read_embeddings(tmp_path / "out.parquet", columns=["desert", "forest"]), CITIES / 90,
                               rtol=1e-6)
    encode_file(points_csv, tmp_path / "prefixed.parquet", encoder=_Named(), prefix="c", progress=False)
    assert list(pd.read_parquet(tmp_path / "prefixed.parquet").columns)[-2:] == ["c000", "c001"]
    bad = _Named()
    bad.feature_names = ("desert",)
    with pytest.raises(PluginOutputError, match="feature_names"):
        embedding_column_names(2, encoder=bad)


def test_files_with_the_former_emb_names_are_still_read(tmp_path):
    emb = np.arange(8, dtype=np.float32).reshape(4, 2)
    frame = pd.DataFrame({"lat": CITIES[:, 0], "lon": CITIES[:, 1], "emb_000": emb[:, 0], "emb_001": emb[:, 1]})
    frame.to_parquet(tmp_path / "old.parquet")
    np.testing.assert_array_equal(read_embeddings(tmp_path / "old.parquet"), emb)
    frame.assign(xyz_000=emb[:, 1], xyz_001=emb[:, 0]).to_parquet(tmp_path / "two.parquet")
    with pytest.raises(DataFileError, match="several sets of embedding columns"):
        read_embeddings(tmp_path / "two.parquet")
    np.testing.assert_array_equal(read_embeddings(tmp_path / "two.parquet", prefix="xyz_"), emb[:, ::-1])


# -- one cache of built models -------------------------------------------------------------------------------------
def test_text_encoders_use_the_registry_cache_of_built_models():
    from geoembed.concepts.text_encoders import TextEncoder, get_text_encoder
    from geoembed.registry import text_encoders

    class Constant(TextEncoder):
        space, embedding_dim, weights_id = "text:constant", 2, "v1"

        def _embed(self, texts):
            return torch.ones(len(texts), 2)

    built = []
    geoembed.register_text_encoder("unit-test-cached", lambda: built.append(1) or Constant())
    try:
        assert get_text_encoder("unit-test-cached") is get_text_encoder("unit-test-cached") and built == [1]
        text_encoders.clear_cached()
        get_text_encoder("unit-test-cached")
        assert built == [1, 1]
    finally:
        text_encoders.unregister("unit-test-cached")
        text_encoders.clear_cached()
