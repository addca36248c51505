"""Location encoders: the contract every encoder implements, the built-in baselines, and encoding at every scale.

- ``contract.py``: :class:`~geoembed.location_encoders.contract.LocationEncoder`, what a plugin subclasses;
- ``baselines.py``: coordinate baselines (``latlon``, ``xyz``, ``sphere_harmonics``, ``rff``), registered as
  built-in plugins;
- ``encode.py``: the one encode pipeline: :func:`~geoembed.location_encoders.encode.iter_embeddings` (the batched
  loop and its checks), :func:`~geoembed.location_encoders.encode.encode_location` (arrays in, embeddings out) and
  :func:`~geoembed.location_encoders.encode.encode_file` (files in, files out; ``geoembed encode``);
- ``streaming.py`` and ``parallel.py``: the chunked reader/writer and the Dask route ``encode_file`` takes for files
  larger than memory and for clusters.

A new location encoder lives in its own distribution and registers through the ``geoembed.location_encoders``
entry-point group (docs/plugins.md); the reference plugin ``plugins/geoembed_geoclip`` shows how.
"""
