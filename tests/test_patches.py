"""RasterPatchSource on tiny rasters written by the tests: values are functions of the pixel position, so every patch
pixel can be checked against where it must have been read from."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from geoembed.errors import DataFileError, InvalidCoordinatesError
from geoembed.image_backbones.patches import RasterLayer, RasterPatchSource


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """North-up geotransform (rasterio's helper of the same name warns about Affine's ``*`` on new versions)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def from_bounds(west: float, south: float, east: float, north: float, width: int, height: int) -> Affine:
    return from_origin(west, north, (east - west) / width, (north - south) / height)


def write(path, data, *, transform, crs="EPSG:4326", nodata=None, driver="GTiff"):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    profile = dict(driver=driver, width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype=data.dtype,
                   transform=transform, nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture()
def global_1deg(tmp_path):
    """360 x 180 one-degree global raster; value = 1000 * row + column (row 0 at 90 N, column 0 at 180 W)."""
    rows, cols = np.mgrid[0:180, 0:360]
    return write(tmp_path / "global.tif", (1000 * rows + cols).astype(np.float32),
                 transform=from_bounds(-180, -90, 180, 90, 360, 180))


def test_patch_reads_the_right_pixels_north_up(global_1deg):
    source = RasterPatchSource([global_1deg], size=(2, 3))
    assert source.pixel_size == 1.0 and source.num_channels == 1
    patch = source.patch(10.5, 20.5)  # centre between pixels; rows lat 11.0 and 10.0 -> rows 79, 80
    expected_cols = np.array([199, 200, 201])  # pixel centres at lon 19.5, 20.5, 21.5... shifted by half a pixel
    assert patch.shape == (1, 2, 3) and patch.dtype == np.float32
    assert patch[0, 0, 0] == 1000 * 79 + patch[0, 0, 0] % 1000  # north row first
    assert np.array_equal(patch[0] % 1000, np.tile(expected_cols, (2, 1)))
    assert np.array_equal(patch[0, :, 0] // 1000, [79, 80])


def test_patches_wrap_across_the_antimeridian(global_1deg):
    source = RasterPatchSource([global_1deg], size=4)
    patch = source.patch(0.5, 179.9)
    assert np.array_equal(patch[0, 0] % 1000, [358, 359, 0, 1])  # east of 180 continues at 180 W
    assert np.isfinite(patch).all()


def test_outside_the_world_and_nodata_are_nan_or_filled(tmp_path, global_1deg):
    source = RasterPatchSource([global_1deg], size=4)
    polar = source.patch(89.5, 0.0)  # pixel rows centred at 91, 90, 89, 88 N
    assert np.isnan(polar[0, 0]).all() and np.isfinite(polar[0, 1:]).all()
    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    data[5, 5] = -9999
    regional = write(tmp_path / "regional.tif", data, transform=from_origin(0, 10, 1, 1), nodata=-9999)
    patch = RasterPatchSource([regional], size=4).patch(5.0, 5.0)
    assert np.isnan(patch[0, 2, 2]) and np.isfinite(patch[0, 1, 1])
    edge = RasterPatchSource([regional], size=4).patch(1.0, 0.0)  # half the patch is west of the raster
    assert np.isnan(edge[0, :, :2]).all() and np.isfinite(edge[0, :2, 2:]).all()
    filled = RasterPatchSource([regional], size=4, fill_value=0.0).patch(1.0, 0.0)
    assert (filled[0, :, :2] == 0).all()


def test_longitudes_stored_from_0_to_360(tmp_path):
    """ERA5-style grids: columns start at 0 E; a point at 10 W reads column 350."""
    cols = np.tile(np.arange(360, dtype=np.float32), (180, 1))
    path = write(tmp_path / "east.tif", cols, transform=from_bounds(0, -90, 360, 90, 360, 180), crs=None)
    source = RasterPatchSource([RasterLayer(path, crs="EPSG:4326")], size=2)
    assert np.array_equal(source.patch(0.0, -10.0)[0, 0], [349, 350])
    assert np.array_equal(source.patch(0.0, 0.0)[0, 0], [359, 0])


def test_projected_rasters_are_reprojected(tmp_path):
    """A Web Mercator raster: each patch pixel takes the value of the raster cell under its centre."""
    from pyproj import Transformer

    transform = from_origin(0, 2_000_000, 10_000, 10_000)  # 10 km cells, 200 x 200, from 0 E / ~18 N
    rows, cols = np.mgrid[0:200, 0:200]
    path = write(tmp_path / "merc.tif", (1000 * rows + cols).astype(np.float32), transform=transform,
                 crs="EPSG:3857")
    source = RasterPatchSource([path], size=3, pixel_size=0.05)
    patch = source.patch(10.0, 5.0)
    lat, lon = source.pixel_centres(10.0, 5.0)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    col, row = ~transform @ (x, y)
    assert np.array_equal(patch[0], 1000 * np.floor(row) + np.floor(col))
    with pytest.raises(ValueError, match="not in degrees"):
        RasterPatchSource([path])


def test_layers_stack_with_categories_scale_and_band_selection(tmp_path, global_1deg):
    classes = np.tile(np.array([0, 1, 2, 3], dtype=np.uint8), (180, 90))
    landcover = write(tmp_path / "classes.tif", classes, transform=from_bounds(-180, -90, 180, 90, 360, 180),
                      nodata=3)
    two_bands = np.stack([np.full((180, 360), 10, np.int16), np.full((180, 360), 20, np.int16)])
    multi = write(tmp_path / "multi.tif", two_bands, transform=from_bounds(-180, -90, 180, 90, 360, 180))
    source = RasterPatchSource([
        RasterLayer(global_1deg, name="grid"),
        RasterLayer(landcover, name="lc", categories=[0, 1, 2]),
        RasterLayer(multi, name="m", bands=[2], scale=0.5, offset=1.0),
    ], size=(1, 4))
    assert source.channel_names == ["grid", "lc=0", "lc=1", "lc=2", "m"]
    patch = source.patch(0.5, 2.0)  # columns 180..183 -> classes 0, 1, 2, 3 (nodata)
    onehot = patch[1:4, 0]
    assert np.array_equal(onehot[:, :3], np.eye(3)) and np.isnan(onehot[:, 3]).all()
    assert np.all(patch[4] == 11.0)


def test_netcdf_layers_without_a_crs(tmp_path):
    """A NetCDF-3 climatology (written with scipy) whose file names no CRS, read through GDAL's netCDF driver."""
    from scipy.io import netcdf_file

    path = tmp_path / "clim.nc"
    handle = netcdf_file(path, "w")
    handle.createDimension("month", 2)
    handle.createDimension("lat", 18)
    handle.createDimension("lon", 36)
    handle.createVariable("lat", "f8", ("lat",))[:] = np.arange(85, -90, -10.0)
    handle.createVariable("lon", "f8", ("lon",))[:] = np.arange(-175, 180, 10.0)
    t2m = np.stack([np.tile(np.arange(36.0), (18, 1)), np.full((18, 36), 7.0)])
    handle.createVariable("t2m", "f4", ("month", "lat", "lon"))[:] = t2m
    handle.close()
    with pytest.raises(DataFileError, match="has no CRS"):
        RasterPatchSource([RasterLayer(f"netcdf:{path}:t2m")])
    source = RasterPatchSource([RasterLayer(f"netcdf:{path}:t2m", name="t2m", crs="EPSG:4326")], size=2)
    assert source.pixel_size == 10.0 and source.channel_names == ["t2m[1]", "t2m[2]"]
    patch = source.patch(0.0, 180.0)  # across the antimeridian: columns 35 and 0
    assert np.array_equal(patch[0, 0], [35.0, 0.0]) and np.all(patch[1] == 7.0)


def test_dataset_works_with_a_dataloader_and_pickles(global_1deg):
    source = RasterPatchSource([global_1deg], size=4)
    dataset = source.dataset(lat=[0.0, 45.0, -30.0], lon=[0.0, 90.0, 170.0], transform=lambda p: p * 2)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    patches, latlon = next(iter(loader))
    assert patches.shape == (2, 1, 4, 4) and torch.equal(latlon[1], torch.tensor([45.0, 90.0], dtype=torch.float64))
    assert torch.equal(patches[0], torch.from_numpy(source.patch(0.0, 0.0)) * 2)
    clone = pickle.loads(pickle.dumps(source))  # DataLoader workers get a copy that reopens the files
    assert np.array_equal(clone.patch(0.0, 0.0), source.patch(0.0, 0.0))
    many = source.patches(np.array([[0.0, 0.0], [45.0, 90.0]]), order="latlon")
    assert many.shape == (2, 1, 4, 4)


def test_clear_errors(tmp_path, global_1deg):
    with pytest.raises(DataFileError, match="Cannot open raster"):
        RasterPatchSource([tmp_path / "missing.tif"])
    no_crs = write(tmp_path / "nocrs.tif", np.zeros((4, 4), np.float32), transform=from_origin(0, 4, 1, 1), crs=None)
    with pytest.raises(DataFileError, match="has no CRS"):
        RasterPatchSource([no_crs], pixel_size=1.0).patch(1.0, 1.0)
    with pytest.raises(DataFileError, match="declares CRS"):
        RasterPatchSource([RasterLayer(global_1deg, crs="EPSG:3857")])
    with pytest.raises(ValueError, match="bands must be"):
        RasterPatchSource([RasterLayer(global_1deg, bands=[2])])
    with pytest.raises(ValueError, match="size must be"):
        RasterPatchSource([global_1deg], size=0)
    with pytest.raises(InvalidCoordinatesError):
        RasterPatchSource([global_1deg]).patch(95.0, 0.0)
