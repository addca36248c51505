"""geoembed.io: reading tables of points in every supported format, and writing embeddings atomically."""

from __future__ import annotations

import gzip

import geopandas
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geoembed.errors import DataFileError, InvalidCoordinatesError, InvalidGeometryError, OutputExistsError
from geoembed.io import LAYOUTS, embedding_column_names, read_embeddings, read_points, write_embeddings

LAT = np.array([48.8566, -33.8688, 40.7128, 35.6762])
LON = np.array([2.3522, 151.2093, -74.0060, 139.6503])
NAMES = ["Paris", "Sydney", "New York", "Tokyo"]


@pytest.fixture
def cities() -> pd.DataFrame:
    return pd.DataFrame({"name": NAMES, "lat": LAT, "lon": LON})


@pytest.fixture
def cities_gdf() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame({"name": NAMES}, geometry=geopandas.points_from_xy(LON, LAT), crs="EPSG:4326")


def expected_latlon() -> np.ndarray:
    return np.column_stack([LAT, LON])


# -- text formats ----------------------------------------------------------------------------------------------------
def test_csv_columns_found_by_name_and_table_kept(tmp_path, cities):
    path = tmp_path / "cities.csv"
    cities.to_csv(path, index=False)
    table, latlon = read_points(path)
    assert latlon.dtype == np.float64
    np.testing.assert_array_equal(latlon, expected_latlon())
    assert list(table.columns) == ["name", "lat", "lon"]
    assert list(table["name"]) == NAMES


@pytest.mark.parametrize(
    "lat_name, lon_name",
    [("Latitude", "Longitude"), ("LAT", "LNG"), ("y", "x"), ("decimalLatitude", "decimalLongitude"), ("lat", "long")],
)
def test_common_column_names_are_recognised(tmp_path, lat_name, lon_name):
    path = tmp_path / "points.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], lat_name: LAT, lon_name: LON}).to_csv(path, index=False)
    np.testing.assert_array_equal(read_points(path)[1], expected_latlon())


def test_lat_lon_names_win_over_x_y(tmp_path):
    path = tmp_path / "both.csv"
    pd.DataFrame({"x": [1e6] * 4, "y": [5e6] * 4, "lat": LAT, "lon": LON}).to_csv(path, index=False)
    np.testing.assert_array_equal(read_points(path)[1], expected_latlon())


def test_tsv_sniffed_txt_and_gzipped_csv(tmp_path, cities):
    cities.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    cities.to_csv(tmp_path / "b.txt", sep=";", index=False)
    with gzip.open(tmp_path / "c.csv.gz", "wt") as fh:
        cities.to_csv(fh, index=False)
    for name in ("a.tsv", "b.txt", "c.csv.gz"):
        table, latlon = read_points(tmp_path / name)
        np.testing.assert_array_equal(latlon, expected_latlon())
        assert list(table["name"]) == NAMES


def test_explicit_columns(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"breite": LAT, "laenge": LON}).to_csv(path, index=False)
    np.testing.assert_array_equal(read_points(path, lat_col="breite", lon_col="laenge")[1], expected_latlon())


def test_missing_columns_list_the_columns_and_the_options(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"breite": LAT, "laenge": LON}).to_csv(path, index=False)
    with pytest.raises(DataFileError, match="No latitude column found") as info:
        read_points(path)
    message = str(info.value)
    assert "'breite'" in message and "'laenge'" in message
    assert "lat_col=" in message and "--lat-col" in message


def test_explicit_column_that_does_not_exist_suggests_close_names(tmp_path, cities):
    path = tmp_path / "cities.csv"
    cities.to_csv(path, index=False)
    with pytest.raises(DataFileError, match="No column named 'Lat'.*Did you mean 'lat'"):
        read_points(path, lat_col="Lat")


def test_ambiguous_columns_are_refused(tmp_path):
    path = tmp_path / "two.csv"
    pd.DataFrame({"lat": LAT, "Latitude": LAT, "lon": LON}).to_csv(path, index=False)
    with pytest.raises(DataFileError, match=r"Several columns could hold the latitude: \['lat', 'Latitude'\]"):
        read_points(path)
    # naming one resolves it
    np.testing.assert_array_equal(read_points(path, lat_col="Latitude")[1], expected_latlon())


