"""Retrieval: galleries of candidate places, nearest-place search, photo geo-localization and its evaluation."""
