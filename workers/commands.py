"""``models.commands.Commands`` sent as Dramatiq messages to the actors of one broker."""

from __future__ import annotations

from workers.actors import Actors


class ActorCommands:
    """The domain's commands as actor messages (blocking sends: the broker clients are sync)."""

    def __init__(self, *, actors: Actors) -> None:
        self.actors = actors

    def send_drain(self, event_id: str, delay_ms: int | None = None) -> None:
        if delay_ms:
            self.actors.drain_event.send_with_options(args=(event_id,), delay=delay_ms)
        else:
            self.actors.drain_event.send(event_id)

    def send_settle(self, event_id: str) -> None:
        self.actors.settle_checkouts.send(event_id)

    def send_expire_checkout(self, session_id: str) -> None:
        self.actors.expire_checkout.send(session_id)

    def send_refund_event(self, event_id: str) -> None:
        self.actors.refund_event.send(event_id)
