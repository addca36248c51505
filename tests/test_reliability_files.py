"""Files, caches and processes under hostile conditions: traversal, symlinks, tampered caches, kills, permissions."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd

import geoembed
from geoembed.atomic import atomic_write, open_for_append, safe_file_name, sweep_stale
from geoembed.cache import DiskCache, cache_key
from geoembed.errors import CacheWarning, OutputPathError

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "plugins"), env.get("PYTHONPATH", "")])
    return env


def _toy_task(name: str, task_name: str | None = None):
    from geoembed.downstream.tasks import Task

    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-60, 70, 60), rng.uniform(-180, 180, 60)
    data = gpd.GeoDataFrame({"t": 10 + 20 * np.sin(np.radians(lat))}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")
    return Task(name=task_name or name, data=data, target="t", kind="regression")


@pytest.fixture
def task_plugin():
    """Register task factories under throwaway names (as a plugin's entry point would) and remove them after."""
    from geoembed.registry import tasks as task_registry

    names: list[str] = []

    def register(name, factory):
        names.append(name)
        task_registry.register(name, factory)

    yield register
    for name in names:
        task_registry.unregister(name)


# -- 2. path traversal -------------------------------------------------------------------------------------------------
def test_a_task_whose_name_is_a_path_cannot_write_outside_the_output_folder(task_plugin, tmp_path):
    from geoembed.downstream.benchmark import run_benchmark

    task_plugin("innocent", lambda: _toy_task("innocent", task_name="../../ESCAPED"))
    out = tmp_path / "a" / "b" / "bench_out"
    run_benchmark(tasks=["innocent"], encoders=["xyz"], probes=["linear"], splits=["random"], n_splits=2,
                  output=out, progress=False)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(out in p.parents for p in written), [str(p) for p in written if out not in p.parents]
    assert not any("ESCAPED" in p.name for p in written)
    assert (out / "predictions" / "innocent__xyz__linear.parquet").is_file()


@pytest.mark.parametrize("name", ["../../ESCAPED", "a/b", ".hidden", "", "x" * 201, "a\\b", "nul\x00"])
def test_unsafe_names_are_refused_at_registration_and_as_file_names(name):
    with pytest.raises(ValueError, match="name"):
        geoembed.register_location_encoder(name, lambda: None)
    with pytest.raises(OutputPathError, match="file name"):
        safe_file_name(name, "task name")


# -- 3. symlinks -------------------------------------------------------------------------------------------------------
def test_a_symlink_planted_in_the_output_folder_is_refused_not_followed(task_plugin, tmp_path):
    from geoembed.downstream.benchmark import run_benchmark

    task_plugin("toy_symlink", lambda: _toy_task("toy_symlink"))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "cells.jsonl").symlink_to(victim)
    with pytest.raises(OutputPathError, match="symlink"):
        run_benchmark(tasks=["toy_symlink"], encoders=["xyz"], probes=["linear"], splits=["random"], n_splits=2,
                      output=out, progress=False)
    assert victim.read_text() == "precious\n"


