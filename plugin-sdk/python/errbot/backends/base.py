"""Errbot's message and identifier classes (errbot.backends.base), over errbot.v1's.

Each object wraps the protocol's errbot.v1.Identifier or errbot.v1.Message it was made from
(`_proto`), so that sending to `msg.frm` gives errbotd back exactly what the gateway sent."""

import copy

ONLINE = "online"
OFFLINE = "offline"
AWAY = "away"
DND = "dnd"


class Identifier:
    """Someone or somewhere on a chat service. `str()` is its canonical form ("@ana",
    "#ops", "#ops/ana"), the one `build_identifier` takes back."""

    def __init__(self, proto):
        self._proto = proto

    @property
    def backend(self):
        """errbot-rs's own: the backend instance the identifier belongs to."""
        return self._proto.backend

    def __str__(self):
        p = self._proto
        return p.display or p.person or p.room

    def __repr__(self):
        return f"<{type(self).__name__} {self}>"

    def _key(self):
        p = self._proto
        return (p.backend, p.person, p.room)

    def __eq__(self, other):
        return isinstance(other, Identifier) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


class Person(Identifier):
    """A person (Errbot's Person): person, nick, fullname, email, client, aclattr."""

    @property
    def person(self):
        return self._proto.person

    @property
    def nick(self):
        return self._proto.nick or self._proto.person

    @property
    def fullname(self):
        return self._proto.fullname or None

    @property
    def email(self):
        return self._proto.email or None

    @property
    def client(self):
        return self._proto.client or None

    @property
    def aclattr(self):
        return self._proto.acl or self._proto.person


class Room(Identifier):
    """A room (Errbot's Room). Room management (join, topic, occupants...) is done by errbotd's
    `!room` commands, not from plugins: those methods raise NotImplementedError."""

    @property
    def id(self):
        return self._proto.room

    @property
    def room(self):
        return self._proto.room

    @property
    def name(self):
        return self._proto.room_name or self._proto.room

    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError("errbot-rs: rooms are managed with the !room commands, "
                                  "not from plugins")

    join = leave = create = destroy = invite = _unsupported

    def __str__(self):
        return self._proto.display or self._proto.room


class RoomOccupant(Person):
    """A person in a room (Errbot's RoomOccupant): a Person with `room`."""

    @property
    def room(self):
        return _room_of(self._proto)


def _room_of(proto):
    """The Room part of an occupant's identifier."""
    from ..v1 import common_pb2

    room = common_pb2.Identifier(backend=proto.backend, room=proto.room,
                                 room_name=proto.room_name, display=proto.room)
    return Room(room)


def identifier(proto):
    """The Errbot identifier class for a protocol Identifier (None when it is empty)."""
    if proto is None or not (proto.person or proto.room or proto.display):
        return None
    if proto.person and proto.room:
        return RoomOccupant(proto)
    if proto.room:
        return Room(proto)
    return Person(proto)


class Message:
    """A chat message (Errbot's Message): body, frm, to, is_direct, is_group, extras, ctx..."""

    def __init__(self, body="", frm=None, to=None, parent=None, delayed=False, partial=False,
                 extras=None, flow=None):
        self._body = body
        self.frm = frm
        self.to = to
        self.parent = parent
        self.delayed = delayed
        self.partial = partial
        self.extras = extras if extras is not None else {}
        self.flow = flow
        self.ctx = {}
        self._proto = None  # the errbot.v1.Message, for messages the bot received

    @classmethod
    def from_proto(cls, proto):
        msg = cls(body=proto.body, frm=identifier(getattr(proto, "from")),
                  to=identifier(proto.to), delayed=proto.delayed, extras=dict(proto.extras))
        msg._proto = proto
        return msg

    @property
    def body(self):
        return self._body

    @body.setter
    def body(self, body):
        self._body = body

    @property
    def is_direct(self):
        if self._proto is not None:
            return self._proto.direct
        return isinstance(self.to, Person) and not isinstance(self.to, RoomOccupant)

    @property
    def is_group(self):
        return not self.is_direct

    @property
    def is_threaded(self):
        return bool(self._proto is not None and self._proto.thread_id)

    def clone(self):
        return copy.copy(self)

    def __str__(self):
        return self._body


class Card(Message):
    """A card (Errbot's Card), as built by send_card."""

    def __init__(self, body="", frm=None, to=None, parent=None, summary=None, title="", link="",
                 image="", thumbnail="", color=None, fields=()):
        super().__init__(body=body, frm=frm, to=to, parent=parent)
        self.summary, self.title, self.link = summary, title, link
        self.image, self.thumbnail, self.color, self.fields = image, thumbnail, color, fields


class Presence:
    """A person's presence changed (Errbot's Presence): identifier, status, message."""

    def __init__(self, identifier=None, status=None, message=None):
        self.identifier, self.status, self.message = identifier, status, message

    def get_identifier(self):
        return self.identifier

    def get_status(self):
        return self.status

    def get_message(self):
        return self.message


class Reaction:
    """A reaction added or removed (Errbot's Reaction): reactor, reacted_to (the message id
    here), action ("added" / "removed"), reaction_name."""

    def __init__(self, reactor=None, reacted_to_owner=None, action=None, timestamp=None,
                 reaction_name=None, reacted_to=None):
        self.reactor, self.reacted_to_owner, self.action = reactor, reacted_to_owner, action
        self.timestamp, self.reaction_name, self.reacted_to = timestamp, reaction_name, reacted_to
