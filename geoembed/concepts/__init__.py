"""Concept banks: human-readable concepts with vectors in an embedding space, and explanations of places with them.

- :mod:`~geoembed.concepts.bank`: :class:`ConceptBank` (validation, scoring, saving), concept files, loading by name;
- :mod:`~geoembed.concepts.text_encoders`: the text encoder registry (MiniLM offline, open_clip, sentence-transformers)
  and the on-disk concept embedding cache;
- :mod:`~geoembed.concepts.geodata`: concept activation vectors fitted on labelled places, and their evaluation;
- :mod:`~geoembed.concepts.projection`: concept projections (location space -> text space) and their registry;
- :mod:`~geoembed.concepts.scoring`: the route from places to a bank's space, standardised scores against reference
  places, and SpLiCE-style sparse decomposition;
- :mod:`~geoembed.concepts.probe`: concept-level explanations of downstream tasks (:func:`explain_task`);
- :mod:`~geoembed.concepts.explain`: top concepts of places, sparse explanations, concept profiles and concept maps;
- :mod:`~geoembed.concepts.builtin`: the shipped banks (``geography``, ``generic``); the GeoCLIP plugin adds
  ``geodata.geoclip``, the ``geoclip`` text encoder and the ``geoclip-minilm`` projection through the same registries.
"""

from geoembed.concepts.bank import ConceptBank, fit_geodata_bank, load_concept_bank, location_space, read_concept_file
from geoembed.concepts.explain import (
    concept_map,
    concept_profile,
    explain_location,
    explain_locations,
    sparse_explanation,
)
from geoembed.concepts.projection import (
    ConceptProjection,
    LinearConceptProjection,
    find_concept_projection,
    get_concept_projection,
)
from geoembed.concepts.probe import TaskExplanation, explain_task
from geoembed.concepts.scoring import ConceptScorer, sparse_decompose
from geoembed.concepts.geodata import evaluate_geodata_concepts, fit_concept_vectors
from geoembed.concepts.text_encoders import (
    OpenCLIPTextEncoder,
    SentenceTransformerTextEncoder,
    TextEncoder,
    create_text_encoder,
    encode_texts,
    get_text_encoder,
    list_text_encoders,
    register_text_encoder,
)

__all__ = [
    "ConceptBank",
    "ConceptProjection",
    "ConceptScorer",
    "LinearConceptProjection",
    "TaskExplanation",
    "OpenCLIPTextEncoder",
    "SentenceTransformerTextEncoder",
    "TextEncoder",
    "concept_map",
    "concept_profile",
    "create_text_encoder",
    "encode_texts",
    "evaluate_geodata_concepts",
    "explain_location",
    "explain_locations",
    "explain_task",
    "fit_concept_vectors",
    "find_concept_projection",
    "fit_geodata_bank",
    "get_concept_projection",
    "get_text_encoder",
    "list_text_encoders",
    "load_concept_bank",
    "location_space",
    "read_concept_file",
    "register_text_encoder",
    "sparse_decompose",
    "sparse_explanation",
]
