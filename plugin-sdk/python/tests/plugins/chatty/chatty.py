"""An Errbot plugin that acts unprompted: callbacks, a poller, a timer thread."""

import io
import sys
import threading

from errbot import BotPlugin, botcmd


class Chatty(BotPlugin):
    def activate(self):
        super().activate()
        self.seen = []
        self.start_poller(30, self.tick, args=["#ops"])

    def deactivate(self):
        self.stop_poller(self.tick, args=["#ops"])
        super().deactivate()

    def tick(self, room):
        self["ticks"] = self.get("ticks", 0) + 1
        self.send(self.build_identifier(room), f"tick {self['ticks']}")

    def callback_message(self, msg):
        self.seen.append(msg.body)

    def callback_mention(self, msg, people):
        self.seen.append("mention " + ",".join(str(p) for p in people))

    @botcmd
    def seen_list(self, msg, args):
        return "; ".join(self.seen) or "nothing"

    @botcmd
    def later(self, msg, args):
        """Send a message from a timer thread, as DailyMessage does"""
        timer = threading.Timer(0.05, lambda: self.send(msg.frm, "later: " + args))
        timer.daemon = True
        timer.start()
        return "will do"

    @botcmd
    def admins(self, msg, args):
        self.warn_admins(args)
        return "warned"

    def callback_presence(self, presence):
        self.seen.append(f"presence {presence.identifier} {presence.status}")

    def callback_room_joined(self, room):
        self.seen.append(f"joined {room}")

    @botcmd
    def quit(self, msg, args):
        """Exit, as a careless plugin does"""
        sys.exit(3)

    @botcmd
    def report(self, msg, args):
        """Upload a small report"""
        self.send_stream_request(msg.frm, io.BytesIO(b"line\n" * 30000), name="report.txt",
                                 size=150000, stream_type="text/plain")
        return "uploaded"

    @botcmd
    def remind(self, msg, args):
        """A poller whose argument is the sender (a Person, which JSON cannot hold)"""
        self.start_poller(60, self.remind_tick, times=1, args=(msg.frm, args))
        return "ok"

    def remind_tick(self, who, text):
        self.send(who, "reminder: " + text)