def test_open_for_append_refuses_symlinks_and_appends_to_files(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("x")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(OutputPathError, match="symlink"):
        open_for_append(tmp_path / "link")
    with open_for_append(tmp_path / "log") as f:
        f.write("a\n")
    with open_for_append(tmp_path / "log") as f:
        f.write("b\n")
    assert (tmp_path / "log").read_text() == "a\nb\n" and victim.read_text() == "x"


# -- 4. tampered caches ------------------------------------------------------------------------------------------------
CITIES = np.array([[48.8566, 2.3522], [40.7128, -74.006], [-33.8688, 151.2093], [35.6762, 139.6503]])


def _entry(points):
    from geoembed.downstream.cache import STORE, cache_key as point_key

    model = geoembed.create_location_encoder("xyz")
    return STORE.path(point_key(model.identity, points, False)), model


@pytest.mark.parametrize("tamper", ["nan", "zeros", "float64", "other_points", "other_points_with_manifest",
                                    "no_manifest"])
def test_a_tampered_embedding_cache_entry_is_recomputed_with_a_warning(tamper):
    from geoembed.downstream.cache import embed_points

    path, model = _entry(CITIES)
    fresh = embed_points(CITIES, model)
    other = CITIES[::-1] + 1.0
    other_path, _ = _entry(other)
    embed_points(other, model)
    if tamper == "nan":
        np.save(path, np.full_like(fresh, np.nan))
    elif tamper == "zeros":
        np.save(path, np.zeros_like(fresh))
    elif tamper == "float64":
        np.save(path, fresh.astype(np.float64))
    elif tamper == "other_points":
        path.write_bytes(other_path.read_bytes())
    elif tamper == "other_points_with_manifest":  # a whole entry copied over: its key gives it away
        path.write_bytes(other_path.read_bytes())
        path.with_suffix(".json").write_bytes(other_path.with_suffix(".json").read_bytes())
    elif tamper == "no_manifest":
        path.with_suffix(".json").unlink()
    with pytest.warns(CacheWarning, match=str(path.name)):
        again = embed_points(CITIES, model)
    np.testing.assert_array_equal(again, fresh)
    assert again.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # rewritten: the next read is clean
        np.testing.assert_array_equal(embed_points(CITIES, model), fresh)


def test_a_tampered_gallery_cache_is_rebuilt_with_a_warning():
    from geoembed.retrieval.gallery import Gallery, gallery_cache_path, gallery_embeddings

    gallery = Gallery.from_latlon(CITIES, name="cities")
    good = np.array(gallery_embeddings(gallery, "xyz"))
    path = gallery_cache_path(gallery, geoembed.create_location_encoder("xyz"))
    np.save(path, np.full_like(good, np.nan))
    with pytest.warns(CacheWarning, match="checksum"):
        np.testing.assert_array_equal(gallery_embeddings(gallery, "xyz"), good)


def test_a_tampered_text_cache_entry_is_recomputed_with_a_warning():
    from geoembed.concepts.text_encoders import TextEncoder, concept_cache_dir, encode_texts

    class Letters(TextEncoder):
        space, embedding_dim, weights_id = "test:letters", 3, "v1"

        def _embed(self, texts):
            import torch

            return torch.tensor([[len(t), t.count("a") + 1, 1.0] for t in texts])

    encoder = Letters()
    first = encode_texts(encoder, ["sand", "sea"])
    encode_texts(encoder, ["ice"])
    a, b = sorted(concept_cache_dir().glob("*.npy"), key=lambda p: np.load(p).shape[0], reverse=True)
    a.write_bytes(b.read_bytes())  # the entry of ["ice"] put in place of ["sand", "sea"]
    a.with_suffix(".json").write_bytes(b.with_suffix(".json").read_bytes())
    with pytest.warns(CacheWarning, match="other inputs"):
        np.testing.assert_array_equal(encode_texts(encoder, ["sand", "sea"]), first)


def test_disk_cache_keys_separate_their_parts_and_entries_check_shape():
    assert cache_key("ab", "c") != cache_key("a", "bc")
    assert cache_key(np.zeros(2)) != cache_key(np.zeros(2, dtype=np.float32))
    store = DiskCache("test-store")
    key = cache_key("k")
    store.save(key, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert store.load(key, shape=(2, None), dtype=np.float32).shape == (2, 3)
    with pytest.warns(CacheWarning, match="shape"):
        assert store.load(key, shape=(3, 3), dtype=np.float32) is None
    with pytest.warns(CacheWarning, match="float64"):
        assert store.load(key, shape=(2, 3), dtype=np.float64) is None
    assert store.load(cache_key("other"), shape=(2, 3), dtype=np.float32) is None  # a plain miss: no warning


# -- 7. left behind ----------------------------------------------------------------------------------------------------
_WRITER = textwrap.dedent("""
    import sys, time
    from geoembed.atomic import atomic_write, cleanup_on_sigterm
    cleanup_on_sigterm()
    with atomic_write(sys.argv[1]) as tmp:
        tmp.write_bytes(b"x" * 1_000_000)
        print(tmp, flush=True)
        time.sleep(120)
""")


def test_sigterm_removes_the_temporary_file_of_an_unfinished_write(tmp_path):
    target = tmp_path / "out" / "result.parquet"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                            env=_env())
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.is_file() and tmp.parent == target.parent
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(target.parent.iterdir()) == []


def test_the_cli_installs_the_sigterm_cleanup(monkeypatch):
    from geoembed import cli

    installed = []
    monkeypatch.setattr("geoembed.atomic.cleanup_on_sigterm", lambda: installed.append(True) or True)
    assert cli.main(["benchmark", "--list", "--tasks", "nothing_matches*"]) == 0
    assert installed == [True]


def test_stale_temporaries_of_a_killed_process_are_swept_by_the_next_write(tmp_path):
    target = tmp_path / "result.npy"
    code = ("import os, sys; from geoembed.atomic import make_temp; t = make_temp(sys.argv[1]); "
            "t.write_bytes(b'x' * 1000); print(t, flush=True); os._exit(9)")  # dies like kill -9: no cleanup
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, env=_env(),
                          timeout=120)
    stale = Path(done.stdout.strip())
    assert stale.is_file() and stale.name.startswith(".result.")
    foreign = tmp_path / ".result.someone-else.tmp.npy"  # not of our naming: never touched
    foreign.write_text("keep")
    with atomic_write(target) as tmp:
        np.save(tmp, np.zeros(3))
    assert not stale.exists() and foreign.exists() and target.is_file()
    assert sweep_stale(tmp_path) == []


