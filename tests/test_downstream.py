"""Downstream adapters: LocationFeaturizer, geometries, rasters, the embedding cache and the gdf.geoembed accessor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.utils.estimator_checks import parametrize_with_checks

import geopandas as gpd

import geoembed
from geoembed.downstream import LocationFeaturizer, sample_raster
from geoembed.downstream.cache import embeddings_cache_dir
from geoembed.downstream.geometry import aggregate_by_owner, geometry_points
from geoembed.errors import CacheWarning, InvalidCoordinatesError, InvalidGeometryError

CITIES = np.array([[48.8566, 2.3522], [-33.8688, 151.2093], [40.7128, -74.006], [35.6762, 139.6503]])

# scikit-learn's generic checks feed arbitrary numbers with 3-10 columns or values around 100; a location featurizer
# only accepts 2 columns of valid coordinates and must refuse anything else (as those checks then observe).
_NOT_COORDINATES = "generic check data is not 2 columns of [lat, lon]; the featurizer refuses it by design"
_OUT_OF_RANGE = "generic check data has latitudes around 100; invalid coordinates are refused by design"
EXPECTED_FAILED_CHECKS = {
    name: _NOT_COORDINATES
    for name in (
        "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
        "check_estimators_nan_inf", "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_score_takes_y",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_transformer_data_not_an_array",
        "check_transformer_general", "check_transformer_preserve_dtypes",
    )
} | {
    name: _OUT_OF_RANGE
    for name in ("check_fit_check_is_fitted", "check_fit_idempotent", "check_n_features_in",
                 "check_positive_only_tag_during_fit")
}


@parametrize_with_checks([LocationFeaturizer(encoder="xyz", cache=False)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_featurizer_in_a_pipeline_learns_from_coordinates():
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline

    from geoembed.geo import sample_land_points

    pts = sample_land_points(300, seed=0)
    y = 3 * np.sin(np.radians(pts[:, 0])) + 1  # linear in the unit vector's z: xyz + ridge recovers it
    pipe = make_pipeline(LocationFeaturizer(encoder="xyz"), RidgeCV())
    pipe.fit(pts, y)
    assert pipe.score(pts, y) > 0.99
    assert pipe.get_params()["locationfeaturizer__encoder"] == "xyz"  # nested parameters are grid-searchable


def test_featurizer_accepts_arrays_dataframes_and_geodataframes_alike():
    feat = LocationFeaturizer(encoder="rff")
    from_array = feat.fit_transform(CITIES)
    frame = pd.DataFrame({"name": list("abcd"), "Longitude": CITIES[:, 1], "Latitude": CITIES[:, 0]})
    from_frame = LocationFeaturizer(encoder="rff").fit_transform(frame)
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(CITIES[:, 1], CITIES[:, 0]), crs="EPSG:4326")
    from_gdf = LocationFeaturizer(encoder="rff").fit_transform(gdf.to_crs("EPSG:3857"))  # any CRS in
    lonlat = LocationFeaturizer(encoder="rff", order="lonlat").fit_transform(CITIES[:, ::-1])
    assert from_array.shape == (4, 768) and from_array.dtype == np.float32
    np.testing.assert_allclose(from_frame, from_array, atol=1e-6)
    np.testing.assert_allclose(from_gdf, from_array, atol=1e-4)
    np.testing.assert_allclose(lonlat, from_array, atol=1e-6)


def test_named_columns_win_over_order_and_instances_work():
    swapped = pd.DataFrame({"lon": CITIES[:, 1], "lat": CITIES[:, 0]})
    np.testing.assert_allclose(LocationFeaturizer(encoder="latlon").fit_transform(swapped), CITIES, atol=1e-4)
    unnamed = pd.DataFrame(CITIES[:, ::-1], columns=["a", "b"])
    np.testing.assert_allclose(LocationFeaturizer(encoder="latlon", order="lonlat").fit_transform(unnamed), CITIES,
                               atol=1e-4)
    encoder = geoembed.create_location_encoder("sphere_harmonics", degree=2)
    feat = LocationFeaturizer(encoder=encoder).fit(CITIES)
    assert feat.transform(CITIES).shape == (4, 9)
    assert feat.get_feature_names_out()[0] == "sphere_harmonics_000"  # the name it was built by


def test_set_output_pandas_keeps_the_index_and_names_columns():
    frame = pd.DataFrame({"lat": CITIES[:, 0], "lon": CITIES[:, 1]}, index=["paris", "sydney", "nyc", "tokyo"])
    feat = LocationFeaturizer(encoder="xyz").set_output(transform="pandas")
    out = feat.fit_transform(frame)
    assert list(out.index) == ["paris", "sydney", "nyc", "tokyo"]
    assert list(out.columns) == ["xyz_000", "xyz_001", "xyz_002"]


def test_featurizer_refuses_bad_inputs_clearly():
    with pytest.raises(InvalidCoordinatesError, match="latitude"):
        LocationFeaturizer(encoder="xyz").fit(np.array([[95.0, 10.0]]))
    with pytest.raises(InvalidCoordinatesError, match="'lat'"):
        LocationFeaturizer(encoder="xyz").fit(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}))
    with pytest.raises(ValueError, match="order"):
        LocationFeaturizer(encoder="xyz", order="xy").fit(CITIES)
    with pytest.raises(geoembed.errors.UnknownPluginError, match="Did you mean"):
        LocationFeaturizer(encoder="xyzz").fit(CITIES)


def _square(lon0: float, lat0: float, size: float) -> shapely.Polygon:
    return shapely.box(lon0, lat0, lon0 + size, lat0 + size)


def test_polygons_are_sampled_by_area_and_seeded():
    # A polygon from the equator to 60N: by area, far fewer samples fall above 45N than a degree-uniform draw gives.
    tall = gpd.GeoSeries([shapely.box(0, 0, 10, 60)], crs="EPSG:4326")
    pts = geometry_points(tall, n_points=4000, seed=1)
    assert pts.latlon.shape == (4000, 2) and (pts.owner == 0).all()
    assert shapely.contains_xy(tall.iloc[0], pts.latlon[:, 1], pts.latlon[:, 0]).all()
    expected_share = (np.sin(np.radians(60)) - np.sin(np.radians(45))) / np.sin(np.radians(60))  # 0.18, not 0.25
    assert abs((pts.latlon[:, 0] > 45).mean() - expected_share) < 0.03
    again = geometry_points(tall, n_points=4000, seed=1)
    np.testing.assert_array_equal(again.latlon, pts.latlon)
    assert not np.array_equal(geometry_points(tall, n_points=4000, seed=2).latlon, pts.latlon)


def test_mixed_geometries_lines_and_centroids():
    geoms = gpd.GeoSeries([shapely.Point(5, 5), _square(0, 0, 2), shapely.LineString([(0, 0), (0, 4)])],
                          crs="EPSG:4326")
    pts = geometry_points(geoms, n_points=8, seed=0)
    assert np.bincount(pts.owner).tolist() == [1, 8, 8]
    line_pts = pts.latlon[pts.owner == 2]
    np.testing.assert_allclose(line_pts[:, 1], 0.0, atol=1e-9)  # along the line
    assert ((line_pts[:, 0] >= 0) & (line_pts[:, 0] <= 4)).all()
    centroids = geometry_points(geoms, method="centroid").latlon
    np.testing.assert_allclose(centroids[1], [1.0, 1.0], atol=0.01)
    emb = np.arange(len(pts.owner), dtype=np.float32)[:, None]
    means = aggregate_by_owner(emb, pts.owner, 3)
    assert means[0, 0] == 0 and means[1, 0] == pytest.approx(np.mean(np.arange(1, 9)))


def test_polygon_embeddings_are_means_of_their_points():
    gdf = gpd.GeoDataFrame({"v": [1, 2]}, geometry=[_square(0, 0, 5), _square(20, 40, 5)], crs="EPSG:4326")
    emb = gdf.geoembed.encode(encoder="xyz", n_points=32, seed=3)
    pts = geometry_points(gdf, n_points=32, seed=3)
    direct = geoembed.encode_location(pts.latlon, order="latlon", encoder="xyz")
    np.testing.assert_allclose(emb.to_numpy()[1], direct[pts.owner == 1].mean(axis=0), atol=1e-6)


@pytest.mark.parametrize(
    "geoms, message",
    [
        (gpd.GeoSeries([shapely.Point(0, 0)]), "no CRS"),
        (gpd.GeoSeries([shapely.Point(0, 0), shapely.Polygon()], crs="EPSG:4326"), "missing or empty"),
        (gpd.GeoSeries([shapely.Point(0, 0), None], crs="EPSG:4326"), "missing or empty"),
        (gpd.GeoSeries([shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])], crs="EPSG:4326"), "invalid"),
        (gpd.GeoSeries([shapely.GeometryCollection([shapely.Point(0, 0)])], crs="EPSG:4326"), "Unsupported"),
    ],
)
def test_bad_geometries_get_clear_errors(geoms, message):
    with pytest.raises(InvalidGeometryError, match=message):
        LocationFeaturizer(encoder="xyz").fit_transform(geoms)


def test_embeddings_are_cached_on_disk_and_keyed_by_encoder_and_points(monkeypatch):
    import geoembed.location_encoders.encode

    feat = LocationFeaturizer(encoder="rff", encoder_kwargs={"seed": 1})
    first = feat.fit_transform(CITIES)
    files = sorted(embeddings_cache_dir().rglob("*.npy"))
    assert len(files) == 1
    real = geoembed.location_encoders.encode.iter_embeddings
    calls = []
    monkeypatch.setattr(geoembed.location_encoders.encode, "iter_embeddings", lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_array_equal(feat.transform(CITIES), first)
    assert calls == []  # the second call read the cache, not the model
    other_seed = LocationFeaturizer(encoder="rff", encoder_kwargs={"seed": 2}).fit_transform(CITIES)
    moved = feat.transform(CITIES + [0.001, 0.0])
    assert len(calls) == 2 and not np.allclose(other_seed, first) and not np.allclose(moved, first)
    assert len(list(embeddings_cache_dir().rglob("*.npy"))) == 3
    uncached = LocationFeaturizer(encoder="rff", encoder_kwargs={"seed": 1}, cache=False).fit_transform(CITIES)
    np.testing.assert_allclose(uncached, first)


def test_a_damaged_cache_entry_is_recomputed():
    feat = LocationFeaturizer(encoder="xyz")
    first = feat.fit_transform(CITIES)
    (path,) = embeddings_cache_dir().rglob("*.npy")
    path.write_bytes(b"not an npy file")
    with pytest.warns(CacheWarning, match="do not match their checksum"):
        np.testing.assert_allclose(feat.transform(CITIES), first)


# -- rasters -------------------------------------------------------------------------------------------------------
def _origin(west: float, north: float, xsize: float, ysize: float):
    """Affine transform of a north-up grid (rasterio's from_origin, without its deprecated operator)."""
    from affine import Affine

    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def _write_raster(path, data, transform, crs, nodata=None):
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)


