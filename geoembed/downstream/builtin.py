"""Factories of the built-in tasks, registered as entry points (group ``geoembed.tasks``) in ``pyproject.toml``.

Each reads its GeoParquet file from ``geoembed/data/tasks/`` and verifies its sha256 against ``manifest.json``,
which also records each task's region, units, value range, source (name, version, wheel, file, licence, citation),
sampling design and data gates (:mod:`geoembed.downstream.gates`). The files are built, and gated against their
sources, by ``benchmarks/build_tasks.py``; provenance and fixes are described in ``docs/downstream.md``.
"""

from __future__ import annotations

from geoembed.downstream.tasks import Task, load_shipped_task


def air_temperature() -> Task:
    return load_shipped_task("air_temperature")


def precipitation() -> Task:
    return load_shipped_task("precipitation")


def elevation() -> Task:
    return load_shipped_task("elevation")


def land_cover() -> Task:
    return load_shipped_task("land_cover")


def climate_zone() -> Task:
    return load_shipped_task("climate_zone")


def ariolimax_presence() -> Task:
    return load_shipped_task("ariolimax_presence")


def country() -> Task:
    return load_shipped_task("country")


def city_population() -> Task:
    return load_shipped_task("city_population")


def income_group() -> Task:
    return load_shipped_task("income_group")


def gdp_per_capita() -> Task:
    return load_shipped_task("gdp_per_capita")


def us_county_unemployment() -> Task:
    return load_shipped_task("us_county_unemployment")


def georgia_bachelors() -> Task:
    return load_shipped_task("georgia_bachelors")