def test_benchmark_worker_processes_are_shut_down_after_a_run(task_plugin):
    psutil = pytest.importorskip("psutil")
    from geoembed.downstream.benchmark import run_benchmark

    task_plugin("toy_workers", lambda: _toy_task("toy_workers"))
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    run_benchmark(tasks=["toy_workers"], encoders=["xyz"], probes=["linear"], splits=["random"], n_splits=3,
                  n_jobs=2, progress=False)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())]  # tiny; exits with this process
    assert left == []


# -- 8. permissions ----------------------------------------------------------------------------------------------------
def test_overwriting_keeps_the_replaced_files_mode(tmp_path):
    path = tmp_path / "private.csv"
    path.write_text("old")
    path.chmod(0o600)
    with atomic_write(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.csv"
    with atomic_write(fresh) as tmp:
        tmp.write_text("x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask


def test_temporary_names_stay_short_for_long_targets(tmp_path):
    target = tmp_path / ("n" * 240 + ".parquet")
    with atomic_write(target) as tmp:
        assert len(tmp.name) < 120
        tmp.write_text("x")
    assert target.read_text() == "x"


# -- 13. long gallery names, top_k ----------------------------------------------------------------------------------
def test_a_very_long_gallery_name_still_caches(tmp_path):
    from geoembed.retrieval.gallery import Gallery, gallery_cache_path, gallery_embeddings

    gallery = Gallery.from_latlon(CITIES, name="g" * 240)
    emb = gallery_embeddings(gallery, "xyz")
    path = gallery_cache_path(gallery, geoembed.create_location_encoder("xyz"))
    assert emb.shape == (4, 3) and path.is_file() and len(path.name) < 120
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["gallery"] == "g" * 240


@pytest.mark.parametrize("top_k", [-1, 0, 1.5, True, "3"])
def test_retrieve_refuses_a_bad_top_k(top_k):
    from geoembed.retrieval.search import retrieve

    with pytest.raises(ValueError, match="top_k"):
        retrieve(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), top_k)


# -- 9. concept bank metadata -------------------------------------------------------------------------------------------
def _saved_bank(tmp_path):
    bank = geoembed.ConceptBank.from_array(["desert", "forest", "sea"], np.eye(3, 4, dtype=np.float32),
                                           space="test:space", categories=["land", "land", "water"])
    return bank.save(tmp_path / "bank")


@pytest.mark.parametrize("edit", [
    lambda m: m.update(names=m["names"][::-1]),
    lambda m: m.update(space="location:geoclip.mp16"),
    lambda m: m.update(scoring="linear"),
    lambda m: m.update(count=2),
    lambda m: m.update(categories=["water", "land", "land"]),
    lambda m: m.update(provenance={"built_from": "someone else"}),
    lambda m: m.update(metadata_sha256="0" * 64),
    lambda m: m.pop("metadata_sha256"),
], ids=["reversed-names", "space", "scoring", "count", "categories", "provenance", "checksum", "no-checksum"])
def test_an_edited_concepts_json_is_refused_naming_the_file(tmp_path, edit):
    from geoembed.errors import ConceptBankError

    folder = _saved_bank(tmp_path)
    path = folder / "concepts.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    edit(meta)
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ConceptBankError, match="concepts.json"):
        geoembed.ConceptBank.load(folder)


