"""Bounded-memory streaming of Parquet files, and distributed encoding on a local Dask cluster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geoembed
from geoembed.errors import InvalidCoordinatesError
from geoembed.location_encoders.streaming import encode_parquet
from geoembed.testing import assert_embeddings_close

RANDOM = dict(pretrained=False, seed=0)  # GeoCLIP architecture with seeded random weights: fast, no files


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 250
    return pd.DataFrame({"id": np.arange(n), "lat": rng.uniform(-80, 80, n), "lon": rng.uniform(-179, 179, n)})


def expected_embeddings(frame: pd.DataFrame) -> np.ndarray:
    return geoembed.encode_location(lat=frame["lat"], lon=frame["lon"], **RANDOM)


def test_streaming_parquet_matches_in_memory_encoding(points, tmp_path):
    source = tmp_path / "points.parquet"
    points.to_parquet(source)
    summary = encode_parquet(source, tmp_path / "out.parquet", rows_per_chunk=100, batch_size=64, progress=False,
                             **RANDOM)
    assert summary["rows"] == len(points) and summary["dim"] == 512
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns[:3]) == ["id", "lat", "lon"] and out["geoclip_000"].dtype == np.float32
    assert_embeddings_close(out.filter(like="geoclip_").to_numpy(), expected_embeddings(points))


def test_streaming_geoparquet_keeps_geometry_and_crs(points, tmp_path):
    gdf = gpd.GeoDataFrame(points[["id"]], geometry=gpd.points_from_xy(points.lon, points.lat), crs="EPSG:4326")
    gdf.to_crs("EPSG:3857").to_parquet(tmp_path / "points.geoparquet")
    encode_parquet(tmp_path / "points.geoparquet", tmp_path / "out.parquet", rows_per_chunk=64, progress=False, **RANDOM)
    out = gpd.read_parquet(tmp_path / "out.parquet")
    assert out.crs.to_epsg() == 3857 and len(out) == len(points)
    assert_embeddings_close(out.filter(like="geoclip_").to_numpy(), expected_embeddings(points))  # + CRS round trip


def test_bad_row_in_a_later_chunk_names_it_and_leaves_no_output(points, tmp_path):
    broken = points.copy()
    broken.loc[180, "lat"] = np.nan
    broken.to_parquet(tmp_path / "broken.parquet")
    with pytest.raises(InvalidCoordinatesError, match="row 180"):
        encode_parquet(tmp_path / "broken.parquet", tmp_path / "out.parquet", rows_per_chunk=100, progress=False,
                       **RANDOM)
    assert not any(p.name.startswith(("out", ".out")) for p in tmp_path.iterdir())


def test_streaming_refuses_to_overwrite(points, tmp_path):
    points.to_parquet(tmp_path / "points.parquet")
    (tmp_path / "out.parquet").write_text("precious")
    with pytest.raises(FileExistsError):
        encode_parquet(tmp_path / "points.parquet", tmp_path / "out.parquet", progress=False, **RANDOM)
    assert (tmp_path / "out.parquet").read_text() == "precious"


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_dask_two_worker_processes_match_single_process(points, dask_client):
    import dask.dataframe as dd

    from geoembed.location_encoders.parallel import encode_dask

    dask_client.wait_for_workers(2, timeout=120)
    ddf = dd.from_pandas(points, npartitions=4)
    out = encode_dask(ddf, lat_col="lat", lon_col="lon", **RANDOM).compute()
    assert len(dask_client.scheduler_info()["workers"]) == 2
    pd.testing.assert_index_equal(out.index, points.index)
    # partitions are other batches, on other threads: equal within the across-batch guarantee, not bit for bit
    assert_embeddings_close(out.filter(like="geoclip_").to_numpy(), expected_embeddings(points))


@pytest.mark.slow
def test_dask_geopandas_and_parquet_dataset(points, tmp_path, dask_client):
    import dask_geopandas

    from geoembed.location_encoders.parallel import encode_dask, encode_parquet_dataset

    gdf = gpd.GeoDataFrame(points[["id"]], geometry=gpd.points_from_xy(points.lon, points.lat), crs="EPSG:4326")
    out = encode_dask(dask_geopandas.from_geopandas(gdf.to_crs("EPSG:3857"), npartitions=3), **RANDOM).compute()
    assert_embeddings_close(out.filter(like="geoclip_").to_numpy(), expected_embeddings(points))  # + CRS round trip

    folder = tmp_path / "in"
    folder.mkdir()
    for i, start in enumerate(range(0, len(points), 100)):
        points.iloc[start : start + 100].to_parquet(folder / f"part-{i}.parquet")
    summary = encode_parquet_dataset(folder, tmp_path / "out", scheduler=dask_client.scheduler.address,
                                     lat_col="lat", lon_col="lon", **RANDOM)
    assert summary["rows"] == len(points)
    written = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert_embeddings_close(written.filter(like="geoclip_").to_numpy(), expected_embeddings(points))


def test_dask_needs_an_encoder_name(points):
    import dask.dataframe as dd

    from geoembed.location_encoders.parallel import encode_dask

    model = geoembed.create_location_encoder("geoclip", **RANDOM)
    with pytest.raises(TypeError, match="registered encoder name"):
        encode_dask(dd.from_pandas(points, npartitions=2), encoder=model)
