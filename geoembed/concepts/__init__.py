"""Concept banks: human-readable concepts with vectors in an embedding space, and explanations of places with them."""

from geoembed.concepts.bank import ConceptBank, read_concept_file
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
    "OpenCLIPTextEncoder",
    "SentenceTransformerTextEncoder",
    "TextEncoder",
    "create_text_encoder",
    "encode_texts",
    "get_text_encoder",
    "list_text_encoders",
    "read_concept_file",
    "register_text_encoder",
]
