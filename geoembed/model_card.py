"""Model cards: what a location encoder is, read without building it.

A :class:`ModelCard` is a frozen record attached to a registered *factory* as its ``card`` attribute. Tools that
describe encoders (``geoembed models``, ``list_location_encoders(pretrained=True)``) read the card from the factory
after importing the plugin's module, and never construct the model or touch its weights. A plugin fills one card
per registered name:

.. code-block:: python

    from geoembed.model_card import ModelCard, with_card

    MY_CARD = ModelCard(
        family="MyEncoder",
        embedding_dim=256,
        input_convention="(lon, lat) degrees, each divided by 180",  # how the ORIGINAL code took coordinates
        training_data="1.2M geotagged photos (MyDataset)",
        license="MIT",
        citation="Doe, J. MyEncoder. NeurIPS 2030.",
        weights=MY_WEIGHTS_RECORD,      # a geoembed.weights.WeightsRecord; None (or ()) when there are no weights
        hyperparameters={"frequencies": 64},
        training_sources=("mp16",),     # ids of geoembed.provenance.SOURCES (the benchmark's leakage guard)
    )

    @with_card(MY_CARD)
    def my_encoder(pretrained: bool = True, weights_path=None): ...

Conventions every card follows:

- ``input_convention`` describes the *original* implementation's input (order, units, scaling). Whatever it says,
  a geoembed :class:`~geoembed.LocationEncoder` always receives ``[lat, lon]`` rows in degrees, validated by
  :func:`geoembed.encode_location`; converting is the encoder's job.
- ``weights`` lists the :class:`~geoembed.weights.WeightsRecord` (s) the factory loads by default. A card with
  weights is *pretrained*; baselines and random-weight variants have none (``training_data`` then says "none").
- ``embedding_dim`` is the width the factory builds by default, or None when it depends on options.
- ``training_sources`` names the data the weights were trained on as ids of :data:`geoembed.provenance.SOURCES`
  (empty for untrained encoders). The benchmark leaves out of its headline comparisons every task built from one of
  them (see :func:`geoembed.provenance.shared_sources`).

A factory without a card still works everywhere; it is listed as "no card" and counts as not pretrained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from geoembed.weights import WeightsRecord

__all__ = ["ModelCard", "with_card", "card_of", "weights_status", "WEIGHTS_STATUSES"]

F = TypeVar("F", bound=Callable[..., Any])

#: Values of :func:`weights_status`: found in geoembed's cache, shipped inside an installed distribution, downloadable
#: (not on this machine yet), or not obtainable automatically (no URL or Hub address; pass ``weights_path=``).
WEIGHTS_STATUSES = ("cached", "shipped", "needs download", "not available", "no weights")


@dataclass(frozen=True)
class ModelCard:
    """What one registered location encoder is: width, original input convention, data, licence, weights.

    Attributes:
        family: the model family or architecture, e.g. ``"GeoCLIP"``, ``"TorchSpatial Sphere2Vec-sphereC"``.
        embedding_dim: output width of the factory's default build (None when it depends on options).
        input_convention: how the original implementation takes coordinates (order, units, scaling), e.g.
            ``"(lon, lat) degrees"``. geoembed's own input is always ``[lat, lon]`` degrees.
        training_data: what the weights were trained on; ``"none"`` for untrained encoders.
        license: licence of the weights (and code), e.g. ``"MIT"``.
        citation: the paper(s) to cite, as one string (several joined by ``"; "``).
        weights: the weights record(s) loaded by default; a single record or None is accepted and normalised to a
            tuple.
        hyperparameters: architecture settings worth showing (read from the checkpoint where it stores them).
        description: one sentence on what the embedding is.
        homepage: the project's code or page.
        notes: anything a user must know (known limitations, what was verified and what was not).
        training_sources: ids (:data:`geoembed.provenance.SOURCES`) of the data the weights were trained on; checked
            against that catalogue. Empty for encoders without trained weights.
    """

    family: str
    embedding_dim: int | None
    input_convention: str
    training_data: str
    license: str
    citation: str
    weights: tuple[WeightsRecord, ...] = ()
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    homepage: str = ""
    notes: str = ""
    training_sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        weights = self.weights
        if weights is None:
            weights = ()
        elif isinstance(weights, WeightsRecord):
            weights = (weights,)
        else:
            weights = tuple(weights)
        if not all(isinstance(w, WeightsRecord) for w in weights):
            raise TypeError(f"ModelCard {self.family!r}: weights must be WeightsRecord objects, got {weights!r}.")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "hyperparameters", dict(self.hyperparameters))
        from geoembed.provenance import check_sources

        object.__setattr__(self, "training_sources",
                           check_sources(self.training_sources, what=f"ModelCard {self.family!r}: training_sources"))
        if self.embedding_dim is not None and (
            isinstance(self.embedding_dim, bool) or not isinstance(self.embedding_dim, int) or self.embedding_dim < 1
        ):
            raise ValueError(f"ModelCard {self.family!r}: embedding_dim must be a positive int or None.")
        for name in ("family", "input_convention", "training_data", "license", "citation"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"ModelCard: {name} must be a non-empty string (use 'none' where nothing applies).")

    @property
    def pretrained(self) -> bool:
        """True when the default build loads pretrained weights."""
        return bool(self.weights)

    @property
    def weights_source(self) -> str:
        """Where the weights come from, in one line ("-" without weights)."""
        return "; ".join(_source_of(w) for w in self.weights) or "-"

    def weights_status(self) -> str:
        """Whether the default weights are on this machine now (see :func:`weights_status`); the worst of several."""
        if not self.weights:
            return "no weights"
        statuses = [weights_status(w) for w in self.weights]
        return max(statuses, key=WEIGHTS_STATUSES.index)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (weights as their names), for reports and ``geoembed models --json``."""
        return {
            "family": self.family,
            "embedding_dim": self.embedding_dim,
            "input_convention": self.input_convention,
            "training_data": self.training_data,
            "license": self.license,
            "citation": self.citation,
            "pretrained": self.pretrained,
            "weights": [w.name for w in self.weights],
            "weights_source": self.weights_source,
            "hyperparameters": dict(self.hyperparameters),
            "description": self.description,
            "homepage": self.homepage,
            "notes": self.notes,
            "training_sources": list(self.training_sources),
        }