def test_a_saved_bank_round_trips_and_the_shipped_bank_verifies(tmp_path):
    folder = _saved_bank(tmp_path)
    loaded = geoembed.ConceptBank.load(folder)
    assert loaded.names == ["desert", "forest", "sea"] and loaded.space == "test:space"
    assert len(geoembed.create_concept_bank("geodata.geoclip")) == 20


# -- 12. one-line errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["--jobs", "0"], "--jobs"),
    (["--jobs", "-3"], "--jobs"),
    (["--block-size", "0"], "--block-size"),
    (["--block-size", "nan"], "--block-size"),
    (["--block-size", "1e9"], "--block-size"),
    (["--seeds", "-1"], "--seeds"),
    (["--seeds", "0", "4294967296"], "--seeds"),
])
def test_bad_benchmark_flags_are_one_line_argparse_errors(argv, flag, capsys):
    from geoembed.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["benchmark", "--list", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and flag in err and "Traceback" not in err


def test_benchmark_output_that_is_a_file_is_refused_before_work(tmp_path, capsys, monkeypatch):
    import geoembed.downstream.benchmark as bench
    from geoembed.cli import main

    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: pytest.fail("the benchmark started"))
    existing = tmp_path / "report.txt"
    existing.write_text("mine")
    assert main(["benchmark", "--tasks", "elevation", "--encoders", "xyz", "--output", str(existing)]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and "existing file" in err and existing.read_text() == "mine"


def _points_frame(n=50, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "lat": rng.uniform(-80, 80, n), "lon": rng.uniform(-180, 180, n),
                         "label": [f"p{i}" for i in range(n)]})


def test_a_damaged_parquet_input_is_one_clear_error_when_streaming(tmp_path, capsys):
    from geoembed.cli import main

    source = tmp_path / "points.parquet"
    _points_frame(3000).to_parquet(source, row_group_size=500)
    data = bytearray(source.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2000] = b"\xff" * 2000  # damage pages in the middle, keep the footer
    source.write_bytes(bytes(data))
    code = main(["encode", str(source), "-o", str(tmp_path / "out.parquet"), "--encoder", "xyz", "--no-progress",
                 "--rows-per-chunk", "500"])
    err = capsys.readouterr().err
    assert code == 2 and str(source) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any(p.name != "points.parquet" for p in tmp_path.iterdir())  # no output, no temporary left


