"""errbot: the module Errbot plugins import (`from errbot import BotPlugin, botcmd`), provided by
errbot-rs's Python compatibility host. Plugins run unmodified in their own process, one per
plugin, supervised by errbotd; what they do is carried out by errbotd over the errbot.v1
protocol (the generated stubs are the sub-package errbot.v1). See ../README.md for what is
supported and what differs from Errbot."""

from .backends.base import AWAY, DND, OFFLINE, ONLINE, Message  # noqa: F401
from .botplugin import BotPlugin, Command, CommandError, ValidationException  # noqa: F401
from .decorators import (  # noqa: F401
    arg_botcmd,
    botcmd,
    botmatch,
    cmdfilter,
    re_botcmd,
    webhook,
)
from .flow import FLOW_END, BotFlow, Flow, FlowNode, FlowRoot, botflow  # noqa: F401

__all__ = [
    "BotPlugin", "Command", "CommandError", "ValidationException", "Message", "botcmd", "re_botcmd",
    "arg_botcmd", "botmatch", "cmdfilter", "webhook", "botflow", "BotFlow", "FlowRoot", "FlowNode",
    "Flow", "FLOW_END", "ONLINE", "OFFLINE", "AWAY", "DND",
]
