"""Hostile input at geoembed's boundaries: coordinates, tables, plugin output, weights files, concept files.

Each test here reproduces a case where geoembed once returned a silently wrong answer or an unhelpful exception;
see docs/reliability.md for what is checked where.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import geoembed
from geoembed.coords import as_latlon
from geoembed.errors import (
    DataFileError,
    InvalidCoordinatesError,
    InvalidGeometryError,
    NonFiniteOutputError,
    PluginOutputError,
    WeightsError,
)


class _Misbehaving(geoembed.LocationEncoder):
    """An encoder whose output breaks the contract in a chosen way."""

    embedding_dim = 4

    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def forward(self, latlon):
        n = latlon.shape[0]
        if self.how == "fewer_rows":
            return torch.ones(n - 1, 4)
        if self.how == "wider":
            return torch.ones(n, 5)
        if self.how == "integers":
            return torch.ones(n, 4, dtype=torch.int64)
        if self.how == "huge":
            return torch.full((n, 4), 8.7e35)
        if self.how == "inf":
            return torch.full((n, 4), float("inf"))
        if self.how == "numpy":
            return np.ones((n, 4), dtype=np.float32)
        if self.how == "zero_width":
            return torch.ones(n, 0)
        raise AssertionError(self.how)


# -- item 1: plugin output checked at the boundary -----------------------------------------------------------------
@pytest.mark.parametrize(
    "how, error, message",
    [
        ("fewer_rows", PluginOutputError, r"returned shape \(2, 4\) for rows 0..2 of input shape \(3, 2\)"),
        ("wider", PluginOutputError, r"returned shape \(3, 5\).*embedding_dim=4"),
        ("integers", PluginOutputError, r"torch.int64 values.*floating point"),
        ("huge", PluginOutputError, r"magnitude 8.7e\+35"),
        ("inf", NonFiniteOutputError, r"non-finite embeddings for rows 0..2 \(first at row 0\)"),
        ("numpy", PluginOutputError, r"returned a ndarray.*not a torch.Tensor"),
    ],
)
def test_encoder_output_breaking_the_contract_is_refused(how, error, message):
    with pytest.raises(error, match=message) as info:
        geoembed.encode_location(lat=[0.0, 1.0, 2.0], lon=[0.0, 1.0, 2.0], encoder=_Misbehaving(how))
    # The message says which class and where it comes from (here: a test module, no installed distribution).
    assert "_Misbehaving" in str(info.value)


def test_zero_width_encoders_are_refused():
    model = _Misbehaving("zero_width")
    model.embedding_dim = 0
    with pytest.raises(PluginOutputError, match=r"embedding_dim=0; it must be a positive integer"):
        geoembed.encode_location(lat=[0.0], lon=[0.0], encoder=model)


def test_every_consumer_of_encoder_output_is_checked(tmp_path):
    """The featurizer cache and streaming go through the same check as encode_location."""
    from geoembed.downstream.cache import embed_points

    latlon = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(PluginOutputError, match="returned shape"):
        embed_points(latlon, _Misbehaving("fewer_rows"), cache=False)
    with pytest.raises(PluginOutputError, match="returned shape"):
        list(geoembed.iter_embeddings(latlon, _Misbehaving("fewer_rows")))


def test_registered_encoder_errors_name_the_registered_name():
    geoembed.register_location_encoder("short_rows_enc", lambda **kw: _Misbehaving("fewer_rows"))
    try:
        with pytest.raises(PluginOutputError, match=r"location encoder 'short_rows_enc' \(registered at run time"):
            geoembed.encode_location(lat=[0.0, 1.0], lon=[0.0, 1.0], encoder="short_rows_enc")
    finally:
        geoembed.registry.location_encoders.unregister("short_rows_enc")
        geoembed.registry.location_encoders.clear_cached()


# -- item 5: silently wrong coordinates ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lat, message",
    [
        (np.ma.array([10.0, 1e9], mask=[False, True]), "masked array with 1 masked value"),
        ([True, False], "got booleans"),
        ([True, 2.5], "got booleans among them"),
        (np.array([1 + 2j, 3 + 0j]), "got complex numbers"),
        (torch.tensor([1 + 2j, 3 + 0j]), "complex64 tensor"),
        (torch.tensor([True, False]), "torch.bool tensor"),
        (np.array([1, 2], dtype="timedelta64[s]"), "durations"),
        (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "dates"),
        (pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"])), "datetime64"),
        (pd.Series([True, False]), "booleans"),
        (["10", "20"], "text"),
        (np.array(["10", 20], dtype=object), r"value 0 is '10' \(str\)"),
        (pd.Series(["10", "20"], dtype="string"), "dtype string"),
    ],
)
def test_values_that_are_not_real_numbers_are_refused(lat, message):
    with pytest.raises(InvalidCoordinatesError, match=message):
        as_latlon(lat=lat, lon=[0.0, 1.0])


def test_masked_arrays_without_masked_values_are_read_as_their_data():
    out = as_latlon(lat=np.ma.array([10.0, 20.0], mask=[False, False]), lon=[1.0, 2.0])
    np.testing.assert_array_equal(out, [[10.0, 1.0], [20.0, 2.0]])


def test_booleans_inside_rows_of_points_are_refused():
    with pytest.raises(InvalidCoordinatesError, match="booleans among them"):
        as_latlon([[10.0, True], [20.0, 2.0]], order="latlon")


def test_masked_points_arrays_are_refused():
    points = np.ma.array([[10.0, 1.0], [0.0, 0.0]], mask=[[False, False], [True, True]])
    with pytest.raises(InvalidCoordinatesError, match="masked"):
        as_latlon(points, order="latlon")


def test_series_with_different_indexes_are_refused_not_paired_by_position():
    lat = pd.Series([10.0, 20.0], index=["a", "b"])
    lon = pd.Series([2.0, 1.0], index=["b", "a"])
    with pytest.raises(InvalidCoordinatesError, match="different indexes.*lat.align"):
        as_latlon(lat=lat, lon=lon)
    lat_aligned, lon_aligned = lat.align(lon)
    np.testing.assert_array_equal(as_latlon(lat=lat_aligned, lon=lon_aligned), [[10.0, 1.0], [20.0, 2.0]])
    # One Series and one array pair by position, as documented.
    np.testing.assert_array_equal(as_latlon(lat=lat, lon=np.array([1.0, 2.0])), [[10.0, 1.0], [20.0, 2.0]])


def test_nullable_pandas_columns_are_read_with_missing_values_named():
    lat = pd.Series([10.0, None], dtype="Float64")
    with pytest.raises(InvalidCoordinatesError, match=r"NaN or infinite.*row 1 \(lat=nan"):
        as_latlon(lat=lat, lon=pd.Series([1, 2], dtype="Int64"))
    np.testing.assert_array_equal(as_latlon(lat=pd.Series([10, 20], dtype="Int64"), lon=[1.0, 2.0]),
                                  [[10.0, 1.0], [20.0, 2.0]])


@pytest.mark.parametrize(
    "crs, x, y, message",
    [
        ("EPSG:3857", 1e10, 0.0, "outside the domain of EPSG:3857"),  # once became lon -168.47
        ("EPSG:2154", 1e8, 1e8, "outside the domain of EPSG:2154"),  # Lambert-93, folded back onto the globe
        ("EPSG:2154", 3e6, 6.6e6, "outside the area of use of EPSG:2154"),  # Lambert-93 easting 2,300 km off
        ("EPSG:32631", 1e7, 5e6, "outside the area of use of EPSG:32631"),  # UTM 31N easting 9,500 km off
        ("EPSG:32631", 5e5, 1e8, "outside the domain of EPSG:32631"),
    ],
)
def test_projected_coordinates_outside_their_crs_are_refused(crs, x, y, message):
    import geopandas
    import shapely

    points = geopandas.GeoSeries([shapely.Point(x, y)], crs=crs)
    with pytest.raises(InvalidCoordinatesError, match=message):
        as_latlon(points)


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:2154", "EPSG:32631", "EPSG:32760", "EPSG:3031"])
def test_projected_coordinates_inside_their_crs_match_geopandas(crs):
    import geopandas
    import shapely

    lonlat = {"EPSG:3857": [(2.35, 48.86), (151.2, -33.87)], "EPSG:2154": [(2.35, 48.86), (-4.5, 48.4)],
              "EPSG:32631": [(2.35, 48.86), (5.0, 52.0)], "EPSG:32760": [(178.0, -18.0), (-179.5, -16.0)],
              "EPSG:3031": [(166.7, -77.8), (0.0, -90.0)]}[crs]
    wgs84 = geopandas.GeoSeries([shapely.Point(p) for p in lonlat], crs="EPSG:4326")
    projected = wgs84.to_crs(crs)
    expected = projected.to_crs("EPSG:4326")
    out = as_latlon(projected)
    np.testing.assert_allclose(out, np.column_stack([expected.y, expected.x]), rtol=0, atol=1e-9)


# -- item 13: the right error types and messages ----------------------------------------------------------------
def test_integers_too_large_for_a_float_are_a_coordinate_error():
    with pytest.raises(InvalidCoordinatesError, match="too large to be a coordinate"):
        geoembed.encode_location(lat=[10**400], lon=[0.0], encoder="xyz")


def test_meta_tensors_are_a_coordinate_error():
    with pytest.raises(InvalidCoordinatesError, match="'meta' device"):
        as_latlon(lat=torch.zeros(2, device="meta"), lon=torch.zeros(2, device="meta"))


def test_geodataframe_without_active_geometry_is_a_geometry_error():
    import geopandas
    import shapely

    gdf = geopandas.GeoDataFrame({"a": [1], "where": geopandas.GeoSeries([shapely.Point(1, 1)], crs=4326)})
    with pytest.raises(InvalidGeometryError, match=r"no active geometry.*set_geometry\('where'\)"):
        geoembed.encode_location(gdf, encoder="xyz")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_tensors_are_accepted(dtype):
    lat, lon = torch.tensor([48.75, -33.875], dtype=dtype), torch.tensor([2.25, 151.0], dtype=dtype)
    out = as_latlon(lat=lat, lon=lon)
    np.testing.assert_array_equal(out, np.column_stack([lat.double().numpy(), lon.double().numpy()]))


def test_latitudes_just_past_a_pole_are_printed_exactly_without_a_swap_hint():
    with pytest.raises(InvalidCoordinatesError) as info:
        as_latlon(lat=[90.0000000001], lon=[0.0])
    message = str(info.value)
    assert "lat=90.0000000001" in message
    assert "swapped" not in message and "rounding error" in message
    with pytest.raises(InvalidCoordinatesError, match="swapped"):  # a real column swap still gets the hint
        as_latlon(lat=[151.2, 2.35], lon=[-33.9, 48.9])


def test_deeply_nested_concept_files_are_data_errors(tmp_path):
    from geoembed.concepts.bank import read_concept_file

    deep_json = tmp_path / "deep.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataFileError, match=r"deep.json is not valid JSON: it is nested too deeply"):
        read_concept_file(deep_json)
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataFileError, match=r"deep.yaml is not valid YAML: it is nested too deeply"):
        read_concept_file(deep_yaml)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_concept_files_that_are_not_utf8_name_the_file(tmp_path, suffix):
    from geoembed.concepts.bank import read_concept_file

    path = tmp_path / f"latin1{suffix}"
    path.write_bytes('["caf\u00e9"]'.encode("latin-1"))
    with pytest.raises(DataFileError, match=rf"latin1\{suffix} is not valid .*not UTF-8 text"):
        read_concept_file(path)


def test_saved_bank_metadata_nested_too_deeply_is_a_bank_error(tmp_path):
    from geoembed.concepts.bank import JSON_NAME, TENSORS_NAME, ConceptBank
    from geoembed.errors import ConceptBankError

    (tmp_path / JSON_NAME).write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / TENSORS_NAME).write_bytes(b"")
    with pytest.raises(ConceptBankError, match="not valid JSON"):
        ConceptBank.load(tmp_path)


# -- item 14: silent ambiguity -------------------------------------------------------------------------------------
def test_csv_with_a_repeated_column_name_is_refused(tmp_path):
    from geoembed.io import read_points

    path = tmp_path / "dup.csv"
    path.write_text("lat,lat,lon\n1,2,3\n")
    with pytest.raises(DataFileError, match=r"repeats the column name\(s\) \['lat'\]"):
        read_points(path)
    with pytest.raises(DataFileError, match=r"repeats"):
        read_points(path, lat_col="lat", lon_col="lon")
    trailing = tmp_path / "trailing.csv"  # empty names from trailing commas are not duplicates
    trailing.write_text("lat,lon,,\n1,2,,\n")
    np.testing.assert_array_equal(read_points(trailing)[1], [[1.0, 2.0]])


def test_dataframe_with_a_repeated_column_name_is_refused():
    from geoembed.io import latlon_from_table

    table = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["lat", "lat", "lon"])
    with pytest.raises(DataFileError, match=r"several columns named \['lat'\]"):
        latlon_from_table(table, lat_col="lat", lon_col="lon")


def test_cli_refuses_a_csv_with_a_repeated_column_name(tmp_path, capsys):
    from geoembed.cli import main

    path = tmp_path / "dup.csv"
    path.write_text("lat,lat,lon\n1,2,3\n")
    code = main(["encode", str(path), "--encoder", "xyz", "--output", str(tmp_path / "out.parquet")])
    assert code == 2
    assert "repeats the column name" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("order", ["bogus", "LATLON", 1])
def test_order_is_validated_even_with_lat_and_lon(order):
    with pytest.raises(InvalidCoordinatesError, match="order must be 'latlon' or 'lonlat'"):
        geoembed.encode_location(lat=[1.0], lon=[2.0], order=order, encoder="xyz")


def test_contradictory_order_is_refused():
    import geopandas
    import shapely

    with pytest.raises(InvalidCoordinatesError, match="order='lonlat' contradicts lat= and lon="):
        as_latlon(lat=[1.0], lon=[2.0], order="lonlat")
    np.testing.assert_array_equal(as_latlon(lat=[1.0], lon=[2.0], order="latlon"), [[1.0, 2.0]])  # agrees: fine
    points = geopandas.GeoSeries([shapely.Point(2.0, 1.0)], crs="EPSG:4326")
    with pytest.raises(InvalidCoordinatesError, match="order='latlon' contradicts geometries"):
        as_latlon(points, order="latlon")
    with pytest.raises(InvalidCoordinatesError, match="order='latlon' contradicts geometries"):
        as_latlon([shapely.Point(2.0, 1.0)], order="latlon")
    np.testing.assert_array_equal(as_latlon(points, order="lonlat"), [[1.0, 2.0]])


# -- item 10: weights rewritten in place, absurd weights -------------------------------------------------------------
def test_weights_rewritten_in_place_with_mtime_restored_are_hashed_again(tmp_path):
    from geoembed.weights import sha256_file

    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 4096)
    before = sha256_file(path)
    stat = path.stat()
    with open(path, "r+b") as fh:  # same inode, same size
        fh.write(b"b" * 4096)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # modification time put back
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    after = sha256_file(path)
    assert after != before
    import hashlib

    assert after == hashlib.sha256(b"b" * 4096).hexdigest()


def test_cached_weights_rewritten_in_place_fail_verification(tmp_path, monkeypatch):
    import hashlib

    from geoembed.errors import ChecksumMismatchError
    from geoembed.weights import WeightsRecord, cached_weights_path, resolve_weights

    good = b"x" * 1000
    record = WeightsRecord("toy.v1", "toy.pth", hashlib.sha256(good).hexdigest(), "test", "MIT", "none")
    path = cached_weights_path(record)
    path.parent.mkdir(parents=True)
    path.write_bytes(good)
    assert resolve_weights(record).origin == "cache"
    stat = path.stat()
    with open(path, "r+b") as fh:
        fh.write(b"y" * 1000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ChecksumMismatchError):
        resolve_weights(record)


@pytest.mark.parametrize("value, message", [(float("nan"), "NaN or infinite"), (3.0e35, "magnitude 3e\\+35")])
def test_weights_with_absurd_values_are_refused_on_load(tmp_path, value, message):
    from safetensors.torch import save_file

    from geoembed.weights import load_state_dict

    state = {"layer.weight": torch.zeros(4, 4), "layer.bias": torch.zeros(4)}
    state["layer.weight"][1, 2] = value
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=rf"bad.safetensors: tensor 'layer.weight' holds .*{message}"):
        load_state_dict(path)


def test_geoclip_weights_pass_the_magnitude_check():
    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16

    from geoembed.weights import MAX_ABS_WEIGHT, load_state_dict, package_file_path

    path = package_file_path(LOCATION_ENCODER_MP16)
    if path is None:
        pytest.skip("the geoclip wheel (which ships the weights) is not installed")
    state = load_state_dict(path)
    largest = max(float(t.abs().max()) for t in state.values() if t.is_floating_point())
    assert 100 < largest < MAX_ABS_WEIGHT / 1e6  # about 1.0e3: the bound leaves a wide margin


def test_text_encoder_output_of_the_wrong_shape_is_refused():
    from geoembed.concepts import text_encoders as te

    class Short(te.TextEncoder):
        space = "test"
        weights_id = "none"
        embedding_dim = 3

        def _embed(self, texts):
            return torch.ones(len(texts) - 1, 3)

    with pytest.raises(PluginOutputError, match=r"returned \(1, 3\) for 2 texts"):
        Short().encode(["a", "b"])


def test_json_is_untouched_by_the_concept_checks(tmp_path):
    """A normal concept file still reads (the new error paths do not catch good files)."""
    from geoembed.concepts.bank import read_concept_file

    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"concepts": [{"name": "caf\u00e9", "category": "x"}]}), encoding="utf-8")
    assert read_concept_file(path)["names"] == ["caf\u00e9"]


@pytest.mark.parametrize("encoder", ["rff", "sphere_harmonics", "xyz", "latlon"])
def test_cheap_encoders_keep_the_across_batch_tolerance(encoder):
    """Found by the property test: float32 phases of hundreds of radians made rff depend on the batch size."""
    from geoembed.testing import assert_embeddings_close

    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-90, 90, 400), rng.uniform(-180, 180, 400)
    together = geoembed.encode_location(lat=lat, lon=lon, encoder=encoder, batch_size=400)
    for batch_size in (1, 7):
        apart = geoembed.encode_location(lat=lat, lon=lon, encoder=encoder, batch_size=batch_size)
        assert_embeddings_close(apart, together)
