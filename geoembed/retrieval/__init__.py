"""Retrieval: galleries of candidate places, nearest-place search, photo geo-localization and its evaluation.

One module per job:

- :mod:`~geoembed.retrieval.gallery`: :class:`Gallery`, the galleries registry (``register_gallery``,
  ``create_gallery``, ``list_galleries``; entry point group ``geoembed.galleries``), :func:`load_gallery` and the
  cached gallery embeddings;
- :mod:`~geoembed.retrieval.search`: the retrieval engine, top-k nearest gallery places of query embeddings with
  GeoCLIP's softmax, in chunks, with restrictions (a radius, polygons);
- :mod:`~geoembed.retrieval.geolocate`: where photos were taken;
- :mod:`~geoembed.retrieval.evaluation`: accuracy at 1/25/200/750/2500 km, of photos or of query embeddings;
- :mod:`~geoembed.retrieval.text_maps`: maps of a text's similarity over the globe.
"""
