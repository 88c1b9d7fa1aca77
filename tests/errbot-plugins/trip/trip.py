from errbot import BotPlugin, botcmd, cmdfilter


class Trip(BotPlugin):
    """Trip bookings: a destination, a date, then the booking."""

    @botcmd
    def trip_to(self, msg, args):
        """Choose where to go (starts the trip flow)."""
        msg.ctx["to"] = args
        return f"Going to {args}."

    @botcmd(flow_only=True)
    def trip_date(self, msg, args):
        """Choose the day."""
        msg.ctx["date"] = args
        return f"{msg.ctx.get('to')} on {args}: say !trip book to book it."

    @botcmd(flow_only=True)
    def trip_book(self, msg, args):
        """Book the trip."""
        msg.ctx["booked"] = True
        return f"Booked {msg.ctx.get('to')} on {msg.ctx.get('date')}."

    @botcmd(flow_only=True)
    def trip_express(self, msg, args):
        """Books at once when the destination is known."""
        return f"Express booking for {msg.ctx.get('to')} ({msg.flow.name})."

    @cmdfilter(catch_unprocessed=True)
    def trip_typos(self, msg, cmd, args, dry_run, emptycmd=False):
        """Answers commands that do not exist but look like a misspelt trip."""
        if not emptycmd:
            return msg, cmd, args
        if msg.body.startswith("!tirp"):
            return "Did you mean !trip? Try !trip to <somewhere>."
        if msg.body.startswith("!voyage "):
            return msg, "trip_to", msg.body[len("!voyage "):]
        return None
