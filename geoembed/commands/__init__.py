"""Subcommands of the ``geoembed`` CLI: one module each, discovered by :mod:`geoembed.cli`."""
