"""The taxabind plugin's tests run offline with a private, empty geoembed cache, like geoembed's own tests."""

from geoembed.testing import offline_and_isolated_cache  # noqa: F401  (autouse)
