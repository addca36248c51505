"""Registries of pluggable components, filled from code and from Python entry points.

One :class:`Registry` exists per kind of plugin (image backbones, location encoders, concept banks...). A registry
maps a name to a *factory*: a callable that builds the component from keyword arguments. Names come from three
places, in this order of precedence:

1. ``register_<kind>(name, factory)`` calls made at run time (the user's own explicit choice);
2. built-in plugins: entry points declared by geoembed's own distribution (the baselines, the built-in tasks...);
3. third-party plugins: entry points of other installed distributions, in the group ``geoembed.<kind>s``.

Discovery reads entry point metadata only; a plugin's code is imported the first time it is used, so listing plugins
stays cheap. Conflicts are resolved deterministically and always warned about: a third-party plugin can never
shadow a built-in name, and between two third-party plugins the distribution whose name sorts first wins.

The ``commands`` registry (group ``geoembed.commands``) holds CLI subcommands added by plugins: objects with a name,
help, argument setup and run function rather than factories (:func:`check_command`, :mod:`geoembed.cli`).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.metadata as importlib_metadata
import re
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from geoembed.errors import PluginLoadError, PluginWarning, UnknownPluginError

#: The distribution that ships geoembed itself; its entry points are the built-in plugins.
CORE_DISTRIBUTION = "pygeoembed"

_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

BUILTIN = "builtin"
RUNTIME = "runtime"
THIRD_PARTY = "third-party"


@dataclass
class PluginSpec:
    """Where one registered name comes from, and its factory once loaded."""

    name: str
    kind: str
    origin: str  # RUNTIME, BUILTIN or THIRD_PARTY
    distribution: str | None = None
    target: str | None = None  # "module:attr" of an entry point
    _factory: Callable[..., Any] | None = field(default=None, repr=False)
    _entry_point: importlib_metadata.EntryPoint | None = field(default=None, repr=False)
    #: what a loaded entry point must be: a callable factory (None), or check(obj, name) -> what is wrong, or None
    _check: Callable[[Any, str], str | None] | None = field(default=None, repr=False)

    @property
    def loaded(self) -> bool:
        return self._factory is not None

    def load(self) -> Callable[..., Any]:
        """Import the plugin's code (once) and return its factory."""
        if self._factory is None:
            assert self._entry_point is not None
            try:
                factory = self._entry_point.load()
            except (Exception, SystemExit) as exc:  # any import-time failure of somebody else's code, sys.exit too
                raise PluginLoadError(
                    f"{self.kind} plugin {self.name!r} from distribution {self.distribution!r} failed to load "
                    f"({self.target}): {type(exc).__name__}: {exc}. Reinstall or upgrade that distribution, or "
                    f"uninstall it if you do not use it."
                ) from exc
            problem = self._check(factory, self.name) if self._check is not None else (
                None if callable(factory) else f"a {type(factory).__name__}, not a callable factory")
            if problem:
                raise PluginLoadError(
                    f"{self.kind} plugin {self.name!r} from distribution {self.distribution!r} points at "
                    f"{self.target}, which is {problem}."
                )
            self._factory = factory
        return self._factory


