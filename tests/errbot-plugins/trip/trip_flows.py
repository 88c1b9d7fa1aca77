from errbot import FLOW_END, BotFlow, FlowRoot, botflow


class TripFlows(BotFlow):
    """The trip flows."""

    @botflow
    def trip(self, flow: FlowRoot):
        """Book a trip: destination, date, booking."""
        to = flow.connect("trip_to", auto_trigger=True)
        date = to.connect("trip_date")
        book = date.connect("trip_book")
        book.connect(FLOW_END, predicate=lambda ctx: ctx.get("booked", False))

    @botflow
    def express(self, flow: FlowRoot):
        """Book as soon as the destination is known."""
        to = flow.connect("trip_to")
        to.connect("trip_express", predicate=lambda ctx: "to" in ctx)
