"""Reading an Errbot plugin directory: its `.plug` file (INI: [Core] Name, Module, DependsOn;
[Documentation] Description) and the BotPlugin class of its module."""

import configparser
import glob
import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field


class PlugError(Exception):
    """The directory holds no loadable Errbot plugin; the text says why."""


@dataclass
class PlugInfo:
    name: str
    module: str
    directory: str
    description: str = ""
    version: str = ""
    depends_on: list = field(default_factory=list)


def read_core(path):
    """A `.plug` or `.flow` file (INI): its parser, and its [Core] Name and Module."""
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        return parser, parser.get("Core", "Name").strip(), parser.get("Core", "Module").strip()
    except (configparser.Error, UnicodeDecodeError) as e:
        raise PlugError(f"{path}: {e}") from e


def classes_in(directory, module_name, base):
    """The subclasses of `base` that the module `module_name` of `directory` defines (its
    directory first on sys.path, as Errbot does)."""
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise PlugError(f"cannot import {module_name} from {directory}: "
                        f"{type(e).__name__}: {e}") from e
    return [c for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, base) and c is not base and c.__module__ == module.__name__]


def read_plug(directory, plug=None):
    """The PlugInfo of `plug`, a `.plug` file of `directory`, or else of the only one there."""
    if plug is None:
        plugs = sorted(glob.glob(os.path.join(directory, "*.plug")))
        if len(plugs) != 1:
            raise PlugError(f"{directory}: expected one .plug file, found {len(plugs)}")
        plug = plugs[0]
    parser, name, module = read_core(plug)
    depends = parser.get("Core", "DependsOn", fallback="")
    return PlugInfo(
        name=name,
        module=module,
        directory=os.path.abspath(directory),
        description=parser.get("Documentation", "Description", fallback="").strip(),
        version=parser.get("Core", "Version", fallback="").strip(),
        depends_on=[d.strip() for d in depends.split(",") if d.strip()],
    )


def load_class(info):
    """Imports the plugin's module (its directory first on sys.path, as Errbot does) and
    returns its BotPlugin subclass: the one named like the plugin, else the only one."""
    from errbot import BotPlugin

    classes = classes_in(info.directory, info.module, BotPlugin)
    if not classes:
        raise PlugError(f"{info.module} defines no BotPlugin subclass")
    named = [c for c in classes if c.__name__ == info.name]
    return named[0] if named else classes[0]
