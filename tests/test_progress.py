"""The one progress bar: integer counts, quiet lines when not a terminal, no early ETA, no third-party bars."""

from __future__ import annotations

import io
import re

import geopandas as gpd
import numpy as np
import pytest

import geoembed
from geoembed.progress import progress_bar, quiet_third_party


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_gets_whole_lines_with_integer_counts(monkeypatch):
    monkeypatch.setenv("GEOEMBED_PROGRESS_INTERVAL", "0")  # a line per update, to see every one
    log = io.StringIO()
    with progress_bar(total=20, desc="encoding", unit="pt", file=log) as bar:
        for _ in range(4):
            bar.update(5)
    text = log.getvalue()
    assert "\r" not in text  # no carriage-return redraws in a log file
    lines = text.splitlines()
    assert lines[0].startswith("encoding:") and "0/20" in lines[0]
    assert "20/20" in lines[-1] and len(lines) <= 6
    assert not re.search(r"\d+\.\d+/\d", text)  # never "0.00/20.0"


def test_not_a_terminal_writes_at_most_every_interval(monkeypatch):
    monkeypatch.setenv("GEOEMBED_PROGRESS_INTERVAL", "3600")
    log = io.StringIO()
    with progress_bar(total=10_000, unit="pt", file=log) as bar:
        for _ in range(10_000):
            bar.update(1)
    assert len(log.getvalue().splitlines()) <= 2  # the start and the end, not 10,000 updates


def test_time_left_is_hidden_until_the_rate_means_something():
    bar = progress_bar(total=1000, unit="fit", file=FakeTerminal())
    bar.update(1)
    assert "<?" in str(bar)  # one slow first step (loading, warm-up) must not predict hours
    bar.update(99)
    assert "<?" not in str(bar) and re.search(r"<\d\d:\d\d", str(bar))
    bar.close()


def test_disabled_bar_writes_nothing():
    log = io.StringIO()
    with progress_bar(total=5, file=log, enabled=False) as bar:
        bar.update(5)
    assert log.getvalue() == ""


def test_encode_location_progress_counts_points_as_integers(capsys):
    geoembed.encode_location(lat=np.zeros(20), lon=np.linspace(-170, 170, 20), pretrained=False, seed=0,
                             progress=True)
    err = capsys.readouterr().err
    assert "20/20" in err and "20.0" not in err and "\r" not in err


def test_third_party_loading_bars_are_silenced_and_restored():
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    with quiet_third_party():
        assert not hf_logging.is_progress_bar_enabled()  # no "Loading weights 0/103"
    assert hf_logging.is_progress_bar_enabled()


@pytest.fixture
def toy_task():
    from geoembed.downstream.tasks import Task, register_task, task_registry

    rng = np.random.default_rng(2)
    lat, lon = rng.uniform(-60, 70, 120), rng.uniform(-180, 180, 120)
    data = gpd.GeoDataFrame({"t": 10 + 20 * np.sin(np.radians(lat))}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")
    register_task("toy_resume_progress", Task(name="toy_resume_progress", data=data, target="t", kind="regression"))
    yield "toy_resume_progress"
    task_registry.unregister("toy_resume_progress")


def test_a_resumed_benchmark_says_how_many_results_it_reused(toy_task, tmp_path, capsys):
    options = dict(tasks=[toy_task], encoders=["xyz"], probes=["linear"], splits=["spatial"], n_splits=3,
                   output=tmp_path / "bench", progress=True)
    geoembed.run_benchmark(**options)
    assert "resumed" not in capsys.readouterr().err
    results = geoembed.run_benchmark(**options)
    assert f"resumed {len(results)} results from {tmp_path / 'bench'}" in capsys.readouterr().err


def test_redraws_between_intervals_are_not_written_but_the_last_line_is(monkeypatch):
    monkeypatch.setenv("GEOEMBED_PROGRESS_INTERVAL", "3600")
    log = io.StringIO()
    with progress_bar(total=30, unit="fit", file=log) as bar:
        for i in range(30):
            bar.set_description(f"task {i}")  # tqdm redraws on every description change
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "0/30" in lines[0] and "30/30" in lines[1] and "task 29" in lines[1]
