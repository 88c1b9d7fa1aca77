"""The Workbench plugin, which uses Tools (tools.py, in the same directory) through
get_plugin: Errbot runs both in one process; errbot-rs in two, the calls going through errbotd."""

from errbot import BotPlugin, botcmd


class Workbench(BotPlugin):
    """Commands that call Tools."""

    @botcmd
    def measure(self, msg, args):
        result = self.get_plugin("Tools").measure(args, unit="letters")
        return f"{result['text']!r} is {result['length']} {result['unit']} (call {result['asked']})"

    @botcmd
    def tools_version(self, msg, args):
        return f"Tools {self.get_plugin('Tools').version}"

    @botcmd
    def divide(self, msg, args):
        a, b = (int(x) for x in args.split())
        try:
            return f"{self.get_plugin('Tools').divide(a, b):g}"
        except ZeroDivisionError as e:
            return f"Tools refused: {type(e).__name__}: {e}"

    @botcmd
    def borrow(self, msg, args):
        try:
            self.get_plugin("Notebook")
        except Exception as e:
            return str(e)
        return "borrowed"
