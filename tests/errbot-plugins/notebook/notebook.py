"""An Errbot plugin in Errbot's own style, used by errbot-rs's tests: errbot-rs runs it as it is
(tests/tests/errbot_compat.rs, plugin-sdk/python/tests). Nothing here knows about errbot-rs."""

import re
import time

from errbot import (BotPlugin, CommandError, ValidationException, arg_botcmd, botcmd, botmatch,
                    cmdfilter, re_botcmd, webhook)

CONFIG_TEMPLATE = {"GREETING": "Hello", "MAX_NOTES": 3}


class Notebook(BotPlugin):
    """Notes, greetings and dice."""

    def activate(self):
        super().activate()
        self.activations = self.get("activations", 0) + 1
        self["activations"] = self.activations

    def get_configuration_template(self):
        return CONFIG_TEMPLATE

    def configure(self, configuration):
        # Errbot's documented pattern: the template's values for what is not given.
        config = dict(CONFIG_TEMPLATE)
        if configuration:
            config.update(configuration)
        super().configure(config)

    def check_configuration(self, configuration):
        super().check_configuration(configuration)
        if configuration["MAX_NOTES"] < 1:
            raise ValidationException("MAX_NOTES must be at least 1")

    @botcmd
    def countdown(self, msg, args):
        """Count down from N, half a second apart, then lift off: `!countdown 3`"""
        for i in range(int(args or 3), 0, -1):
            yield str(i)
            time.sleep(0.5)
        yield "liftoff"

    @botcmd
    def greet(self, msg, args):
        """Greet someone: !greet [name]"""
        who = args.strip() or msg.frm.nick
        return f"{self.config['GREETING']}, {who}!"

    @botcmd(split_args_with=None)
    def note_add(self, msg, args):
        """Write the words down as a note: !note add buy milk"""
        if not args:
            raise CommandError("What should I write down?")
        with self.mutable("notes", []) as notes:
            if len(notes) >= self.config["MAX_NOTES"]:
                raise CommandError(f"The notebook is full ({self.config['MAX_NOTES']} notes).")
            notes.append(" ".join(args))
        return f"Noted ({len(notes)})."

    @botcmd(template="notes")
    def note_list(self, msg, args):
        """List the notes"""
        return {"notes": self.get("notes", []), "who": str(msg.frm)}

    @botcmd(admin_only=True)
    def note_clear(self, msg, args):
        """Forget every note (admins)"""
        if "notes" in self:
            del self["notes"]
        return "Notebook cleared."

    @botcmd(split_args_with=",", name="split")
    def split_words(self, msg, args):
        """Show how a comma-separated list is split"""
        return " | ".join(repr(a) for a in args)

    @arg_botcmd("sides", type=int, help="sides of each die")
    @arg_botcmd("--count", "-c", type=int, default=1, help="how many dice")
    @arg_botcmd("--total", action="store_true", help="only the total")
    def roll(self, msg, sides, count, total):
        """Roll dice, deterministically: each die shows its number"""
        faces = [(i % sides) + 1 for i in range(count)]
        if total:
            yield f"total {sum(faces)}"
            return
        for face in faces:
            yield f"die shows {face}"

    @arg_botcmd("name", nargs="+", unpack_args=False)
    def shout(self, msg, args):
        """Shout names"""
        return " ".join(args.name).upper() + "!"

    @re_botcmd(pattern=r"^remember (?P<key>\w+) is (.+)$", flags=re.IGNORECASE)
    def remember(self, msg, match):
        """Remember a fact: !remember KEY is VALUE"""
        self["fact:" + match.group("key").lower()] = {"value": match.group(2),
                                                     "by": msg.frm.person}
        return f"I will remember {match.group('key').lower()}."

    @re_botcmd(pattern=r"what is (\w+)\??$", prefixed=False, flags=re.IGNORECASE)
    def recall(self, msg, match):
        """Recall a fact"""
        fact = self.get("fact:" + match.group(1).lower())
        if fact is None:
            return None  # says nothing, as Errbot does for None
        return f"{match.group(1)} is {fact['value']} (said {fact['by']})"

    @botmatch(r"\b(\d+) ?\+ ?(\d+)\b", matchall=True)
    def additions(self, msg, matches):
        return ", ".join(f"{m.group(1)}+{m.group(2)}={int(m.group(1)) + int(m.group(2))}"
                         for m in matches)

    @cmdfilter
    def quiet_hours(self, msg, cmd, args, dry_run):
        """No shouting NOW; greeting "everyone" greets the world"""
        if cmd == "shout" and "NOW" in str(args):
            return None
        if cmd == "greet" and args == "everyone":
            return msg, cmd, "world"
        return msg, cmd, args

    @webhook("/notebook/<kind>")
    def note_hook(self, payload, kind):
        """A note from outside: a JSON body with "text", or a form with a "text" field"""
        text = payload.get("text") if isinstance(payload, dict) else str(payload)
        with self.mutable("notes", []) as notes:
            notes.append(f"{kind}: {text}")
        return {"noted": len(notes)}

    @webhook("/notebook-raw", methods=("PUT",), raw=True)
    def raw_hook(self, request):
        """The request itself"""
        return f"{request.method} {len(request.get_data())} {request.headers.get('X-Test')}", 202

    @botcmd
    def whereami(self, msg, args):
        """Where the message came from"""
        if msg.is_direct:
            return f"direct, from {msg.frm.person} ({msg.frm.nick})"
        return f"room {msg.frm.room}, from {msg.frm.nick}, group={msg.is_group}"

    @botcmd
    def stored(self, msg, args):
        """The stored keys"""
        return ", ".join(sorted(k for k in self.keys()))

    @botcmd
    def stash(self, msg, args):
        """Store a value JSON cannot hold, and read it back"""
        self["stash"] = {("a", 1): {1, 2}, "when": (2024, 1)}
        back = self["stash"]
        return f"{type(back['when']).__name__} {sorted(back[('a', 1)])}"

    @botcmd
    def tell(self, msg, args):
        """Send a message to a room or person: !tell #room text"""
        to, _, text = args.partition(" ")
        self.send(self.build_identifier(to), text)
        return f"told {to}"

    @botcmd
    def crash(self, msg, args):
        """Fail"""
        raise RuntimeError("the notebook fell off the table")

    @botcmd(hidden=True)
    def about_me(self, msg, args):
        return f"{self.name} activated {self['activations']} time(s), prefix {self._bot.prefix}"
