"""Logging set-up: what a process writes to its log."""

from __future__ import annotations

import logging

import orjson
import pytest

from models.logs import JsonFormatter, configure_logging
from models.tables import Ticket
from models.tickets import issue_for_order
from tests.factories import make_event, make_tier
from tests.unit.models.test_reservations_support import make_paid_order


@pytest.fixture
def debug_log(settings, capsys):
    """Configure logging as a process would with LOG_LEVEL=DEBUG; restore the root logger after."""
    root, peewee = logging.getLogger(), logging.getLogger("peewee")
    saved = (root.handlers[:], root.level, peewee.level, logging._srcfile, logging.logThreads, logging.logProcesses,
             logging.logMultiprocessing)
    configure_logging(settings.with_(log_level="DEBUG", log_format="json"), process="test")
    yield lambda: capsys.readouterr().err
    root.handlers[:], root.level, _, logging._srcfile, logging.logThreads, logging.logProcesses, \
        logging.logMultiprocessing = saved
    peewee.setLevel(saved[2])


def test_ticket_secrets_stay_out_of_the_log_even_at_debug(settings, db, debug_log):
    tier = make_tier(make_event(), capacity=10)
    issue_for_order(settings.secret_bytes, make_paid_order(tier, "fan-1", 2).id)
    logging.getLogger("ticketdrop.test").debug("debug lines do reach the log")
    written = debug_log()
    assert "debug lines do reach the log" in written
    for ticket in Ticket.select():
        assert ticket.secret not in written and ticket.qr_sig not in written


def test_a_json_line_is_stamped_with_its_own_instant_in_utc_to_the_millisecond():
    formatter = JsonFormatter("test")

    def stamped(created: float) -> str:
        record = logging.LogRecord("ticketdrop.test", logging.INFO, "", 0, "tick", (), None)
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        return orjson.loads(formatter.format(record))["ts"]

    assert stamped(1_900_000_000.25) == "2030-03-17T17:46:40.250Z"
    assert stamped(1_900_000_000.999) == "2030-03-17T17:46:40.999Z"
    assert stamped(1_900_000_061.125) == "2030-03-17T17:47:41.125Z"
    assert stamped(1_900_000_000.5) == "2030-03-17T17:46:40.500Z"
