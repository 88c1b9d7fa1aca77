"""The Tools plugin: helpers that other plugins use through get_plugin (see workbench.py)."""

from errbot import BotPlugin, botcmd


class Tools(BotPlugin):
    """Helpers for other plugins; it keeps a count of what it was asked."""

    version = "1.2"

    def activate(self):
        super().activate()
        self.asked = 0

    def measure(self, text, unit="chars"):
        self.asked += 1
        return {"text": text, "length": len(text), "unit": unit, "asked": self.asked}

    def divide(self, a, b):
        return a / b

    @botcmd
    def tools_asked(self, msg, args):
        return f"Tools was asked {self.asked} time(s)."
