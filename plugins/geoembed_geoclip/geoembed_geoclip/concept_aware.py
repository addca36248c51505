"""The concept-aware GeoCLIP model: image and location towers aligned through a shared concept subspace.

After "Towards Interpretable Geo-localization: a Concept-Aware Global Image-GPS Alignment Framework"
(arXiv:2509.01910). A :class:`ConceptAlignment` module sits between GeoCLIP's image and location encoders:

- the basis is a concept bank's frozen embeddings (``K`` concepts, ``D`` wide, L2-normalised) plus a learnable offset
  initialised at zero, so training can adapt the concepts while they start as (and stay close to) their texts.
  The embeddings are centred first (their mean vector subtracted, ``center=True``): sentence embeddings of a bank
  share a large common component, and without centring every activation vector points along it, so cosines in
  concept space barely tell places apart (on the offline raster benchmark an uncentred MiniLM bank lost 15 points
  of accuracy at 2500 km, with a large spread over seeds; see ``docs/concept-aware.md``). Centring keeps each
  concept's own direction;
- each modality is projected into the bank's space (one linear map per modality; the identity at the start when the
  features already live there, e.g. CLIP image features with a CLIP text bank) and scored against every basis row:
  ``a = normalize(P x) @ basis.T`` is a ``(N, K)`` vector of concept activations;
- retrieval compares the L2-normalised activations, so an image-location score is a cosine in concept space, i.e. a
  sum over concepts. :meth:`ConceptAwareGeoCLIP.concept_contributions` returns that sum's terms: concept ``k``
  contributes ``a_img[k] * a_loc[k] / (|a_img| |a_loc|)`` and the terms add up exactly to the score. That is the
  interpretable decision rule behind a prediction ("this image was placed here because both score high on *desert*
  and *mountain range*").

With ``concepts=None`` the model is plain GeoCLIP: normalised image-head output against normalised location
embeddings.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geoembed.location_encoders.contract import LocationEncoder

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's clamp of the inverse temperature


def concept_basis(concepts: Any, names: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """``(K, D)`` float32 embeddings and ``K`` names from a tensor/array (names optional) or an object with
    ``.embeddings`` and ``.names`` (a :class:`geoembed.concepts.ConceptBank`)."""
    if hasattr(concepts, "embeddings") and hasattr(concepts, "names"):
        embeddings, bank_names = concepts.embeddings, list(concepts.names)
        if names is not None and list(names) != bank_names:
            raise ValueError("names were given together with a concept bank that has its own names; pass one.")
        names = bank_names
    else:
        embeddings = concepts
    matrix = torch.as_tensor(embeddings).detach().to("cpu", torch.float32)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 1:
        raise ValueError(f"concept embeddings must be a (K, D) matrix with K >= 2, got shape {tuple(matrix.shape)}.")
    if not torch.isfinite(matrix).all() or (matrix.norm(dim=1) == 0).any():
        raise ValueError("concept embeddings must be finite and non-zero.")
    names = [f"concept_{i}" for i in range(len(matrix))] if names is None else [str(n) for n in names]
    if len(names) != len(matrix):
        raise ValueError(f"{len(names)} names for {len(matrix)} concept embeddings.")
    return matrix, names


def _projection(in_dim: int, out_dim: int) -> nn.Linear:
    """A linear map into the bank's space; the identity at initialisation when the widths match."""
    layer = nn.Linear(in_dim, out_dim)
    if in_dim == out_dim:
        with torch.no_grad():
            layer.weight.copy_(torch.eye(out_dim))
            layer.bias.zero_()
    return layer