def test_sample_raster_reads_values_nodata_and_outside(tmp_path):
    data = np.arange(18 * 36, dtype=np.float32).reshape(18, 36)  # 10-degree global grid, row 0 at 90N
    data[0, 0] = -9999
    path = tmp_path / "grid.tif"
    _write_raster(path, data, _origin(-180, 90, 10, 10), "EPSG:4326", nodata=-9999)
    values = sample_raster(path, lat=[85, 5, -85, 85], lon=[-175, 5, 175, -165])
    np.testing.assert_array_equal(values[1:], [data[8, 18], data[17, 35], data[0, 1]])
    assert np.isnan(values[0])  # nodata cell


def test_sample_raster_wraps_0_360_grids_and_needs_a_crs(tmp_path):
    data = np.tile(np.arange(36, dtype=np.float32), (18, 1))  # value = column index, columns from 0E to 360E
    path = tmp_path / "wrapped.tif"
    _write_raster(path, data, _origin(0, 90, 10, 10), None)
    with pytest.raises(InvalidGeometryError, match="crs='EPSG:4326'"):
        sample_raster(path, lat=[0], lon=[-5])
    values = sample_raster(path, lat=[0, 0], lon=[-5, 15], crs="EPSG:4326")
    np.testing.assert_array_equal(values, [35, 1])  # -5 is 355E


