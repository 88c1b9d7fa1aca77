from errbot import BotPlugin, botcmd


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