class ConceptAlignment(nn.Module):
    """Concept-Aware Alignment Module: both modalities to ``(N, K)`` concept activations over a learnable basis.

    Args:
        concepts: ``(K, D)`` concept embeddings (tensor/array) or a concept bank (``.embeddings``, ``.names``).
        image_dim: width of the image features that come in (GeoCLIP's head output: 512).
        location_dim: width of the location embeddings that come in (GeoCLIP: 512).
        names: concept names when ``concepts`` is a bare matrix.
    """

    def __init__(self, concepts: Any, image_dim: int, location_dim: int, *, names: Sequence[str] | None = None,
                 center: bool = True, project_out_mean: bool = False):
        super().__init__()
        embeddings, self.names = concept_basis(concepts, names)
        if project_out_mean and not center:
            raise ValueError("project_out_mean=True needs center=True (it removes the direction of the bank's mean).")
        mean = embeddings.mean(dim=0)
        if center:
            embeddings = embeddings - mean
        self.register_buffer("concept_embeddings", F.normalize(embeddings, dim=1))  # frozen
        if project_out_mean:
            # Projected vectors lose their component along the bank's mean direction m: then v . (t - m) = v . t for
            # any text vector t, so a raw (uncentred) text embedding of ANY concept scores a place exactly as its
            # centred version does, up to a positive factor per concept (see :meth:`project_locations`).
            self.register_buffer("mean_direction", F.normalize(mean, dim=0))
        self.offset = nn.Parameter(torch.zeros_like(embeddings))
        self.image_projection = _projection(image_dim, embeddings.shape[1])
        self.location_projection = _projection(location_dim, embeddings.shape[1])

    @property
    def num_concepts(self) -> int:
        return int(self.concept_embeddings.shape[0])

    def basis(self) -> torch.Tensor:
        """The current ``(K, D)`` basis: frozen concept embeddings plus the learned offset."""
        return self.concept_embeddings + self.offset

    @property
    def projects_out_mean(self) -> bool:
        return hasattr(self, "mean_direction")

    def _to_concept_space(self, projected: torch.Tensor) -> torch.Tensor:
        if self.projects_out_mean:
            direction = self.mean_direction.to(projected.dtype)
            projected = projected - (projected @ direction)[..., None] * direction
        return F.normalize(projected, dim=-1)

    def image_vectors(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` unit vectors of image (or description) features in the bank's embedding space."""
        return self._to_concept_space(self.image_projection(features))

    def location_vectors(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` unit vectors of location embeddings in the bank's embedding space (e.g. MiniLM's text space):
        any text vector of that space scores them by cosine, whether it is in the bank or not."""
        return self._to_concept_space(self.location_projection(embeddings))

    def location_text_vectors(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` unit vectors: each place's L2-normalised concept activations mapped back through the basis
        (``normalize(a) @ basis``, less the bank's mean direction when the model removes it). Before the final
        normalisation, its dot product with a unit text vector ``t`` of the bank's space is exactly the model's
        retrieval score of ``t`` read as an image/description (the cosine of the two activation vectors) times a
        constant per text, so any text of that space scores places the way the model compares them; as a cosine
        it is that up to the vector's norm (which varies by a few percent from place to place)."""
        activations = F.normalize(self.location_activations(embeddings), dim=-1)
        return self._to_concept_space(activations @ self.basis())  # without the mean direction, if removed

    def image_activations(self, features: torch.Tensor) -> torch.Tensor:
        return self.image_vectors(features) @ self.basis().T

    def location_activations(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.location_vectors(embeddings) @ self.basis().T


class ConceptAwareGeoCLIP(nn.Module):
    """GeoCLIP's two towers, optionally aligned through a :class:`ConceptAlignment` module.

    Args:
        image_head: maps precomputed image features (a frozen backbone's output) to the image embedding; GeoCLIP's
            is ``Linear(F, F), ReLU, Linear(F, 512)``. ``nn.Identity()`` when the features go straight to concepts.
        location_encoder: a :class:`geoembed.LocationEncoder` (pretrained GeoCLIP in the paper).
        concepts: the alignment module, or None for plain GeoCLIP.
        temperature: initial temperature (GeoCLIP: 0.07); ``learn_temperature`` makes it a parameter.
    """

    def __init__(self, image_head: nn.Module, location_encoder: LocationEncoder,
                 concepts: ConceptAlignment | None = None, *, temperature: float = 0.07,
                 learn_temperature: bool = True):
        super().__init__()
        if not 0 < temperature < 1e3:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.image_head = image_head
        self.location_encoder = location_encoder
        self.concepts = concepts
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)), requires_grad=learn_temperature)

    @property
    def concept_names(self) -> list[str]:
        return self._require_concepts().names

    def _require_concepts(self) -> ConceptAlignment:
        if self.concepts is None:
            raise ValueError("This is a plain GeoCLIP model (no concept module): it has no concepts to explain with.")
        return self.concepts

    def scale(self) -> torch.Tensor:
        """The inverse temperature's log, clamped as CLIP does so training cannot blow it up."""
        return self.logit_scale.clamp(max=MAX_LOGIT_SCALE)

    # -- the two towers ----------------------------------------------------------------------------------------------
    def image_space(self, features: torch.Tensor) -> torch.Tensor:
        """Unnormalised image vectors in the retrieval space (concept activations when concept-aware)."""
        z = self.image_head(features)
        return self.concepts.image_activations(z) if self.concepts is not None else z

    def location_space(self, location_embeddings: torch.Tensor) -> torch.Tensor:
        """Unnormalised location vectors in the retrieval space, from the location encoder's outputs."""
        if self.concepts is not None:
            return self.concepts.location_activations(location_embeddings)
        return location_embeddings

    def embed_images(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, F)`` precomputed image features to L2-normalised retrieval embeddings."""
        return F.normalize(self.image_space(features), dim=-1)

    def embed_locations(self, latlon: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` ``[lat, lon]`` degrees to L2-normalised retrieval embeddings."""
        return F.normalize(self.location_space(self.location_encoder(latlon.float())), dim=-1)

    def forward(self, features: torch.Tensor, latlon: torch.Tensor) -> torch.Tensor:
        """``(N, M)`` logits of every image against every location."""
        return self.scale().exp() * self.embed_images(features) @ self.embed_locations(latlon).T

    # -- interpretation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def concept_contributions(self, features: torch.Tensor, latlon: torch.Tensor) -> torch.Tensor:
        """``(N, K)``: concept ``k``'s share of the cosine score of image ``i`` with location ``i``.

        Row ``i`` sums to the score of the pair (``embed_images(f) . embed_locations(g)``), so the largest terms
        are the concepts that drove the match.
        """
        self._require_concepts()
        features, latlon = self._as_inputs(features, latlon)
        return self.embed_images(features) * self.embed_locations(latlon)

    def _as_inputs(self, features: Any, latlon: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Arrays or tensors, on this model's device; one location per image."""
        device = self.logit_scale.device
        features, latlon = (x.to(device, torch.float32) if isinstance(x, torch.Tensor)
                            else torch.tensor(np.asarray(x, dtype=np.float32), device=device) for x in (features, latlon))
        if features.ndim != 2 or latlon.ndim != 2 or latlon.shape[1] != 2 or len(features) != len(latlon):
            raise ValueError(f"Expected (N, F) features and (N, 2) [lat, lon] (one location per image), got "
                             f"{tuple(features.shape)} and {tuple(latlon.shape)}.")
        return features, latlon

    def explain(self, features: torch.Tensor, latlon: torch.Tensor, top: int = 5):
        """The ``top`` concepts behind each image-location pair, as a pandas DataFrame.

        Columns: ``pair`` (row of the input), ``rank``, ``concept``, ``contribution``, ``image_activation``,
        ``location_activation`` (the concept's raw activations in either tower) and ``score`` (the pair's cosine).
        """
        import pandas as pd

        contributions = self.concept_contributions(features, latlon)
        features, latlon = self._as_inputs(features, latlon)
        with torch.no_grad():
            image_act = self.image_space(features)
            location_act = self.location_space(self.location_encoder(latlon.float()))
        names = self.concept_names
        top = max(1, min(int(top), len(names)))
        values, order = contributions.topk(top, dim=1)
        rows = []
        for pair in range(len(contributions)):
            score = float(contributions[pair].sum())
            for rank, (value, k) in enumerate(zip(values[pair].tolist(), order[pair].tolist()), start=1):
                rows.append({"pair": pair, "rank": rank, "concept": names[k], "contribution": value,
                             "image_activation": float(image_act[pair, k]),
                             "location_activation": float(location_act[pair, k]), "score": score})
        return pd.DataFrame(rows)


def geoclip_head(in_dim: int, out_dim: int = 512) -> nn.Sequential:
    """GeoCLIP's image head shape, ``Linear(F, F), ReLU, Linear(F, out)`` (keys ``0.*`` and ``2.*`` as published)."""
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, out_dim))
