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


def read_plug(directory):
    """The PlugInfo of the one `.plug` file in `directory`."""
    plugs = sorted(glob.glob(os.path.join(directory, "*.plug")))
    if len(plugs) != 1:
        raise PlugError(f"{directory}: expected one .plug file, found {len(plugs)}")
    parser = configparser.ConfigParser()
    try:
        parser.read(plugs[0], encoding="utf-8")
        name = parser.get("Core", "Name").strip()
        module = parser.get("Core", "Module").strip()
    except (configparser.Error, UnicodeDecodeError) as e:
        raise PlugError(f"{plugs[0]}: {e}") from e
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

    sys.path.insert(0, info.directory)
    try:
        module = importlib.import_module(info.module)
    except Exception as e:
        raise PlugError(f"cannot import {info.module} from {info.directory}: "
                        f"{type(e).__name__}: {e}") from e
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, BotPlugin) and c is not BotPlugin
               and c.__module__ == module.__name__]
    if not classes:
        raise PlugError(f"{info.module} defines no BotPlugin subclass")
    named = [c for c in classes if c.__name__ == info.name]
    return named[0] if named else classes[0]