class Registry:
    """Names to factories for one kind of plugin, with lazy, cached entry point discovery.

    ``check``, for kinds whose plugins are objects rather than factories (CLI commands), replaces the "is it
    callable" test: ``check(obj, name)`` gets the loaded object and its registered name and returns a description of
    what is wrong with it, or None.
    """

    def __init__(self, kind: str, group: str, *, plural: str | None = None,
                 check: Callable[[Any, str], str | None] | None = None):
        self.kind = kind  # human-readable, e.g. "location encoder"
        self.group = group  # entry point group, e.g. "geoembed.location_encoders"
        self.plural = plural or f"{kind}s"  # "galleries", for messages and list_<plural>()
        self.check = check
        self._runtime: dict[str, PluginSpec] = {}
        self._discovered: dict[str, PluginSpec] | None = None
        self._built: dict[tuple, Any] = {}  # create_cached: (name, device, options) -> ready component
        self._origins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # built object -> its PluginSpec
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------------------------------
    def register(self, name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
        """Register ``factory`` under ``name``; without ``factory``, return a decorator that does it.

        Registering a name that already exists raises unless ``overwrite=True``: replacing a component is allowed,
        but never by accident.
        """
        _check_name(name, self.kind)
        if factory is None:

            def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
                self.register(name, func, overwrite=overwrite)
                return func

            return decorator
        problem = self.check(factory, name) if self.check is not None else None
        if problem:
            raise TypeError(f"register_{self._suffix}({name!r}, ...) got {problem}.")
        if self.check is None and not callable(factory):
            raise TypeError(
                f"register_{self._suffix}({name!r}, ...) needs a callable that builds the {self.kind} "
                f"(a class or a function), got {type(factory).__name__}. To register a ready-made object, pass "
                f"`lambda **kwargs: obj`."
            )
        with self._lock:
            existing = self._runtime.get(name) or self._all_discovered().get(name)
            if existing is not None and not overwrite:
                raise ValueError(
                    f"A {self.kind} named {name!r} is already registered (from {_describe(existing)}). Pick another "
                    f"name, or pass overwrite=True to replace it."
                )
            self._runtime[name] = PluginSpec(name, self.kind, RUNTIME, _factory=factory, _check=self.check)
        return factory

    def unregister(self, name: str) -> None:
        """Remove a name registered at run time (entry point plugins are removed by uninstalling them)."""
        with self._lock:
            if name not in self._runtime:
                raise self._unknown(name)
            del self._runtime[name]

    # -- lookup -------------------------------------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching a shell-style wildcard pattern (``"geoclip*"``)."""
        with self._lock:
            every = set(self._runtime) | set(self._all_discovered())
        return sorted(n for n in every if fnmatch.fnmatchcase(n.lower(), pattern.lower()))

    def spec(self, name: str) -> PluginSpec:
        """The :class:`PluginSpec` of ``name``; unknown names raise with close matches."""
        if not isinstance(name, str):
            raise TypeError(f"A {self.kind} name must be a string, got {type(name).__name__}.")
        with self._lock:
            found = self._runtime.get(name) or self._all_discovered().get(name)
        if found is None:
            raise self._unknown(name)
        return found

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under ``name`` (importing the plugin on first use)."""
        return self.spec(name).load()

    def create(self, name: str, **kwargs: Any) -> Any:
        """Build the component registered under ``name`` with ``kwargs``."""
        spec = self.spec(name)
        built = spec.load()(**kwargs)
        try:  # remembered so that errors about the component's output can name its distribution
            self._origins[built] = spec
        except TypeError:  # unhashable or not weak-referenceable: nothing to remember it by
            pass
        return built

    def origin(self, obj: Any) -> PluginSpec | None:
        """The spec ``obj`` was built from by :meth:`create`, or None (built elsewhere, or another kind)."""
        try:
            return self._origins.get(obj)
        except TypeError:
            return None

    def create_cached(self, name: str, *, expected_type: type, device: Any = None, **kwargs: Any) -> Any:
        """Build ``name`` once per (device, options) and reuse it afterwards: geoembed's one cache of built models.

        Used for models, whose weights are expensive to load; the factory must return an ``expected_type``. Torch
        modules are moved to ``device`` and set to eval mode; other components (text encoders) get ``device`` as
        their factory's ``device=`` option when it is not None.
        """
        import torch

        is_module = isinstance(expected_type, type) and issubclass(expected_type, torch.nn.Module)
        key = (name, str(device), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        with self._lock:
            built = self._built.get(key)
            if built is None:
                options = kwargs if is_module or device is None else {**kwargs, "device": device}
                built = self.create(name, **options)
                if not isinstance(built, expected_type):
                    where = expected_type.__module__.split(".")
                    public = "geoembed.concepts" if where[:2] == ["geoembed", "concepts"] else "geoembed"
                    raise TypeError(
                        f"The {self.kind} plugin {name!r} returned a {type(built).__name__}, not a "
                        f"{public}.{expected_type.__name__}; its factory must build one."
                    )
                if is_module:
                    built = built.to(device).eval()
                self._built[key] = built
        return built

    def clear_cached(self) -> None:
        """Forget components built by :meth:`create_cached` (frees their memory)."""
        with self._lock:
            self._built.clear()

    def specs(self) -> list[PluginSpec]:
        """Every registered spec, sorted by name."""
        return [self.spec(n) for n in self.names()]

    def refresh(self) -> None:
        """Forget discovered entry points, so that plugins installed since are found."""
        with self._lock:
            self._discovered = None

    # -- internals ----------------------------------------------------------------------------------------------
    @property
    def _suffix(self) -> str:
        return self.kind.replace(" ", "_")

    def _unknown(self, name: str) -> UnknownPluginError:
        known = self.names()
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        close += [k for k in known if str(name).lower() in k.lower() and k not in close][: 3 - len(close)]
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = (f" See all {len(known)} names with `geoembed plugins --kind {self._suffix}` in a shell, or "
                   f"geoembed.list_{self.plural.replace(' ', '_')}() in Python." if known else "")
        install = missing_plugin_hint(self.group, str(name), self.kind)
        install = f" {install}" if install else ""
        return UnknownPluginError(
            f"Unknown {self.kind} {name!r}.{install}{hint}{listing} Third-party {self.plural} register under the "
            f"entry point group {self.group!r}."
        )

    def _all_discovered(self) -> dict[str, PluginSpec]:
        if self._discovered is None:
            self._discovered = _discover(self.kind, self.group, self.check)
        return self._discovered


#: Names the core uses by default (``"geoclip"``...) that come from a separate plugin distribution, with the command
#: that installs it: a missing plugin is then reported with what to install, not only as an unknown name.
KNOWN_PLUGIN_NAMES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "geoembed-geoclip": (
        "pip install geoembed-geoclip (from a source checkout: pip install -e plugins/geoembed_geoclip)",
        {
            "geoembed.location_encoders": ("geoclip", "geoclip-bf16", "geoclip-random"),
            "geoembed.image_backbones": ("geoclip",),
            "geoembed.text_encoders": ("geoclip",),
            "geoembed.concept_banks": ("geodata.geoclip",),
            "geoembed.commands": ("train", "evaluate"),
        },
    ),
}


def missing_plugin_hint(group: str, name: str, kind: str) -> str | None:
    """For a name a known plugin distribution provides: which one, and how to install it (None for other names)."""
    for distribution, (install, names) in KNOWN_PLUGIN_NAMES.items():
        if name in names.get(group, ()):
            try:
                importlib_metadata.distribution(distribution)
            except importlib_metadata.PackageNotFoundError:
                return (f"{kind.capitalize()} {name!r} comes from the plugin distribution {distribution!r}, which is "
                        f"not installed: {install}.")
            return (f"{kind.capitalize()} {name!r} comes from the plugin distribution {distribution!r}, which is "
                    f"installed but does not register it; reinstall or upgrade it: {install}.")
    return None


def describe_plugin(obj: Any, kind: str | None = None) -> str:
    """Who made ``obj``, for error messages: its registered name and the distribution that installed it.

    Components built by name are looked up in the registries; instances built elsewhere are traced from their
    class's module to the installed distribution that provides it.
    """
    cls = type(obj)
    where = f"{cls.__module__}.{cls.__qualname__}"
    for registry in REGISTRIES.values():
        spec = registry.origin(obj)
        if spec is not None:
            if spec.origin == RUNTIME:
                source = f"registered at run time; class {where}"
                dist = distribution_of_module(cls.__module__)
                if dist:
                    source += f" from distribution {dist!r}"
            else:
                source = f"from distribution {spec.distribution!r}, {spec.target}"
            return f"{spec.kind} {spec.name!r} ({source})"
    dist = distribution_of_module(cls.__module__)
    from_dist = f" from distribution {dist!r}" if dist else " (not from an installed distribution)"
    return f"{kind + ' ' if kind else ''}{where}{from_dist}"


def distribution_of_module(module: str) -> str | None:
    """The installed distribution providing the top-level package of ``module``, or None (scripts, ``__main__``).

    Entry points are asked first (they also cover editable installs, whose file lists name no package), then the
    file lists of installed distributions.
    """
    top = module.split(".", 1)[0]
    for registry in list(REGISTRIES.values()):
        with registry._lock:
            specs = list(registry._all_discovered().values())
        for spec in specs:
            if spec.target and spec.distribution and spec.target.split(":", 1)[0].split(".", 1)[0] == top:
                return spec.distribution
    try:
        names = importlib_metadata.packages_distributions().get(top) or []
    except Exception:  # broken metadata of some unrelated distribution
        return None
    return sorted(names)[0] if names else None


def _check_name(name: Any, kind: str) -> None:
    if not isinstance(name, str) or not _VALID_NAME.match(name) or len(name) > 200:  # names become file names
        raise ValueError(
            f"Invalid {kind} name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit, "
            f"at most 200 characters (e.g. 'my_encoder' or 'arch.tag')."
        )


def _describe(spec: PluginSpec) -> str:
    if spec.origin == RUNTIME:
        return "a register call at run time"
    return f"distribution {spec.distribution!r}, {spec.target}"


def _entry_points(group: str) -> Iterable[importlib_metadata.EntryPoint]:
    return importlib_metadata.entry_points(group=group)


def _discover(kind: str, group: str, check: Callable[[Any, str], str | None] | None = None) -> dict[str, PluginSpec]:
    """Read the entry points of ``group`` into specs, resolving duplicate names deterministically."""
    candidates: list[PluginSpec] = []
    seen: set[tuple[str, str, str]] = set()
    for ep in _entry_points(group):
        dist = ep.dist.name if getattr(ep, "dist", None) is not None else "<unknown distribution>"
        key = (ep.name, dist, ep.value)
        if key in seen:  # the same distribution visible twice on sys.path (e.g. editable + site-packages)
            continue
        seen.add(key)
        try:
            _check_name(ep.name, kind)
        except ValueError as exc:
            warnings.warn(f"Skipping {kind} plugin from distribution {dist!r}: {exc}", PluginWarning, stacklevel=3)
            continue
        origin = BUILTIN if _normalize(dist) == _normalize(CORE_DISTRIBUTION) else THIRD_PARTY
        candidates.append(PluginSpec(ep.name, kind, origin, dist, ep.value, _entry_point=ep, _check=check))

    # Built-ins first, then third-party distributions by name: the first claim on a name wins.
    candidates.sort(key=lambda s: (s.origin != BUILTIN, _normalize(s.distribution or ""), s.target or ""))
    chosen: dict[str, PluginSpec] = {}
    for spec in candidates:
        winner = chosen.get(spec.name)
        if winner is None:
            chosen[spec.name] = spec
            continue
        if winner.origin == BUILTIN and spec.origin != BUILTIN:
            why = "built-in plugins cannot be shadowed"
        else:
            why = "the distribution whose name sorts first wins"
        warnings.warn(
            f"Two {kind} plugins claim the name {spec.name!r}: {_describe(winner)} is used, {_describe(spec)} is "
            f"ignored ({why}). To use the ignored one, register it under another name with "
            f"register_{kind.replace(' ', '_')}('other_name', factory).",
            PluginWarning,
            stacklevel=3,
        )
    return chosen


def _normalize(dist_name: str) -> str:
    return re.sub(r"[-_.]+", "-", dist_name).lower()


# -- the registries of geoembed ----------------------------------------------------------------------------------
image_backbones = Registry("image backbone", "geoembed.image_backbones")
location_encoders = Registry("location encoder", "geoembed.location_encoders")
concept_banks = Registry("concept bank", "geoembed.concept_banks")
text_encoders = Registry("text encoder", "geoembed.text_encoders")
tasks = Registry("task", "geoembed.tasks")
galleries = Registry("gallery", "geoembed.galleries", plural="galleries")  # geoembed/retrieval/gallery.py


def check_command(obj: Any, name: str) -> str | None:
    """What a ``geoembed.commands`` plugin registered as ``name`` lacks, or None: a module or object with ``name``
    (the same as the registered one) and ``help`` strings, ``add_arguments(parser)`` and ``run(args) -> int``
    (see :mod:`geoembed.cli`)."""
    missing = [a for a in ("name", "help") if not isinstance(getattr(obj, a, None), str)]
    missing += [a for a in ("add_arguments", "run") if not callable(getattr(obj, a, None))]
    if missing:
        return (f"a {type(obj).__name__} without {', '.join(missing)} (a command needs name and help strings, "
                f"add_arguments(parser) and run(args))")
    if obj.name != name:
        return f"a command that calls itself {obj.name!r}; its name and the registered name must be the same"
    return None


#: CLI subcommands added by plugins (``geoembed train``...); the core's own commands are modules of geoembed.commands.
commands = Registry("command", "geoembed.commands", check=check_command)

concept_projections = Registry("concept projection", "geoembed.concept_projections")

#: Every registry by its entry point group, for tools that walk all kinds (``geoembed plugins``).
REGISTRIES: dict[str, Registry] = {
    r.group: r
    for r in (image_backbones, location_encoders, concept_banks, text_encoders, tasks, galleries, concept_projections,
              commands)
}


def add_registry(registry: Registry) -> Registry:
    """Deprecated (nothing used it): every kind of plugin is defined above and listed in :data:`REGISTRIES`."""
    warnings.warn("geoembed.registry.add_registry is deprecated and will be removed: every kind of plugin is defined "
                  "in geoembed.registry and listed in geoembed.registry.REGISTRIES.", DeprecationWarning, stacklevel=2)
    REGISTRIES[registry.group] = registry
    return registry


def refresh_plugins() -> None:
    """Rediscover entry point plugins of every kind (after installing or removing a plugin distribution)."""
    importlib.invalidate_caches()  # let the import system see distributions installed since start-up
    for registry in REGISTRIES.values():
        registry.refresh()


def load_all_plugins() -> dict[str, list[PluginSpec]]:
    """Import every registered plugin; broken ones emit a :class:`PluginWarning` and are reported, not raised.

    Returns ``{"ok": [...], "broken": [...]}``. Use it to check an installation (``geoembed plugins`` does).
    """
    report: dict[str, list[PluginSpec]] = {"ok": [], "broken": []}
    for registry in REGISTRIES.values():
        for spec in registry.specs():
            try:
                spec.load()
            except PluginLoadError as exc:
                warnings.warn(str(exc), PluginWarning, stacklevel=2)
                report["broken"].append(spec)
            else:
                report["ok"].append(spec)
    return report


# -- the public per-kind functions (documented contract: register_<kind>, create_<kind>, list_<kind>s) -----------
def register_image_backbone(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register an image backbone factory under ``name`` (usable as a decorator)."""
    return image_backbones.register(name, factory, overwrite=overwrite)


def create_image_backbone(name: str, **kwargs: Any) -> Any:
    """Build the image backbone registered under ``name``."""
    return image_backbones.create(name, **kwargs)


def list_image_backbones(pattern: str = "*") -> list[str]:
    """Names of registered image backbones matching a wildcard pattern."""
    return image_backbones.names(pattern)


def register_location_encoder(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register a location encoder factory under ``name`` (usable as a decorator).

    The factory takes keyword arguments (at least ``pretrained`` when it has weights) and returns a
    :class:`geoembed.LocationEncoder`.
    """
    return location_encoders.register(name, factory, overwrite=overwrite)


def create_location_encoder(name: str, **kwargs: Any) -> Any:
    """Build the location encoder registered under ``name``, e.g. ``create_location_encoder("geoclip")``."""
    return location_encoders.create(name, **kwargs)


def list_location_encoders(pattern: str = "*", *, pretrained: bool | None = None) -> list[str]:
    """Names of registered location encoders matching a wildcard pattern.

    ``pretrained=True`` keeps encoders whose model card (:mod:`geoembed.model_card`) lists pretrained weights,
    ``pretrained=False`` the others (baselines, random weights, factories without a card). Filtering imports the
    plugins' modules but builds no model; a plugin that fails to import is left out with a ``PluginWarning``.
    """
    names = location_encoders.names(pattern)
    if pretrained is None:
        return names
    from geoembed.model_card import card_of

    kept = []
    for name in names:
        try:
            card = card_of(location_encoders.get(name))
        except PluginLoadError as exc:
            warnings.warn(str(exc), PluginWarning, stacklevel=2)
            continue
        if (card is not None and card.pretrained) == bool(pretrained):
            kept.append(name)
    return kept


def register_concept_bank(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register a concept bank under ``name``: a factory, or a ready-made bank object (usable as a decorator)."""
    if factory is not None and not callable(factory):
        bank = factory
        factory = lambda **_: bank  # noqa: E731 - a bank is data; wrap it so the registry stays uniform
    return concept_banks.register(name, factory, overwrite=overwrite)


def create_concept_bank(name: str, **kwargs: Any) -> Any:
    """Build (load) the concept bank registered under ``name``."""
    return concept_banks.create(name, **kwargs)


def list_concept_banks(pattern: str = "*") -> list[str]:
    """Names of registered concept banks matching a wildcard pattern."""
    return concept_banks.names(pattern)


def register_command(name: str, command: Any = None, *, overwrite: bool = False):
    """Register a CLI subcommand (an object or module with ``name``, ``help``, ``add_arguments``, ``run``).

    Plugins normally declare theirs as entry points of the ``geoembed.commands`` group instead; see docs/plugins.md.
    """
    return commands.register(name, command, overwrite=overwrite)


def list_commands(pattern: str = "*") -> list[str]:
    """Names of CLI subcommands added by plugins matching a wildcard pattern (the core's own are not listed)."""
    return commands.names(pattern)


def register_concept_projection(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register a concept projection under ``name``: a factory, or a ready-made projection object (usable as a
    decorator). See :mod:`geoembed.concepts.projection` for the contract."""
    if factory is not None and not isinstance(factory, type) and callable(getattr(factory, "project", None)):
        projection = factory
        factory = lambda **_: projection  # noqa: E731 - a ready projection; wrap it so the registry stays uniform
    return concept_projections.register(name, factory, overwrite=overwrite)


def create_concept_projection(name: str, **kwargs: Any) -> Any:
    """Build the concept projection registered under ``name``, e.g. ``create_concept_projection("geoclip-minilm")``."""
    return concept_projections.create(name, **kwargs)


def list_concept_projections(pattern: str = "*") -> list[str]:
    """Names of registered concept projections matching a wildcard pattern."""
    return concept_projections.names(pattern)