def test_a_parquet_folder_without_scheduler_is_one_clear_error(tmp_path, capsys):
    from geoembed.cli import main

    folder = tmp_path / "parts"
    folder.mkdir()
    _points_frame().to_parquet(folder / "part-0.parquet")
    assert main(["encode", str(folder), "-o", str(tmp_path / "out.parquet"), "--encoder", "xyz"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "Traceback" not in err


def test_an_unreachable_scheduler_fails_fast(tmp_path, capsys, monkeypatch):
    import socket
    import time

    import geoembed.location_encoders.parallel
    from geoembed.cli import main

    pytest.importorskip("distributed")
    monkeypatch.setattr(geoembed.location_encoders.parallel, "SCHEDULER_TIMEOUT_S", 2)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = tmp_path / "points.parquet"
    _points_frame().to_parquet(source)
    started = time.perf_counter()
    code = main(["encode", str(source), "-o", str(tmp_path / "out"), "--encoder", "xyz",
                 "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot reach the Dask scheduler" in err and "Traceback" not in err
    assert time.perf_counter() - started < 25


def test_weights_with_nan_name_the_users_file(tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    from geoembed.cli import main

    model = geoembed.create_location_encoder("geoclip", pretrained=False, seed=0)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][...] = float("nan")
    weights = tmp_path / "mine.safetensors"
    save_file(state, str(weights))
    csv = tmp_path / "points.csv"
    _points_frame(5).to_csv(csv, index=False)
    code = main(["encode", str(csv), "-o", str(tmp_path / "out.parquet"), "--weights", str(weights), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and str(weights) in err and "NaN" in err and "cached" not in err
    del torch


# -- 6. CSV in bounded memory ------------------------------------------------------------------------------------------
def test_csv_is_streamed_in_chunks_and_equals_the_in_memory_result(tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow.csv as pacsv

    from geoembed.io import read_embeddings
    from geoembed.location_encoders.streaming import encode_csv

    frame = _points_frame(20_000)
    source = tmp_path / "points.csv.gz"
    frame.to_csv(source, index=False)
    batches = []
    real_open = pacsv.open_csv

    def counting_open(*args, **kwargs):
        reader = real_open(*args, **kwargs)

        class Counting:
            def read_next_batch(self):
                batch = reader.read_next_batch()
                batches.append(batch.num_rows)
                return batch

        return Counting()

    monkeypatch.setattr(pacsv, "open_csv", counting_open)
    summary = encode_csv(source, tmp_path / "out.parquet", encoder="xyz", rows_per_chunk=1000, progress=False)
    assert summary["rows"] == 20_000 and len(batches) > 5 and max(batches) < 5000  # read a block at a time
    back = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(back[list(frame.columns)], frame, check_exact=False, rtol=1e-12)
    expected = geoembed.encode_location(lat=frame["lat"], lon=frame["lon"], encoder="xyz")
    np.testing.assert_allclose(read_embeddings(tmp_path / "out.parquet"), expected, rtol=1e-6, atol=1e-7)


def test_csv_streaming_keeps_the_checks_of_the_in_memory_reader(tmp_path):
    from geoembed.errors import InvalidCoordinatesError
    from geoembed.location_encoders.streaming import encode_csv

    source = tmp_path / "bad.csv"
    frame = _points_frame(300).astype({"lat": object})
    frame.loc[250, "lat"] = "48,85"
    frame.to_csv(source, index=False)
    with pytest.raises(InvalidCoordinatesError, match=r"row 250 \('48,85'\)"):
        encode_csv(source, tmp_path / "out.parquet", encoder="xyz", rows_per_chunk=100, progress=False)
    assert not (tmp_path / "out.parquet").exists()


def test_csv_streaming_survives_a_column_whose_type_changes_late(tmp_path):
    import pandas as pd

    from geoembed.location_encoders.streaming import encode_csv

    lines = ["id,lat,lon"] + [f"{i},{i % 80},{i % 170}" for i in range(200_000)] + ["not-a-number,1,2"]
    source = tmp_path / "late.csv"
    source.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="as text"):
        summary = encode_csv(source, tmp_path / "out.parquet", encoder="xyz", rows_per_chunk=50_000,
                             progress=False)
    assert summary["rows"] == 200_001
    assert pd.read_parquet(tmp_path / "out.parquet", columns=["id"])["id"].iloc[-1] == "not-a-number"


# -- 6. explain map size -----------------------------------------------------------------------------------------------
def test_a_map_too_large_for_memory_is_refused_up_front(monkeypatch, capsys, tmp_path):
    import geoembed.geo
    from geoembed.cli import main

    monkeypatch.setattr(geoembed.geo, "global_grid", lambda *a, **k: pytest.fail("the grid was built"))
    code = main(["explain", "--map", "arid climate", "--step", "0.01", "-o", str(tmp_path / "m.png")])
    err = capsys.readouterr().err
    assert code == 2 and "648,000,000 cells" in err and "--step" in err and "--memory-limit" in err
    assert "Traceback" not in err and not (tmp_path / "m.png").exists()


def test_map_memory_estimate_and_limit():
    from geoembed.concepts.explain import check_map_size, map_cells, map_memory_bytes
    from geoembed.errors import ResourceLimitError

    assert map_cells(1.0) == 180 * 360 and map_cells(0.01) == 18_000 * 36_000
    assert map_cells(0.7) == len(geoembed.geo.global_grid(0.7))
    assert map_memory_bytes(1.0, 512) == 180 * 360 * (80 + 2048)
    check_map_size(0.25, 512)  # 1.04 M cells, about 2.2 GB
    with pytest.raises(ResourceLimitError, match=r"step_deg=0\.\d+") as refused:
        check_map_size(0.1, 512)
    suggested = float(str(refused.value).split("step_deg=")[1].split(",")[0])
    check_map_size(suggested, 512)  # the step the message suggests does fit
    check_map_size(0.1, 512, memory_limit_gb=20)


def test_run_benchmark_refuses_bad_seeds_and_an_output_file_before_work(tmp_path):
    from geoembed.downstream.benchmark import run_benchmark

    with pytest.raises(ValueError, match="seeds"):
        run_benchmark(tasks=["elevation"], encoders=["xyz"], seeds=[-1], progress=False)
    existing = tmp_path / "file"
    existing.write_text("mine")
    with pytest.raises(OutputPathError, match="existing file"):
        run_benchmark(tasks=["elevation"], encoders=["xyz"], output=existing, progress=False)
    assert existing.read_text() == "mine"
