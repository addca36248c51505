"""Tiny fakes shared by the tests (torchgeo style): small, seeded, made by the tests, never downloaded."""

#: An open_clip architecture small enough for CPU tests, with CLIP ViT-L/14's 768-d embedding so GeoCLIP's real
#: image head (768 -> 768 -> 512) fits on top of it.
TINY_CLIP = dict(
    embed_dim=768,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1),
)
