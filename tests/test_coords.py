"""Coordinate parsing and validation: every input type, and a clear error for every kind of bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import torch

from geoembed.coords import as_latlon
from geoembed.errors import InvalidCoordinatesError, InvalidGeometryError

PARIS = (48.8566, 2.3522)
SYDNEY = (-33.8688, 151.2093)
EXPECTED = np.array([PARIS, SYDNEY])


@pytest.mark.parametrize(
    "lat, lon",
    [
        ([PARIS[0], SYDNEY[0]], [PARIS[1], SYDNEY[1]]),
        (np.array([PARIS[0], SYDNEY[0]]), np.array([PARIS[1], SYDNEY[1]])),
        (torch.tensor([PARIS[0], SYDNEY[0]], dtype=torch.float64), torch.tensor([PARIS[1], SYDNEY[1]], dtype=torch.float64)),
        (pd.Series([PARIS[0], SYDNEY[0]]), pd.Series([PARIS[1], SYDNEY[1]])),
        ((PARIS[0], SYDNEY[0]), (PARIS[1], SYDNEY[1])),
    ],
    ids=["list", "numpy", "torch", "pandas", "tuple"],
)
def test_lat_lon_keywords_accept_common_containers(lat, lon):
    np.testing.assert_allclose(as_latlon(lat=lat, lon=lon), EXPECTED)


def test_scalars():
    np.testing.assert_allclose(as_latlon(lat=PARIS[0], lon=PARIS[1]), [PARIS])


def test_array_needs_explicit_order():
    arr = np.array([PARIS, SYDNEY])
    with pytest.raises(InvalidCoordinatesError, match="explicit order='latlon'.*never guesses"):
        as_latlon(arr)
    np.testing.assert_allclose(as_latlon(arr, order="latlon"), EXPECTED)
    np.testing.assert_allclose(as_latlon(arr[:, ::-1], order="lonlat"), EXPECTED)
    np.testing.assert_allclose(as_latlon(torch.tensor(arr), order="latlon"), EXPECTED)


def test_shapely_points_are_lon_lat():
    pts = [shapely.Point(PARIS[1], PARIS[0]), shapely.Point(SYDNEY[1], SYDNEY[0])]
    np.testing.assert_allclose(as_latlon(pts), EXPECTED)
    np.testing.assert_allclose(as_latlon(pts[0]), EXPECTED[:1])


def test_geodataframe_in_projected_crs_is_reprojected():
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(EXPECTED[:, 1], EXPECTED[:, 0]), crs="EPSG:4326")
    web_mercator = gdf.to_crs("EPSG:3857")
    np.testing.assert_allclose(as_latlon(web_mercator), EXPECTED, atol=1e-9)
    np.testing.assert_allclose(as_latlon(web_mercator.geometry), EXPECTED, atol=1e-9)


def test_geodataframe_without_crs_is_an_error():
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy([2.35], [48.85]))
    with pytest.raises(InvalidGeometryError, match="no CRS.*set_crs"):
        as_latlon(gdf)


def test_non_point_geometries_name_the_rows():
    gdf = gpd.GeoDataFrame(
        geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])],
        index=["a", "b", "c"],
        crs="EPSG:4326",
    )
    with pytest.raises(InvalidGeometryError, match=r"2 rows not Points \(LineString, Polygon\): row b, row c"):
        as_latlon(gdf)


def test_empty_and_missing_geometries():
    with pytest.raises(InvalidGeometryError, match="empty Point: row 1"):
        as_latlon(gpd.GeoSeries([shapely.Point(0, 0), shapely.Point()], crs="EPSG:4326"))
    with pytest.raises(InvalidGeometryError, match="missing geometry"):
        as_latlon(gpd.GeoSeries([shapely.Point(0, 0), None], crs="EPSG:4326"))


def test_nan_rows_are_named_with_their_index():
    lat = pd.Series([1.0, np.nan, 3.0, np.inf], index=[10, 11, 12, 13])
    lon = pd.Series([1.0, 2.0, 3.0, 4.0], index=[10, 11, 12, 13])
    with pytest.raises(InvalidCoordinatesError, match=r"2 rows with NaN or infinite.*row 11 .*row 13"):
        as_latlon(lat=lat, lon=lon)


def test_swapped_coordinates_get_a_swap_hint():
    # longitude values passed as latitude: 151 is not a latitude, -33 fits a latitude
    with pytest.raises(InvalidCoordinatesError, match="latitude outside.*swapped"):
        as_latlon(lat=[2.3522, 151.2093], lon=[48.8566, -33.8688])
    with pytest.raises(InvalidCoordinatesError, match="swapped"):
        as_latlon(np.array([[151.2093, -33.8688]]), order="latlon")


def test_out_of_range_without_swap_explanation_mentions_units():
    with pytest.raises(InvalidCoordinatesError, match=r"latitude outside.*metres"):
        as_latlon(lat=[5_000_000.0], lon=[200_000.0])


def test_longitudes_in_0_360_get_a_conversion_hint():
    with pytest.raises(InvalidCoordinatesError, match=r"\[0, 360\].*\(lon \+ 180\) % 360"):
        as_latlon(lat=[10.0, 20.0], lon=[200.0, 350.0])


def test_many_bad_rows_are_summarised():
    with pytest.raises(InvalidCoordinatesError, match="12 rows.*and 7 more"):
        as_latlon(lat=[100.0] * 12, lon=[0.0] * 12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lat=[], lon=[]), "holds no points"),
        (dict(lat=[1.0, 2.0], lon=[1.0]), "lat has 2 values but lon has 1"),
        (dict(lat=[[1.0, 2.0]], lon=[[1.0, 2.0]]), "must be a scalar or 1-D"),
        (dict(lat=["north"], lon=[1.0]), "must hold numbers"),
        (dict(lat=[1.0]), "lon= is missing"),
        (dict(points=np.zeros((3, 3)), order="latlon"), r"shape \(N, 2\)"),
        (dict(points=np.zeros((2, 2)), lat=[1.0], lon=[1.0]), "not both"),
    ],
)
def test_malformed_inputs(kwargs, message):
    with pytest.raises(InvalidCoordinatesError, match=message):
        as_latlon(**kwargs)


def test_errors_are_value_errors_for_callers_who_do_not_know_our_types():
    with pytest.raises(ValueError):
        as_latlon(lat=[91.0], lon=[0.0])


def test_poles_and_antimeridian_are_valid():
    out = as_latlon(lat=[90, -90, 0, 0], lon=[0, 0, 180, -180])
    assert out.shape == (4, 2)