def test_sample_raster_reprojects_points_and_reports_outside(tmp_path):
    data = np.array([[1, 2], [3, 4]], dtype=np.float32)  # a 2 x 2 km grid in Web Mercator around (0, 0)
    path = tmp_path / "mercator.tif"
    _write_raster(path, data, _origin(-1000, 1000, 1000, 1000), "EPSG:3857")
    np.testing.assert_array_equal(sample_raster(path, lat=[0.005, -0.005], lon=[-0.005, 0.005]), [1, 4])
    assert np.isnan(sample_raster(path, lat=[10], lon=[10])[0])
    with pytest.raises(InvalidGeometryError, match="outside"):
        sample_raster(path, lat=[10], lon=[10], outside="error")
    with pytest.raises(ValueError, match="bands"):
        sample_raster(path, lat=[0], lon=[0], bands=2)


def test_raster_featurizer_adds_raster_values_as_features(tmp_path):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline, make_union

    from geoembed.downstream import RasterFeaturizer

    data = np.arange(18 * 36, dtype=np.float32).reshape(18, 36)
    path = tmp_path / "grid.tif"
    _write_raster(path, data, _origin(-180, 90, 10, 10), "EPSG:4326")
    union = make_union(LocationFeaturizer(encoder="xyz"), make_pipeline(RasterFeaturizer([path]), SimpleImputer()))
    features = union.fit_transform(CITIES)
    assert features.shape == (4, 4)
    np.testing.assert_array_equal(features[:, 3], sample_raster(path, CITIES, order="latlon"))
    raster = RasterFeaturizer([path]).fit(CITIES)
    assert list(raster.get_feature_names_out()) == ["grid_b1"]
    gdf = gpd.GeoDataFrame(geometry=[_square(0, 0, 2)], crs="EPSG:4326")
    np.testing.assert_array_equal(raster.transform(gdf), [[data[8, 18]]])  # a polygon's centroid (1, 1)
    with pytest.raises(ValueError, match="non-empty list"):
        RasterFeaturizer("dem.tif").fit(CITIES)


