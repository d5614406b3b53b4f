"""The custom actions the service runs itself, found in a Python package the way rasa-sdk's
action server finds them.

`rasa run actions --actions <package>` imports every module of the package and registers
every concrete `rasa_sdk.Action` subclass, made without arguments; the service does the
same for `ACTIONS_PACKAGE`, so a brand's existing actions package works unchanged. One
addition: an action that needs something only the service has (the demo's order lookup
reads the service's database) names it as a parameter of its `__init__`, spelled as a
field of `ActionResources`, and is handed it. A parameter with a default that the service
does not offer keeps its default, so the same class still runs under a standalone
`rasa run actions`, where nothing is handed in.

rasa-sdk registers every `Action` subclass imported anywhere in its process; here only
those of the package's modules (defined there, or imported into one), since the service's
process also holds the classes of its tests and tools.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any


class ActionsPackageError(RuntimeError):
    """The actions package cannot be used; the message names it."""


@dataclass(frozen=True)
class ActionResources:
    """What the service hands to the actions it runs, by `__init__` parameter name."""

    # async (order number) -> OrderInfo | None, from the service's orders table.
    order_lookup: Any


def check_importable(package: str) -> None:
    """Fails at once when the package is nowhere on the path, without importing it (the
    web process that checks need not load rasa-sdk and the actions' own imports)."""
    try:
        found = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError) as error:
        raise ActionsPackageError(f"ACTIONS_PACKAGE {package!r} cannot be imported: {error}") from error
    if not found:
        raise ActionsPackageError(f"ACTIONS_PACKAGE {package!r} cannot be imported: no module of that name "
                                  "(is its folder on the path, next to where the service is started?)")


def action_classes(package: str) -> list[type]:
    """The concrete `Action` subclasses of the package's modules, in rasa-sdk's order (an
    action name defined twice: the later class wins there, and here)."""
    from rasa_sdk import Action
    from rasa_sdk.utils import all_subclasses

    found: set[type] = set()
    for module in _modules(package):
        found.update(value for value in vars(module).values() if inspect.isclass(value))
    return [cls for cls in dict.fromkeys(all_subclasses(Action))
            if cls in found and not inspect.isabstract(cls) and not _from_rasa(cls)]


def load_actions(package: str, resources: ActionResources) -> list[Any]:
    """One instance of each action class of the package, given the resources it asks for."""
    return [_construct(cls, resources) for cls in action_classes(package)]


def _modules(package: str) -> list[ModuleType]:
    check_importable(package)
    modules = [_import(package, package)]
    if hasattr(modules[0], "__path__"):
        for info in pkgutil.walk_packages(modules[0].__path__, prefix=f"{package}."):
            modules.append(_import(info.name, package))
    return modules


def _import(name: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as error:  # a brand's module may fail in any way; the start stops, saying where
        raise ActionsPackageError(f"ACTIONS_PACKAGE {package!r}: importing {name} failed: "
                                  f"{type(error).__name__}: {error}") from error


def _from_rasa(cls: type) -> bool:
    # rasa-sdk's own exclusions: the base classes it and Rasa ship (FormValidationAction...).
    return cls.__module__.startswith(("rasa.", "rasa_sdk.", "rasa_core.", "rasa_core_sdk."))


def _construct(cls: type, resources: ActionResources) -> Any:
    offered = {field.name: getattr(resources, field.name) for field in fields(resources)}
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in offered:
            arguments[name] = offered[name]
        elif parameter.default is parameter.empty:
            raise ActionsPackageError(
                f"{cls.__module__}.{cls.__qualname__} needs {name!r}, which the service does not offer "
                f"(it offers: {', '.join(offered)}); give the parameter a default, or take no arguments")
    try:
        return cls(**arguments)
    except Exception as error:
        raise ActionsPackageError(f"{cls.__module__}.{cls.__qualname__} could not be made: "
                                  f"{type(error).__name__}: {error}") from error
