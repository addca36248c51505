"""Factories of the built-in tasks, registered as entry points (group ``geoembed.tasks``) in ``pyproject.toml``.

Each reads its GeoParquet file from ``geoembed/data/tasks/`` and verifies its sha256 against ``manifest.json``,
which also records each task's region, units, value range, source (name, version, wheel, file, licence, citation),
sampling design and data gates (:mod:`geoembed.downstream.gates`). The files are built, and gated against their
sources, by ``benchmarks/build_tasks.py``; provenance and fixes are described in ``docs/downstream.md``.
"""

from __future__ import annotations

from geoembed.downstream.tasks import Task, load_shipped_task


def air_temperature() -> Task:
    return load_shipped_task('air_temperature')


def precipitation() -> Task:
    return load_shipped_task('precipitation')


def temperature_range() -> Task:
    return load_shipped_task('temperature_range')


def precipitation_seasonality() -> Task:
    return load_shipped_task('precipitation_seasonality')


def climate_zone() -> Task:
    return load_shipped_task('climate_zone')


def koppen_class() -> Task:
    return load_shipped_task('koppen_class')


def linke_turbidity() -> Task:
    return load_shipped_task('linke_turbidity')


def elevation() -> Task:
    return load_shipped_task('elevation')


def south_america_elevation() -> Task:
    return load_shipped_task('south_america_elevation')


def us_airport_elevation() -> Task:
    return load_shipped_task('us_airport_elevation')


def land_cover() -> Task:
    return load_shipped_task('land_cover')


def land_cover_africa() -> Task:
    return load_shipped_task('land_cover_africa')


def forest_europe() -> Task:
    return load_shipped_task('forest_europe')


def ariolimax_presence() -> Task:
    return load_shipped_task('ariolimax_presence')


def country() -> Task:
    return load_shipped_task('country')


def city_population() -> Task:
    return load_shipped_task('city_population')


def europe_place_population() -> Task:
    return load_shipped_task('europe_place_population')


def income_group() -> Task:
    return load_shipped_task('income_group')


def gdp_per_capita() -> Task:
    return load_shipped_task('gdp_per_capita')


def fertility() -> Task:
    return load_shipped_task('fertility')


def aged_65_plus() -> Task:
    return load_shipped_task('aged_65_plus')


def life_expectancy() -> Task:
    return load_shipped_task('life_expectancy')


def us_county_unemployment() -> Task:
    return load_shipped_task('us_county_unemployment')


def us_state_violent_crime() -> Task:
    return load_shipped_task('us_state_violent_crime')


def us_state_poverty() -> Task:
    return load_shipped_task('us_state_poverty')


def us_state_income() -> Task:
    return load_shipped_task('us_state_income')


def mexico_gdp_per_capita() -> Task:
    return load_shipped_task('mexico_gdp_per_capita')


def georgia_bachelors() -> Task:
    return load_shipped_task('georgia_bachelors')


def nc_nonwhite_births() -> Task:
    return load_shipped_task('nc_nonwhite_births')


def montreal_election() -> Task:
    return load_shipped_task('montreal_election')


def montreal_vote_share() -> Task:
    return load_shipped_task('montreal_vote_share')