def with_card(card: ModelCard) -> Callable[[F], F]:
    """Decorator that attaches ``card`` to a factory as ``factory.card`` (returns the factory unchanged)."""
    if not isinstance(card, ModelCard):
        raise TypeError(f"with_card needs a ModelCard, got {type(card).__name__}.")

    def attach(factory: F) -> F:
        factory.card = card  # type: ignore[attr-defined]
        return factory

    return attach


def card_of(factory: Any) -> ModelCard | None:
    """The :class:`ModelCard` a factory carries as ``.card``, or None. A non-card ``card`` attribute is ignored."""
    card = getattr(factory, "card", None)
    return card if isinstance(card, ModelCard) else None


def weights_status(record: WeightsRecord) -> str:
    """Where ``record``'s file is now, without reading it: ``"cached"``, ``"shipped"``, ``"needs download"``, or
    ``"not available"`` (no automatic source: pass ``weights_path=``).

    Only existence is checked here; the sha256 is verified when the weights are loaded.
    """
    from geoembed.weights import cached_weights_path, package_file_path

    if cached_weights_path(record).is_file():
        return "cached"
    if package_file_path(record) is not None:
        return "shipped"
    if record.url or record.hf_hub:
        return "needs download"
    return "not available"


def _source_of(record: WeightsRecord) -> str:
    places = []
    if record.package_file is not None:
        places.append(f"pip package {record.package_file[0]} ({record.package_file[1]})")
    if record.hf_hub is not None:
        places.append(f"Hugging Face Hub {record.hf_hub[0]}/{record.hf_hub[1]}")
    if record.url:
        places.append(record.url)
    return ", else ".join(places) or record.source
