"""The ``geoembed encode`` and ``geoembed plugins`` commands, in process and through the installed console script."""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pytest

import geoembed
from geoembed import registry
from geoembed.cli import main
from geoembed.errors import PluginWarning
from geoembed.io import read_embeddings
from geoembed.testing import assert_embeddings_close

EXAMPLE_CITIES = Path(__file__).resolve().parents[1] / "examples" / "cities.csv"
RANDOM = ["--random-weights", "--no-progress"]


@pytest.fixture
def cities_csv(tmp_path) -> Path:
    path = tmp_path / "cities.csv"
    shutil.copyfile(EXAMPLE_CITIES, path)
    return path


def random_geoclip(lat, lon) -> np.ndarray:
    return geoembed.encode_location(lat=lat, lon=lon, pretrained=False, seed=0)


def assert_same_embeddings(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal within the across-batch guarantee (another batch size or CPU kernel sums in another order)."""
    assert actual.shape == expected.shape and actual.dtype == np.float32
    assert_embeddings_close(actual, expected)


# -- geoembed encode ---------------------------------------------------------------------------------------------------
def test_encode_csv_to_parquet_matches_encode_location(cities_csv, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert main(["encode", str(cities_csv), "-o", str(out), *RANDOM]) == 0
    summary = capsys.readouterr().out
    assert "encoded 20 points -> 512-d embeddings with geoclip (weights random (seed 0))" in summary
    assert str(out) in summary

    cities = pd.read_csv(cities_csv)
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back[list(cities.columns)], cities)
    assert_same_embeddings(read_embeddings(out), random_geoclip(cities["lat"], cities["lon"]))


def test_encode_geopackage_with_pretrained_geoclip(tmp_path, capsys):
    cities = pd.read_csv(EXAMPLE_CITIES)
    gdf = geopandas.GeoDataFrame(
        cities[["name"]], geometry=geopandas.points_from_xy(cities["lon"], cities["lat"]), crs="EPSG:4326"
    ).to_crs("EPSG:3857")
    source = tmp_path / "cities.gpkg"
    gdf.to_file(source, layer="cities")
    out = tmp_path / "cities_emb.geoparquet"
    assert main(["encode", str(source), "-o", str(out), "--layout", "list", "--no-progress"]) == 0
    assert "(weights geoclip.mp16)" in capsys.readouterr().out

    back = geopandas.read_parquet(out)
    assert back.crs == "EPSG:3857" and list(back["name"]) == list(cities["name"])
    expected = geoembed.encode_location(lat=cities["lat"], lon=cities["lon"])  # pretrained GeoCLIP
    assert_same_embeddings(read_embeddings(out), expected)


def test_console_script_writes_npy(cities_csv, tmp_path):
    out = tmp_path / "out.npy"
    result = subprocess.run(
        [*console_script(), "encode", str(cities_csv), "-o", str(out), *RANDOM, "--normalize", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("encoded 20 points -> 512-d embeddings")
    cities = pd.read_csv(cities_csv)
    expected = geoembed.encode_location(lat=cities["lat"], lon=cities["lon"], normalize=True, pretrained=False, seed=0)
    back = np.load(out)
    assert_same_embeddings(back, expected)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), 1.0, rtol=1e-5)


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("geoembed")
    return [str(script)] if script.exists() else [shutil.which("geoembed") or "geoembed"]


def test_closed_pipe_is_not_a_traceback():
    """``geoembed plugins --json | head -1``: the reader leaves early; the command must stop quietly."""
    process = subprocess.Popen([*console_script(), "plugins", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before the command writes anything
    stderr = process.communicate(timeout=300)[1].decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert process.returncode == 141


def test_csv_to_geoparquet_gets_point_geometries(cities_csv, tmp_path):
    out = tmp_path / "out.geoparquet"
    assert main(["encode", str(cities_csv), "-o", str(out), *RANDOM, "--batch-size", "7"]) == 0
    back = geopandas.read_parquet(out)
    cities = pd.read_csv(cities_csv)
    assert back.crs == "EPSG:4326"
    np.testing.assert_allclose(back.geometry.y, cities["lat"])
    np.testing.assert_allclose(back.geometry.x, cities["lon"])
    assert_same_embeddings(read_embeddings(out), random_geoclip(cities["lat"], cities["lon"]))


def test_explicit_columns_and_prefix(tmp_path):
    source = tmp_path / "odd.tsv"
    cities = pd.read_csv(EXAMPLE_CITIES).rename(columns={"lat": "breite", "lon": "laenge"})
    cities.to_csv(source, sep="\t", index=False)
    out = tmp_path / "out.parquet"
    argv = ["encode", str(source), "-o", str(out), "--lat-col", "breite", "--lon-col", "laenge", "--prefix", "g"]
    assert main([*argv, *RANDOM]) == 0
    assert_same_embeddings(read_embeddings(out, prefix="g"), random_geoclip(cities["breite"], cities["laenge"]))


def test_encoder_without_weights(cities_csv, tmp_path, capsys):
    out = tmp_path / "xyz.npy"
    assert main(["encode", str(cities_csv), "-o", str(out), "--encoder", "xyz", "--no-progress"]) == 0
    assert "3-d embeddings with xyz (weights none)" in capsys.readouterr().out
    cities = pd.read_csv(cities_csv)
    assert_same_embeddings(np.load(out), geoembed.encode_location(lat=cities["lat"], lon=cities["lon"], encoder="xyz"))
    for flag in (["--random-weights"], ["--weights", "w.pth"]):
        assert main(["encode", str(cities_csv), "-o", str(tmp_path / "o.npy"), "--encoder", "xyz", *flag]) == 2
        assert f"{flag[0]} does not apply to the location encoder 'xyz'" in capsys.readouterr().err


def test_column_clash_stops_before_encoding(cities_csv, tmp_path, monkeypatch, capsys):
    first = tmp_path / "first.parquet"
    assert main(["encode", str(cities_csv), "-o", str(first), "--encoder", "xyz", "--no-progress"]) == 0

    def must_not_encode(*args, **kwargs):
        raise AssertionError("encoding started although the output columns clash")

    with monkeypatch.context() as patch:
        patch.setattr("geoembed.location_encoders.encode.iter_embeddings", must_not_encode)
        assert main(["encode", str(first), "-o", str(tmp_path / "second.parquet"), "--encoder", "xyz"]) == 2
    assert "already has column(s) named like the new embeddings (['xyz_000', 'xyz_001', 'xyz_002'])" in (
        capsys.readouterr().err
    )
    assert main(["encode", str(first), "-o", str(tmp_path / "second.npy"), "--encoder", "xyz"]) == 0  # no columns


def test_existing_output_is_kept_without_overwrite(cities_csv, tmp_path, capsys):
    out = tmp_path / "out.npy"
    out.write_bytes(b"precious")
    assert main(["encode", str(cities_csv), "-o", str(out), *RANDOM]) == 2
    err = capsys.readouterr().err
    assert err.startswith("geoembed encode: error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == b"precious"
    assert main(["encode", str(cities_csv), "-o", str(out), *RANDOM, "--overwrite"]) == 0
    assert np.load(out).shape == (20, 512)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lat-col", "latitude"], "No column named 'latitude'"),
        (["--layer", "x"], "--layer"),
        (["-o", "out.csv"], "Write .parquet"),
        (["--encoder", "geoclp"], "Did you mean 'geoclip'"),
    ],
)
def test_bad_usage_is_one_clear_line(cities_csv, tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    argv = ["encode", str(cities_csv), "-o", "out.parquet", *RANDOM, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.parquet").exists() and not (tmp_path / "out.csv").exists()


def test_unavailable_device_is_refused(cities_csv, tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["encode", str(cities_csv), "-o", str(tmp_path / "o.npy"), *RANDOM, "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--batch-size", "0"], ["--device", "gpu"], ["--weights", "w.pth", "--random-weights"]]
)
def test_invalid_options_are_argparse_errors(cities_csv, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["encode", str(cities_csv), "-o", "x.npy", *argv])
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_weights_option_uses_the_given_file(cities_csv, tmp_path, capsys):
    from geoembed.weights import resolve_weights
    from geoembed_geoclip import LOCATION_ENCODER_MP16

    weights_file = resolve_weights(LOCATION_ENCODER_MP16).path
    out = tmp_path / "out.npy"
    assert main(["encode", str(cities_csv), "-o", str(out), "--weights", str(weights_file), "--no-progress"]) == 0
    assert "(weights geoclip.mp16)" in capsys.readouterr().out
    cities = pd.read_csv(cities_csv)
    assert_same_embeddings(np.load(out), geoembed.encode_location(lat=cities["lat"], lon=cities["lon"]))


# -- geoembed plugins --------------------------------------------------------------------------------------------------
def test_plugins_table_lists_geoclip_as_third_party(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == ["KIND", "NAME", "ORIGIN", "DISTRIBUTION", "TARGET", "STATUS"]
    geoclip = next(r for r in rows if r.split()[:3] == ["location", "encoder", "geoclip"])
    version = importlib_metadata.version("geoembed-geoclip")
    assert geoclip.split() == [
        "location", "encoder", "geoclip", "third-party", "geoembed-geoclip", version,
        "geoembed_geoclip:geoclip_location_encoder", "ok",
    ]  # fmt: skip
    assert "all load" in out


def test_plugins_json(capsys):
    assert main(["plugins", "--json", "--kind", "location_encoders"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kinds"] == ["geoembed.location_encoders"]
    geoclip = next(p for p in report["plugins"] if p["name"] == "geoclip")
    assert geoclip["kind"] == "location encoder" and geoclip["origin"] == "third-party"
    assert geoclip["distribution"] == "geoembed-geoclip" and geoclip["status"] == "ok" and geoclip["error"] is None
    assert {p["kind"] for p in report["plugins"]} == {"location encoder"}


def test_plugins_unknown_kind(capsys):
    assert main(["plugins", "--kind", "backbone"]) == 2
    assert "the kinds are image_backbone, location_encoder" in capsys.readouterr().err


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Add a broken plugin and one that tries to shadow the built-in latlon to the installed entry points."""
    extra = [
        importlib_metadata.EntryPoint("broken_encoder", "no_such_module_xyz:factory", "geoembed.location_encoders"),
        importlib_metadata.EntryPoint("latlon", "no_such_module_xyz:latlon", "geoembed.location_encoders"),
    ]
    real = registry._entry_points
    monkeypatch.setattr(
        registry, "_entry_points", lambda group: [*real(group), *(ep for ep in extra if ep.group == group)]
    )
    registry.refresh_plugins()
    yield
    registry.refresh_plugins()  # forget the fakes: the next lookup rediscovers the real entry points


def test_plugins_reports_broken_runtime_and_shadowed_plugins(fake_entry_points, capsys):
    def cli_test_encoder(**kwargs):
        raise NotImplementedError

    with pytest.warns(PluginWarning, match="claim the name 'latlon'"):  # registering runs discovery
        geoembed.register_location_encoder("cli_test_encoder", cli_test_encoder)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(["plugins"]) == 0  # a report: broken plugins do not fail the command
        assert not [w for w in caught if issubclass(w.category, PluginWarning)]  # they are in the report instead
        out = capsys.readouterr().out
        lines = out.splitlines()
        rows = lines[1 : lines.index("")]
        broken = next(r for r in rows if "broken_encoder" in r)
        assert broken.split()[-1] == "BROKEN" and "third-party" in broken
        assert "broken_encoder': location encoder plugin 'broken_encoder'" in out
        assert "No module named 'no_such_module_xyz'" in out
        assert "Two location encoder plugins claim the name 'latlon'" in out
        runtime = next(r for r in rows if "cli_test_encoder" in r)
        assert runtime.split()[3:5] == ["runtime", "-"] and "test_cli:" in runtime and runtime.endswith("ok")
        assert lines[-1].startswith(f"{len(rows)} plugins, 1 broken.")

        assert main(["plugins", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        entry = next(p for p in report["plugins"] if p["name"] == "broken_encoder")
        assert entry["status"] == "broken" and "no_such_module_xyz" in entry["error"]
        assert any("claim the name 'latlon'" in w for w in report["warnings"])
    finally:
        registry.location_encoders.unregister("cli_test_encoder")


def test_parquet_to_parquet_streams_in_chunks_and_matches(tmp_path):
    import pandas as pd

    import geoembed

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"name": [f"p{i}" for i in range(120)], "lat": rng.uniform(-60, 60, 120),
                          "lon": rng.uniform(-170, 170, 120)})
    frame.to_parquet(tmp_path / "in.parquet")
    argv = ["encode", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.parquet"), *RANDOM,
            "--rows-per-chunk", "50", "--no-progress"]
    assert main(argv) == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out["name"]) == list(frame["name"])
    expected = geoembed.encode_location(lat=frame.lat, lon=frame.lon, pretrained=False, seed=0)
    assert_embeddings_close(out.filter(like="geoclip_").to_numpy(), expected)  # chunks of 50 against one batch


def test_precision_option(cities_csv, tmp_path, capsys):
    assert main(["encode", str(cities_csv), "-o", str(tmp_path / "bf.npy"), "--precision", "bfloat16",
                 "--no-progress"]) == 0
    assert main(["encode", str(cities_csv), "-o", str(tmp_path / "x.npy"), "--encoder", "xyz",
                 "--precision", "bfloat16"]) == 2
    assert "--precision does not apply to the location encoder 'xyz'" in capsys.readouterr().err