def test_nan_rows_are_named_by_the_table_index(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("name,lat,lon\nParis,48.85,2.35\nNowhere,,3.0\nSydney,-33.87,151.21\n")
    with pytest.raises(InvalidCoordinatesError, match=r"1 row with NaN.*row 1 \(lat=nan, lon=3\)"):
        read_points(path)


def test_text_that_is_not_a_number_is_named(tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text('name,lat,lon\nParis,48.85,2.35\nBerlin,"52,52",13.40\n')
    with pytest.raises(InvalidCoordinatesError, match=r"Column 'lat': 1 value\(s\) are not numbers: row 1 \('52,52'\)"):
        read_points(path)


def test_non_numbers_are_named_with_a_duplicated_index(cities):
    from geoembed.io import latlon_from_table

    table = cities.astype({"lat": object}).set_axis([5, 5, 6, 6])
    table.iloc[1, 1] = "N 33"
    with pytest.raises(InvalidCoordinatesError, match=r"1 value\(s\) are not numbers: row 5 \('N 33'\)\."):
        latlon_from_table(table)


def test_swapped_columns_get_a_hint(tmp_path):
    path = tmp_path / "swapped.csv"
    pd.DataFrame({"lat": LON, "lon": LAT}).to_csv(path, index=False)
    with pytest.raises(InvalidCoordinatesError, match="swapped"):
        read_points(path)


def test_projected_xy_columns_with_crs_are_reprojected(tmp_path):
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(LON, LAT)
    path = tmp_path / "metres.csv"
    pd.DataFrame({"x": x, "y": y}).to_csv(path, index=False)
    with pytest.raises(InvalidCoordinatesError, match="degrees, not metres"):  # without crs they are not degrees
        read_points(path)
    np.testing.assert_allclose(read_points(path, crs="EPSG:3857")[1], expected_latlon(), atol=1e-9)
    with pytest.raises(DataFileError, match="not a coordinate reference system"):
        read_points(path, crs="EPSG:999999")


# -- Parquet and vector formats ---------------------------------------------------------------------------------------
def test_plain_parquet(tmp_path, cities):
    path = tmp_path / "cities.parquet"
    cities.to_parquet(path)
    table, latlon = read_points(path)
    assert not isinstance(table, geopandas.GeoDataFrame)
    np.testing.assert_array_equal(latlon, expected_latlon())


def test_geoparquet_in_a_projected_crs_is_reprojected(tmp_path, cities_gdf):
    path = tmp_path / "cities.parquet"  # GeoParquet is recognised by its metadata, not its suffix
    cities_gdf.to_crs("EPSG:3857").to_parquet(path)
    table, latlon = read_points(path)
    assert isinstance(table, geopandas.GeoDataFrame) and table.crs == "EPSG:3857"
    np.testing.assert_allclose(latlon, expected_latlon(), atol=1e-9)


def test_geometry_without_crs_needs_one(tmp_path, cities_gdf):
    path = tmp_path / "naive.geoparquet"
    cities_gdf.set_crs(None, allow_override=True).to_parquet(path)
    with pytest.raises(InvalidGeometryError, match="no CRS"):
        read_points(path)
    np.testing.assert_allclose(read_points(path, crs="EPSG:4326")[1], expected_latlon())


def test_crs_option_cannot_contradict_the_file(tmp_path, cities_gdf):
    path = tmp_path / "cities.geoparquet"
    cities_gdf.to_parquet(path)
    with pytest.raises(DataFileError, match="only for data that states no CRS"):
        read_points(path, crs="EPSG:3857")


@pytest.mark.parametrize("suffix", [".geojson", ".json", ".gpkg", ".shp", ".fgb"])
def test_vector_formats(tmp_path, cities_gdf, suffix):
    path = tmp_path / f"cities{suffix}"
    driver = {".json": "GeoJSON"}.get(suffix)
    cities_gdf.to_file(path, driver=driver)
    table, latlon = read_points(path)
    assert isinstance(table, geopandas.GeoDataFrame)
    # FlatGeobuf's spatial index reorders features: coordinates must follow the rows as read
    order = [NAMES.index(name) for name in table["name"]]
    assert sorted(order) == [0, 1, 2, 3]
    np.testing.assert_allclose(latlon, expected_latlon()[order], atol=1e-9)


def test_geopackage_layers(tmp_path, cities_gdf):
    path = tmp_path / "two.gpkg"
    cities_gdf.to_file(path, layer="cities")
    cities_gdf.iloc[:2].to_crs("EPSG:3857").to_file(path, layer="two_cities")
    with pytest.raises(DataFileError, match=r"has 2 layers \['cities', 'two_cities'\]; choose one"):
        read_points(path)
    table, latlon = read_points(path, layer="two_cities")
    assert len(table) == 2
    np.testing.assert_allclose(latlon, expected_latlon()[:2], atol=1e-9)
    with pytest.raises(DataFileError, match="no layer 'towns'"):
        read_points(path, layer="towns")


def test_explicit_columns_win_over_geometry(tmp_path, cities_gdf):
    path = tmp_path / "cities.gpkg"
    gdf = cities_gdf.assign(other_lat=-LAT, other_lon=-LON)
    gdf.to_file(path)
    np.testing.assert_allclose(read_points(path, lat_col="other_lat", lon_col="other_lon")[1], -expected_latlon())


def test_non_point_geometries_are_named(tmp_path, cities_gdf):
    gdf = cities_gdf.copy()
    gdf.loc[2, "geometry"] = shapely.box(0, 0, 1, 1)
    path = tmp_path / "mixed.gpkg"
    gdf.to_file(path)
    with pytest.raises(InvalidGeometryError, match=r"1 row not Points \(Polygon\): row 2"):
        read_points(path)


def test_unreadable_unknown_and_missing_inputs(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_text("this is not parquet")
    with pytest.raises(DataFileError, match="Could not read .*broken.parquet"):
        read_points(bad)
    with pytest.raises(DataFileError, match="Cannot tell the format"):
        read_points(bad.rename(tmp_path / "points.xlsx"))
    with pytest.raises(FileNotFoundError):
        read_points(tmp_path / "nothing.csv")
    records = tmp_path / "records.json"
    records.write_text('[{"lat": 1, "lon": 2}]')
    with pytest.raises(DataFileError, match="A .json input must be GeoJSON"):
        read_points(records)
    (tmp_path / "header_only.csv").write_text("lat,lon\n")
    with pytest.raises(DataFileError, match="has no rows"):
        read_points(tmp_path / "header_only.csv")
    (tmp_path / "p.csv").write_text("lat,lon\n1,2\n")
    with pytest.raises(DataFileError, match="layer="):
        read_points(tmp_path / "p.csv", layer="x")


# -- writing ---------------------------------------------------------------------------------------------------------
def random_embeddings(n: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)


def test_parquet_columns_layout_keeps_input_columns(tmp_path, cities):
    emb = random_embeddings(len(cities))
    path = write_embeddings(cities, emb, tmp_path / "out.parquet")
    back = pd.read_parquet(path)
    assert list(back.columns) == ["name", "lat", "lon"] + [f"emb_{i:03d}" for i in range(8)]
    assert (back.dtypes.iloc[3:] == np.float32).all()
    pd.testing.assert_frame_equal(back[["name", "lat", "lon"]], cities)
    np.testing.assert_array_equal(read_embeddings(path), emb)


def test_parquet_list_layout(tmp_path, cities):
    emb = random_embeddings(len(cities))
    path = write_embeddings(cities, emb, tmp_path / "out.parquet", layout="list", column="vec")
    back = pd.read_parquet(path)
    assert list(back.columns) == ["name", "lat", "lon", "vec"]
    np.testing.assert_array_equal(np.stack(back["vec"]), emb)
    np.testing.assert_array_equal(read_embeddings(path, column="vec"), emb)


def test_geodataframe_is_written_as_geoparquet_in_its_crs(tmp_path, cities_gdf):
    gdf = cities_gdf.to_crs("EPSG:3857")
    emb = random_embeddings(len(gdf))
    for name in ("out.parquet", "out.geoparquet"):
        path = write_embeddings(gdf, emb, tmp_path / name)
        back = geopandas.read_parquet(path)
        assert back.crs == "EPSG:3857"
        assert back.geometry.geom_equals(gdf.geometry).all()
        np.testing.assert_array_equal(read_embeddings(path), emb)


def test_geoparquet_needs_a_geometry(tmp_path, cities):
    with pytest.raises(DataFileError, match="GeoParquet, which needs a table with a geometry"):
        write_embeddings(cities, random_embeddings(4), tmp_path / "out.geoparquet")
    assert not (tmp_path / "out.geoparquet").exists()


def test_npy_holds_the_float32_array(tmp_path):
    emb = random_embeddings(5).astype(np.float64)
    path = write_embeddings(None, emb, tmp_path / "out.npy")
    back = np.load(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, emb.astype(np.float32))


def test_text_output_is_refused_with_alternatives(tmp_path, cities):
    with pytest.raises(DataFileError, match=r"Write \.parquet .* or \.npy"):
        write_embeddings(cities, random_embeddings(4), tmp_path / "out.csv")


def test_existing_output_needs_overwrite(tmp_path, cities):
    path = tmp_path / "out.parquet"
    path.write_text("precious")
    with pytest.raises(OutputExistsError, match="overwrite=True") as info:
        write_embeddings(cities, random_embeddings(4), path)
    assert isinstance(info.value, FileExistsError)
    assert path.read_text() == "precious"
    write_embeddings(cities, random_embeddings(4), path, overwrite=True)
    np.testing.assert_array_equal(read_embeddings(path), random_embeddings(4))


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, cities):
    unwritable = cities.assign(obj=[object()] * len(cities))  # pyarrow cannot convert arbitrary objects
    with pytest.raises(Exception, match="object"):
        write_embeddings(unwritable, random_embeddings(4), tmp_path / "new.parquet")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.parquet"
    write_embeddings(cities, random_embeddings(4), old)
    before = old.read_bytes()
    with pytest.raises(Exception, match="object"):
        write_embeddings(unwritable, random_embeddings(4, dim=3), old, overwrite=True)
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.parquet"]


def test_existing_embedding_columns_are_a_clear_error(tmp_path, cities):
    first = write_embeddings(cities, random_embeddings(4), tmp_path / "first.parquet")
    again = pd.read_parquet(first)
    with pytest.raises(DataFileError, match=r"already has column\(s\) named like the new embeddings.*--prefix"):
        write_embeddings(again, random_embeddings(4), tmp_path / "second.parquet")
    write_embeddings(again, random_embeddings(4), tmp_path / "second.parquet", prefix="geo_")
    np.testing.assert_array_equal(read_embeddings(tmp_path / "second.parquet", prefix="geo_"), random_embeddings(4))


def test_row_count_mismatch_and_duplicate_index(tmp_path, cities):
    with pytest.raises(DataFileError, match="4 rows but there are 3 embeddings"):
        write_embeddings(cities, random_embeddings(3), tmp_path / "out.parquet")
    duplicated = cities.set_axis([7, 7, 8, 8])
    path = write_embeddings(duplicated, random_embeddings(4), tmp_path / "dup.parquet")
    back = pd.read_parquet(path)
    assert list(back.index) == [7, 7, 8, 8]
    np.testing.assert_array_equal(read_embeddings(path), random_embeddings(4))


def test_column_names_sort_in_dimension_order():
    assert embedding_column_names(3) == ["emb_000", "emb_001", "emb_002"]
    names = embedding_column_names(1500, prefix="e")
    assert names[0] == "e0000" and names == sorted(names)


def test_outputs_get_ordinary_file_permissions(tmp_path, cities):
    reference = tmp_path / "reference.txt"
    reference.write_text("made by open()")
    for name in ("out.parquet", "out.npy"):
        path = write_embeddings(cities, random_embeddings(4), tmp_path / name)
        assert path.stat().st_mode == reference.stat().st_mode  # not mkstemp's private 0600


def test_embeddings_are_stored_without_dictionary_encoding(tmp_path, cities):
    import pyarrow.parquet as pq

    for layout in LAYOUTS:
        path = write_embeddings(cities, random_embeddings(4), tmp_path / f"{layout}.parquet", layout=layout)
        chunks = pq.ParquetFile(path).metadata.row_group(0)
        encodings = {chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(chunks.num_columns)}
        assert "RLE_DICTIONARY" in encodings["name"]  # input columns keep the writer's defaults
        embedding_columns = [name for name in encodings if name.startswith(("emb_", "embedding"))]
        assert len(embedding_columns) == (8 if layout == "columns" else 1)
        assert not any("RLE_DICTIONARY" in encodings[name] for name in embedding_columns)
