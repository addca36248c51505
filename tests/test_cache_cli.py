"""``geoembed cache``: sizes per kind, the path, and clearing with confirmation."""

from __future__ import annotations

import io

import numpy as np
import pytest

import geoembed
from geoembed.cli import main
from geoembed.weights import cache_dir


@pytest.fixture
def filled_cache():
    """A cache with real entries: task embeddings, a gallery, and an unknown folder someone left there."""
    from geoembed.downstream import LocationFeaturizer
    from geoembed.retrieval.gallery import gallery_embeddings

    LocationFeaturizer(encoder="xyz").fit_transform(np.array([[48.85, 2.35], [-33.87, 151.21]]))
    gallery_embeddings("grid:30", geoembed.create_location_encoder("geoclip", pretrained=False, seed=0))
    (cache_dir() / "scratch").mkdir()
    (cache_dir() / "scratch" / "note.txt").write_text("x" * 10)
    return cache_dir()


def test_sizes_per_kind(filled_cache, capsys):
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(filled_cache) in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert {"weights", "embeddings", "galleries", "concept_embeddings", "scratch", "total"} <= set(lines)
    gallery_files = [p for p in (filled_cache / "galleries").rglob("*") if p.is_file()]
    assert f" {len(gallery_files)} files" in lines["galleries"] and " 0 files" in lines["weights"]
    assert f"{sum(p.stat().st_size for p in gallery_files) / 1000:.1f} KB" in lines["galleries"]
    assert "10 B" in lines["scratch"] and "other files" in lines["scratch"]


def test_path(filled_cache, capsys):
    assert main(["cache", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(filled_cache)


def test_clear_one_kind_with_yes(filled_cache, capsys):
    n_files = sum(1 for p in (filled_cache / "galleries").rglob("*") if p.is_file())
    assert main(["cache", "--clear", "galleries", "--yes"]) == 0
    assert f"cleared galleries: {n_files} files" in capsys.readouterr().out
    assert not (filled_cache / "galleries").exists() and any((filled_cache / "embeddings").rglob("*.npy"))


def test_clear_asks_first_and_refuses_without_a_terminal(filled_cache, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no one to ask
    assert main(["cache", "--clear"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert (filled_cache / "galleries").exists()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["cache", "--clear"]) == 1
    assert (filled_cache / "galleries").exists()
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["cache", "--clear"]) == 0
    assert not any(filled_cache.iterdir())


def test_unknown_kind_lists_the_kinds(filled_cache, capsys):
    assert main(["cache", "--clear", "photos", "--yes"]) == 2
    assert "the kinds are weights, embeddings, galleries, concept_embeddings" in capsys.readouterr().err
