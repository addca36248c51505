"""The plugin's ``geoembed`` subcommands, registered as entry points of the ``geoembed.commands`` group.

Each module is one command with ``name``, ``help``, ``description``, ``epilog``, ``add_arguments(parser)`` and
``run(args) -> int`` (the contract of :mod:`geoembed.cli`): ``geoembed train`` and ``geoembed evaluate``.
"""
