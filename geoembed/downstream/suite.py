"""What the benchmark runs by default, and how tasks are grouped: the default suite, task families and sources.

- :data:`DEFAULT_SUITE`: the tasks of ``geoembed benchmark`` without ``--tasks`` (the README's main job, sized to
  stay within 10 minutes on 2 CPU cores); ``--full`` (``run_benchmark(full=True)``) runs every registered task. This
  list is the one place that decides it.
- Families (:data:`FAMILIES`, defined with :class:`~geoembed.downstream.tasks.Task`): the leaderboard ranks models
  per family and overall. Every built-in task declares its ``family``; a user's task without one counts as "other".
- Sources: a task's ``sources`` attribute (ids of :data:`geoembed.provenance.SOURCES`), or the ids recognised in
  its provenance record (:func:`geoembed.provenance.sources_from_provenance`). The leakage guard compares them with
  each encoder's :attr:`~geoembed.model_card.ModelCard.training_sources`.
"""

from __future__ import annotations

from typing import Any

from geoembed.downstream.tasks import FAMILIES  # noqa: E402,F401  (re-exported: the leaderboard's families)

#: Tasks of the default suite (those registered are run; ``full=True`` runs every registered task): the 12 tasks of
#: task version 2, which span the three families and global, national and state scales within the time budget.
DEFAULT_SUITE: tuple[str, ...] = (
    "air_temperature", "precipitation", "climate_zone",  # environmental
    "elevation", "land_cover", "ariolimax_presence",  # land_ecology
    "country", "city_population", "gdp_per_capita", "income_group", "us_county_unemployment",  # socioeconomic
    "georgia_bachelors",
)


def default_suite() -> list[str]:
    """The registered tasks of :data:`DEFAULT_SUITE`, in its order."""
    from geoembed.downstream.tasks import list_tasks

    registered = set(list_tasks("*"))
    return [name for name in DEFAULT_SUITE if name in registered]


def task_family(task: Any) -> str:
    """The task's ``family`` attribute (one of :data:`FAMILIES`), else ``"other"`` (a user's task without one)."""
    return getattr(task, "family", None) or "other"


def task_sources(task: Any) -> tuple[str, ...]:
    """The task's ``sources`` attribute, else the source ids recognised in its provenance record."""
    from geoembed.provenance import sources_from_provenance

    declared = getattr(task, "sources", None)
    if declared:
        return tuple(declared)
    return sources_from_provenance(getattr(task, "provenance", None) or {})


def encoder_training_sources(name: str) -> tuple[str, ...]:
    """``training_sources`` of a registered encoder's model card (empty without a card)."""
    from geoembed.model_card import card_of
    from geoembed.registry import location_encoders

    try:
        card = card_of(location_encoders.get(name))
    except Exception:  # a plugin whose module fails to import is reported when it is built, not here
        return ()
    return tuple(card.training_sources) if card is not None else ()
