"""Peewee tables. Timestamps are stored as naive UTC and come back timezone-aware.

The database is the source of truth for inventory: ``ticket_tiers.sold`` and ``.held`` only
move through conditional UPDATEs, and a CHECK constraint makes ``sold + held <= capacity``
impossible to break even by a buggy caller.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import peewee

from models.db import database


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTimeField(peewee.DateTimeField):
    """Stores naive UTC, returns aware UTC; accepts aware datetimes only."""

    def db_value(self, value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{self.name}: naive datetime refused; pass a timezone-aware one")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class TimestampedModel(BaseModel):
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class Event(TimestampedModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    name = peewee.CharField(max_length=200)
    venue = peewee.CharField(max_length=200)
    description = peewee.TextField(default="")
    starts_at = UTCDateTimeField()
    on_sale_at = UTCDateTimeField()
    status = peewee.CharField(max_length=16, default="draft", index=True)
    #: Operator pause: no waves, no new reservations; granted holds keep their TTL.
    paused = peewee.BooleanField(default=False)
    #: Per-event overrides of WAVE_SIZE / WAVE_INTERVAL_S (NULL = the global default).
    wave_size = peewee.IntegerField(null=True)
    wave_interval_s = peewee.FloatField(null=True)
    #: The venue's IANA time zone: pages show the event's times in it. The SQL default keeps
    #: rows made before the column existed (models.schema.create_schema adds it) valid.
    timezone = peewee.CharField(max_length=64, default="UTC", constraints=[peewee.SQL("DEFAULT 'UTC'")])
    #: How long after purchase a fan may cancel an order themselves, in seconds (NULL = the
    #: SELF_CANCEL_WINDOW_S default; 0 = not allowed).
    self_cancel_window_s = peewee.IntegerField(null=True)
    #: Which codes the gate takes: "rotating" (the live phone code only), "static" (the signed
    #: printable code only) or "both". The SQL default keeps rows older than the column valid.
    ticket_mode = peewee.CharField(max_length=16, default="both", constraints=[peewee.SQL("DEFAULT 'both'")])

    class Meta:
        table_name = "events"
        constraints = [peewee.Check("status IN ('draft','scheduled','on_sale','closed','canceled')")]


class TicketTier(TimestampedModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    event = peewee.ForeignKeyField(Event, backref="tiers", on_delete="CASCADE", column_name="event_id")
    name = peewee.CharField(max_length=100)
    price_cents = peewee.IntegerField()
    capacity = peewee.IntegerField()
    per_user_limit = peewee.IntegerField(default=4)
    #: Tickets paid for. Moves only by conditional UPDATE.
    sold = peewee.IntegerField(default=0)
    #: Tickets in live holds. Moves only by conditional UPDATE.
    held = peewee.IntegerField(default=0)

    class Meta:
        table_name = "ticket_tiers"
        constraints = [
            peewee.Check("price_cents >= 0"),
            peewee.Check("capacity >= 1"),
            peewee.Check("per_user_limit >= 1"),
            peewee.Check("sold >= 0 AND held >= 0 AND sold + held <= capacity"),
        ]


RESERVATION_STATUSES = ("held", "rejected", "expired", "released", "converted")


class Reservation(TimestampedModel):
    """A decided reservation request. Pending requests live only in Redis until decided."""

    id = peewee.UUIDField(primary_key=True)
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    tier = peewee.ForeignKeyField(TicketTier, on_delete="CASCADE", column_name="tier_id")
    user_id = peewee.CharField(max_length=128)
    token = peewee.CharField(max_length=256, default="")
    quantity = peewee.IntegerField()
    status = peewee.CharField(max_length=16)
    reason = peewee.CharField(max_length=64, null=True)
    expires_at = UTCDateTimeField(null=True)
    request_id = peewee.CharField(max_length=128, null=True)
    #: The tier's price per ticket when the hold was granted, in cents: what its checkout charges
    #: (a later price change does not touch a granted hold). NULL for rows older than the column.
    price_cents = peewee.IntegerField(null=True)

    class Meta:
        table_name = "reservations"
        indexes = (
            (("status", "expires_at"), False),  # the expiry sweep
            (("event", "user_id", "status"), False),  # per-user caps and rebuilds
            (("event", "created_at"), False),  # the admin status's reservation rate
        )
        constraints = [peewee.Check("quantity >= 1")]


SESSION_STATUSES = ("open", "processing", "paid", "failed", "expired")


class CheckoutSession(TimestampedModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    reservation = peewee.ForeignKeyField(Reservation, unique=True, on_delete="CASCADE", column_name="reservation_id")
    user_id = peewee.CharField(max_length=128, index=True)
    idempotency_key = peewee.CharField(max_length=255)
    amount_cents = peewee.IntegerField()
    status = peewee.CharField(max_length=16, default="open", index=True)
    #: The payment outcome the fan asked the simulator for ("success" or "fail").
    simulate = peewee.CharField(max_length=16, null=True)
    failure_reason = peewee.CharField(max_length=128, null=True)

    class Meta:
        table_name = "checkout_sessions"


class Order(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    #: One order per checkout session, whatever retries happen.
    session = peewee.ForeignKeyField(CheckoutSession, unique=True, on_delete="CASCADE", column_name="checkout_session_id")
    user_id = peewee.CharField(max_length=128, index=True)
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    tier = peewee.ForeignKeyField(TicketTier, on_delete="CASCADE", column_name="tier_id")
    quantity = peewee.IntegerField()
    amount_cents = peewee.IntegerField()
    #: paid, or refunded (canceled by the fan, an admin, or the event's cancellation).
    status = peewee.CharField(max_length=16, default="paid")
    created_at = UTCDateTimeField(default=utcnow, index=True)
    #: The simulated refund: when and how much (NULL while paid).
    refunded_at = UTCDateTimeField(null=True)
    refund_cents = peewee.IntegerField(null=True)
    #: Who canceled it: admin, fan, event_canceled.
    cancel_reason = peewee.CharField(max_length=32, null=True)

    class Meta:
        table_name = "orders"
        indexes = ((("event", "status"), False),)  # an event's paid orders, refunded in batches


TICKET_STATUSES = ("valid", "checked_in", "void")
TICKET_MODES = ("rotating", "static", "both")


class Ticket(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    order = peewee.ForeignKeyField(Order, backref="tickets", on_delete="CASCADE", column_name="order_id")
    seq = peewee.IntegerField()
    code = peewee.CharField(max_length=64, unique=True)
    qr_sig = peewee.CharField(max_length=128)
    user_id = peewee.CharField(max_length=128, index=True)
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    tier = peewee.ForeignKeyField(TicketTier, on_delete="CASCADE", column_name="tier_id")
    status = peewee.CharField(max_length=16, default="valid")
    checked_in_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    #: Hex key of the rotating codes (models/ticket_codes.py); never listed. A new one on every
    #: transfer. NULL for tickets issued before rotating codes (one is drawn on first use).
    secret = peewee.CharField(max_length=64, null=True)

    class Meta:
        table_name = "tickets"
        #: Retries of issuance can never duplicate a ticket.
        indexes = ((("order", "seq"), True),)


class TicketTransfer(BaseModel):
    """One ticket moved from one fan to another (the audit trail, and the answer to a retry)."""

    id = peewee.AutoField()
    ticket = peewee.ForeignKeyField(Ticket, on_delete="CASCADE", column_name="ticket_id", index=True)
    from_user = peewee.CharField(max_length=128)
    to_user = peewee.CharField(max_length=128, index=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "ticket_transfers"


class IdempotencyRecord(BaseModel):
    """One Idempotency-Key use: the request fingerprint and, once done, the response."""

    id = peewee.AutoField()
    user_id = peewee.CharField(max_length=128)
    #: "METHOD /path" the key was used on.
    scope = peewee.CharField(max_length=64)
    key = peewee.CharField(max_length=255)
    request_hash = peewee.CharField(max_length=64)
    #: "in_flight" until the response is stored, then "completed".
    state = peewee.CharField(max_length=16, default="in_flight")
    response_status = peewee.IntegerField(null=True)
    response_body = peewee.TextField(null=True)
    locked_until = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField(index=True)

    class Meta:
        table_name = "idempotency_keys"
        indexes = ((("user_id", "scope", "key"), True),)


class AdmissionWave(BaseModel):
    """Positions first..last admitted together; waves never overlap (unique first_position)."""

    id = peewee.AutoField()
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    first_position = peewee.IntegerField()
    last_position = peewee.IntegerField()
    admitted_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "admission_waves"
        indexes = ((("event", "first_position"), True),)


class QueueEntry(BaseModel):
    """One fan's place in an event's waiting room, copied from Redis by the wave tick so the
    queue survives a Redis data loss. ``position`` 0 = joined the pre-queue (its place is the
    draw's, recomputed from the salt); otherwise the place given at join."""

    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    #: The token's bucket field, base64url(kind || id) (models/waiting_room/tokens.py).
    field = peewee.CharField(max_length=32)
    position = peewee.IntegerField()

    class Meta:
        table_name = "queue_entries"
        primary_key = peewee.CompositeKey("event", "field")
        # The tick reads an event's newest place every step (restore.behind_the_database).
        indexes = ((("event", "position"), False),)


class FairnessRecord(BaseModel):
    """The pre-queue commitment sha256(salt) and, after on-sale, the revealed salt."""

    event = peewee.ForeignKeyField(Event, primary_key=True, on_delete="CASCADE", column_name="event_id")
    commitment = peewee.CharField(max_length=64)
    salt = peewee.CharField(max_length=128)
    prequeue_size = peewee.IntegerField(null=True)
    committed_at = UTCDateTimeField(default=utcnow)
    revealed_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "fairness_records"


WAITLIST_STATUSES = ("waiting", "offered", "purchased", "lapsed", "left", "canceled")


class WaitlistEntry(TimestampedModel):
    """A fan waiting for returned tickets of one sold-out tier (models/waitlist/).

    ``rank`` orders the tier's waitlist: the fan's waiting-room position, or for a fan who never
    queued (or joins again) NOT_QUEUED_RANK + the join time in ms, so those come after, in
    arrival order. ``reservation`` is the current offer: a hold granted to this fan."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", column_name="event_id")
    tier = peewee.ForeignKeyField(TicketTier, on_delete="CASCADE", column_name="tier_id")
    user_id = peewee.CharField(max_length=128)
    quantity = peewee.IntegerField()
    #: The fan's waiting-room position when they joined (NULL: never queued).
    position = peewee.IntegerField(null=True)
    rank = peewee.BigIntegerField()
    status = peewee.CharField(max_length=16, default="waiting")
    reservation_id = peewee.UUIDField(null=True)
    offered_at = UTCDateTimeField(null=True)
    offer_expires_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "waitlist_entries"
        indexes = (
            (("tier", "user_id"), True),  # one entry per fan per tier
            (("tier", "status", "rank"), False),  # the offer walk, in waitlist order
            (("user_id",), False),
        )
        constraints = [peewee.Check("quantity >= 1"),
                       peewee.Check("status IN ('waiting','offered','purchased','lapsed','left','canceled')")]


#: A tier's waiting line, in order (models/waitlist/lines.py counts the fans ahead of an entry
#: in it): one range of this partial index, its columns all the read needs (an index-only scan
#: where the pages are visible).
WaitlistEntry.add_index(WaitlistEntry.index(WaitlistEntry.tier, WaitlistEntry.rank, WaitlistEntry.id,
                                            where=(WaitlistEntry.status == "waiting"),
                                            name="waitlist_entries_waiting_ahead"))


ALL_TABLES = [Event, TicketTier, Reservation, CheckoutSession, Order, Ticket, IdempotencyRecord, AdmissionWave, QueueEntry,
              FairnessRecord, WaitlistEntry, TicketTransfer]
