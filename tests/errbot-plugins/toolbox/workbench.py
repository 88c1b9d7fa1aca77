"""The Workbench plugin, which uses Tools (tools.py, in the same directory) through
get_plugin: Errbot runs both in one process; errbot-rs in two, the calls going through errbotd.
Its shortcuts are dynamic plugins (create_dynamic_plugin)."""

from errbot import BotPlugin, Command, botcmd


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

    @botcmd
    def shortcut_add(self, msg, args):
        """A command NAME that answers TEXT: `!shortcut add NAME TEXT`."""
        name, text = args.split(None, 1)
        command = Command(lambda plugin, msg, args: text, name=name, doc=f"Says {text!r}.")
        self.create_dynamic_plugin(f"Shortcut{name}", (command,), doc="A shortcut.")
        return f"{name} added"

    @botcmd
    def shortcut_drop(self, msg, args):
        self.destroy_dynamic_plugin(f"Shortcut{args}")
        return f"{args} dropped"
