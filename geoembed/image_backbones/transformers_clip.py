"""Read CLIP checkpoints saved by Hugging Face transformers (``CLIPModel``) into open_clip's layout.

The GeoCLIP reference package loads ``openai/clip-vit-large-patch14`` with transformers, so many GeoCLIP users already
hold OpenAI's ViT-L/14 in that layout (``model.safetensors`` in the Hugging Face cache). The weights are the same as
open_clip's ``ViT-L-14`` / ``openai``; only the names differ (and q, k, v are separate matrices), so a renaming is all
that is needed to use them offline. The mapping follows transformers' ``modeling_clip.py`` and open_clip's
``model.py``/``transformer.py``; the test builds both models with the same random weights and compares their outputs.
"""

from __future__ import annotations

from pathlib import Path

import torch

#: transformers repositories holding OpenAI's CLIP weights, by open_clip architecture (tag "openai").
OPENAI_TRANSFORMERS_REPOS = {
    "ViT-B-32": "openai/clip-vit-base-patch32",
    "ViT-B-16": "openai/clip-vit-base-patch16",
    "ViT-L-14": "openai/clip-vit-large-patch14",
    "ViT-L-14-336": "openai/clip-vit-large-patch14-336",
}
TRANSFORMERS_FILENAMES = ["model.safetensors", "pytorch_model.bin"]

_LAYER_NAMES = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def checkpoint_keys(path: str | Path) -> list[str]:
    """The tensor names in a checkpoint, read lazily (safetensors header, or a memory-mapped torch zip file)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                return list(handle.keys())
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return []  # not readable this way: open_clip's own loader reports the problem
    return list(state) if isinstance(state, dict) else []


def is_transformers_clip(keys: list[str]) -> bool:
    return "vision_model.embeddings.class_embedding" in keys and "visual_projection.weight" in keys


def to_open_clip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a transformers ``CLIPModel`` state dict to open_clip's ``CLIP`` (fusing q, k, v into ``in_proj``)."""
    out: dict[str, torch.Tensor] = {
        "visual.class_embedding": state["vision_model.embeddings.class_embedding"],
        "visual.positional_embedding": state["vision_model.embeddings.position_embedding.weight"],
        "visual.conv1.weight": state["vision_model.embeddings.patch_embedding.weight"],
        "visual.ln_pre.weight": state["vision_model.pre_layrnorm.weight"],  # sic: transformers' spelling
        "visual.ln_pre.bias": state["vision_model.pre_layrnorm.bias"],
        "visual.ln_post.weight": state["vision_model.post_layernorm.weight"],
        "visual.ln_post.bias": state["vision_model.post_layernorm.bias"],
        "visual.proj": state["visual_projection.weight"].T.contiguous(),
        "token_embedding.weight": state["text_model.embeddings.token_embedding.weight"],
        "positional_embedding": state["text_model.embeddings.position_embedding.weight"],
        "ln_final.weight": state["text_model.final_layer_norm.weight"],
        "ln_final.bias": state["text_model.final_layer_norm.bias"],
        "text_projection": state["text_projection.weight"].T.contiguous(),
    }
    if "logit_scale" in state:
        out["logit_scale"] = state["logit_scale"]
    for tower, prefix in (("vision_model", "visual.transformer"), ("text_model", "transformer")):
        layer = 0
        while f"{tower}.encoder.layers.{layer}.layer_norm1.weight" in state:
            source = f"{tower}.encoder.layers.{layer}"
            target = f"{prefix}.resblocks.{layer}"
            for old, new in _LAYER_NAMES.items():
                for kind in ("weight", "bias"):
                    out[f"{target}.{new}.{kind}"] = state[f"{source}.{old}.{kind}"]
            for kind in ("weight", "bias"):
                out[f"{target}.attn.in_proj_{kind}"] = torch.cat(
                    [state[f"{source}.self_attn.{p}_proj.{kind}"] for p in ("q", "k", "v")]
                )
            layer += 1
    return out
