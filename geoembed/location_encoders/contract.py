"""The contract every location encoder plugin implements."""

from __future__ import annotations

import torch
from torch import nn

from geoembed.weights import WeightsRecord, weights_identity


class LocationEncoder(nn.Module):
    """Base class of location encoders: ``forward`` maps an ``(N, 2)`` tensor to ``(N, embedding_dim)`` features.

    Input rows are ``[latitude, longitude]`` in degrees (WGS84, EPSG:4326), already validated by
    :func:`geoembed.encode_location`; encoders never have to guess the order. Subclasses set:

    - ``embedding_dim``: the output width;
    - ``weights``: the :class:`~geoembed.weights.WeightsRecord` of loaded pretrained weights, or None when random.
    """

    embedding_dim: int = 0
    weights: WeightsRecord | None = None

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def identity(self) -> str:
        """A short string that changes whenever the outputs could change: class, width and weights checksum.

        Used as a cache key (for example by downstream embedding caches). Random weights hash their values, whatever
        their dtype (:func:`geoembed.weights.weights_identity`, shared by every kind of component).
        """
        weights_id = weights_identity(self.weights, self)
        return f"{type(self).__module__}.{type(self).__qualname__}:{self.embedding_dim}:{weights_id}"

    @property
    def device(self) -> torch.device:
        """Device of the encoder's parameters (CPU for a parameter-free encoder)."""
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")