def test_accessor_encodes_and_samples_rasters(tmp_path):
    path = tmp_path / "grid.tif"
    _write_raster(path, np.arange(18 * 36, dtype=np.float32).reshape(18, 36), _origin(-180, 90, 10, 10),
                  "EPSG:4326")
    gdf = gpd.GeoDataFrame({"name": ["paris", "sydney"]}, index=[10, 20],
                           geometry=gpd.points_from_xy(CITIES[:2, 1], CITIES[:2, 0]), crs="EPSG:4326")
    emb = gdf.geoembed.encode(encoder="latlon")
    assert list(emb.index) == [10, 20] and list(emb.columns) == ["latlon_000", "latlon_001"]
    np.testing.assert_allclose(emb.to_numpy(), CITIES[:2], atol=1e-4)
    values = gdf.geoembed.sample_raster(path, name="v")
    assert list(values.index) == [10, 20] and values.name == "v" and values.notna().all()
    assert gdf.geometry.geoembed.encode(encoder="xyz").shape == (2, 3)
    with pytest.raises(TypeError, match="GeoDataFrame"):
        pd.DataFrame({"a": [1]}).geoembed.encode()
    many = gpd.GeoDataFrame({"v": np.arange(12.0)}, geometry=gpd.points_from_xy(np.arange(12), np.arange(12)),
                            crs="EPSG:4326")
    task = many.geoembed.to_task("toy_accessor", target="v", kind="regression", register=False)
    assert task.name == "toy_accessor" and task.kind == "regression" and "toy_accessor" not in geoembed.list_tasks()


def test_a_task_carries_its_sources_and_family():
    from geoembed.downstream.tasks import FAMILIES, Task, register_task
    from geoembed.registry import tasks as task_registry

    gdf = gpd.GeoDataFrame({"v": np.arange(12.0)}, geometry=gpd.points_from_xy(np.arange(12.0), np.arange(12.0)),
                           crs="EPSG:4326")
    task = Task(name="t", data=gdf, target="v", kind="regression", sources="era5-climatology",
                family="environmental")
    assert task.sources == ("era5-climatology",) and task.summary()["family"] == "environmental"
    assert Task(name="t", data=gdf, target="v", kind="regression").sources == () and "land_ecology" in FAMILIES
    with pytest.raises(ValueError, match="family must be one of"):
        Task(name="t", data=gdf, target="v", kind="regression", family="climate")
    with pytest.raises(ValueError, match="provenance ids"):
        Task(name="t", data=gdf, target="v", kind="regression", sources=("ERA5 climatology",))
    registered = register_task("sourced_task_test", Task(name="sourced_task_test", data=gdf, target="v",
                                                         kind="regression", sources=("gbif-ariolimax",),
                                                         family="land_ecology"))
    try:
        assert registered.sources == ("gbif-ariolimax",) and registered.family == "land_ecology"
    finally:
        task_registry.unregister("sourced_task_test")
