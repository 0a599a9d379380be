"""The status and progress polls and the join served below the router (web/hotpath.py) answer
byte for byte what the usual path answers (the edge step, the router, aiohttp's response), and every other request
takes the usual path unchanged.

Two servers on the same Redis and database: ``usual`` is the tests' ordinary app (its OpenAPI
check is an aiohttp middleware, so it serves the status poll the usual way, and checks those
answers against the document), ``hot`` the same app as ``python -m web`` builds it. Each request
goes to both over a raw socket; the answers must be the same bytes but for ``Date``. A join changes
the room, so each server joins an event of its own, the two made alike (the token, made from the
event's id, is the one other difference)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from models.waiting_room import admit_waves
from tests.conftest import make_settings
from tests.unit.web.test_metrics import parse, value
from tests.unit.web.test_waiting_room import fresh, join, make_event
from web import caching, hooks, hotpath, ratelimit
from web.appkeys import SYNC_REDIS
from web.eventroutes import EventRoutes

ORIGIN = "http://localhost:5173"
RID = "trace-hot-1"
JOINS_PER_MIN = 3
STATUS, PROGRESS, JOIN = "/waiting-room/status", "/waiting-room/progress", "/waiting-room/join"
_DATE = re.compile(rb"\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n")


@pytest.fixture
def settings(tmp_path):
    # A fan's fourth join of an event within the minute is refused (429).
    return make_settings(tmp_path, cors_origins=(ORIGIN,), rate_join_per_min=JOINS_PER_MIN)


@pytest.fixture
def hot_app(settings, aredis, redis, db, stub_broker, runtime):
    from web.app import create_app

    app = create_app(settings, redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    return app


@pytest.fixture
async def hot(aiohttp_client, hot_app):
    return await aiohttp_client(hot_app)


@pytest.fixture
async def usual(client):
    return client


@pytest.fixture(autouse=True)
def still_clock(monkeypatch):
    """One instant for both servers: max-age, the ETA and the countdowns read the clock."""
    import models.waiting_room.service as service

    now = service._now_ms()
    monkeypatch.setattr(service, "_now_ms", lambda: now)


async def read_answer(reader: asyncio.StreamReader, method: str) -> bytes:
    """One HTTP/1.x answer, whole: headers, then Content-Length bytes unless none may follow."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status < 200:  # an interim answer (100 Continue): the final one follows
        return head + await read_answer(reader, method)
    length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
    if method == "HEAD" or status in (204, 304) or length is None:
        return head
    return head + await reader.readexactly(int(length.group(1)))


async def exchange(client, requests: list[tuple[str, bytes]], *, closes: bool = False) -> list[bytes]:
    """Send ``requests`` (method, raw bytes) on one connection, pipelined; their answers."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"".join(raw for _, raw in requests))
        await writer.drain()
        answers = [await read_answer(reader, method) for method, _ in requests]
        if closes:
            assert await asyncio.wait_for(reader.read(), 5) == b"", "the server should have closed the connection"
        return answers
    finally:
        writer.close()


def request(method: str, target: str, *headers: str, version: str = "1.1", body: bytes = b"") -> tuple[str, bytes]:
    lines = [f"{method} {target} HTTP/{version}", "Host: test", *headers]
    return method, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


#: The cases of a request's origin and connection both routes are asked in.
EDGE_CASES = ["allowed origin", "other origin", "http/1.0", "http/1.0 keep-alive", "connection close"]


def edge_case(case: str) -> tuple[list[str], str]:
    """The headers and the HTTP version of one of :data:`EDGE_CASES` (none and 1.1 for any other)."""
    return {"allowed origin": ([f"Origin: {ORIGIN}"], "1.1"), "other origin": (["Origin: https://evil.example"], "1.1"),
            "http/1.0": ([], "1.0"), "http/1.0 keep-alive": (["Connection: keep-alive"], "1.0"),
            "connection close": (["Connection: close"], "1.1")}.get(case, ([], "1.1"))


def body_case(case: str, settings) -> tuple[list[str], bytes]:
    """The headers and the body of "a body" (a small JSON one) or "a body too large" (over MAX_BODY_BYTES)."""
    body = b"{}" if case == "a body" else b"x" * (settings.max_body_bytes + 1)
    return ["Content-Type: application/json", f"Content-Length: {len(body)}"], body


def undated(answer: bytes) -> bytes:
    assert _DATE.search(answer), answer
    return _DATE.sub(b"\r\nDate: -\r\n", answer)


async def same_answer(hot, usual, method: str, target: str, *headers: str, **kw) -> bytes:
    """Ask both servers; assert the same bytes but for Date; return the hot path's answer."""
    req = request(method, target, *headers, **kw)
    (fast,), (slow,) = await exchange(hot, [req]), await exchange(usual, [req])
    assert undated(fast) == undated(slow)
    return fast


@pytest.fixture
async def poll_target(usual, db):
    event = make_event(on_sale_in_s=-1)
    _, joined = await join(usual, event, "fan-1")
    return f"/events/{event.id}/waiting-room/status?token={joined['token']}"


@pytest.fixture
def progress_target(poll_target) -> str:
    """The progress document of ``poll_target``'s event (one fan in its queue)."""
    return poll_target.split(STATUS)[0] + PROGRESS


def handler_of(client):
    return client.server.runner.server.request_handler


# -- installed, and below the router -------------------------------------------------------------

async def test_the_app_serves_the_polls_and_the_join_below_the_router_and_the_tests_usual_app_does_not(hot, usual):
    # AppRunner gives its Server ``app._handle`` after on_startup: if aiohttp stops doing so this fails.
    assert handler_of(hot).__module__ == "web.hotpath" and hotpath.served(handler_of(hot)) == (STATUS, PROGRESS, JOIN)
    assert handler_of(usual) == usual.app._handle and hotpath.served(handler_of(usual)) == ()
    # The polls' answers are public (web.edgecache); the join's is private (it names the fan): both paths mark it.
    assert [caching.is_private(route.handler) for route in hotpath.ROUTES] == [False, False, True]
    assert hotpath.refusal(hot.app) is None
    assert hotpath.refusal(usual.app) == "the app has aiohttp middlewares"


@pytest.fixture
def resolved(monkeypatch) -> list[str]:
    """The paths the /events dispatcher resolves from now on (the router's walk)."""
    paths = []
    original = EventRoutes.resolve

    async def counted(self, request):
        paths.append(request.path)
        return await original(self, request)

    monkeypatch.setattr(EventRoutes, "resolve", counted)
    return paths


async def test_the_polls_and_a_join_skip_the_router_and_other_requests_walk_it(hot, poll_target, progress_target,
                                                                              resolved):
    assert (await hot.get(poll_target)).status == 200
    assert (await hot.get(progress_target)).status == 200
    join_path = poll_target.split("/waiting-room/")[0] + JOIN
    assert (await hot.post(join_path, headers={"X-User-Id": "fan-2"})).status == 201
    assert resolved == []
    fairness = poll_target.split(STATUS)[0] + "/waiting-room/fairness"
    assert (await hot.get(fairness)).status == 200
    assert (await hot.post(join_path, data=b"{}", headers={"Content-Type": "application/json"})).status == 201
    assert resolved == [fairness, join_path]


# -- the same answers as the usual path ----------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("case", ["plain", *EDGE_CASES, "token among other parameters", "token percent-escaped"])
async def test_a_poll_is_answered_as_the_usual_path_answers_it(hot, usual, poll_target, method, case):
    extra, version = edge_case(case)
    headers, target = [f"X-Request-Id: {RID}", *extra], poll_target
    if case == "token among other parameters":
        target = poll_target.replace("?", "?lang=en&")
    elif case == "token percent-escaped":
        target = poll_target.replace("token=", "%74oken=")
    answer = await same_answer(hot, usual, method, target, *headers, version=version)
    assert answer.startswith(f"HTTP/{version} 200 OK\r\n".encode())
    assert f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in answer
    assert b"\r\nCache-Control: public, " in answer and b"\r\nETag: W/\"" in answer and b"\r\nVary: Origin\r\n" in answer
    assert (f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer) == (case == "allowed origin")
    assert answer.endswith(b"\r\n\r\n") == (method == "HEAD")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("route", ["status", "progress"])
async def test_a_poll_with_the_current_etag_is_the_same_304(hot, usual, poll_target, progress_target, route, method):
    target = poll_target if route == "status" else progress_target
    first = await hot.get(target)
    etag = first.headers["ETag"]
    for tags in (etag, f'W/"other", {etag}', "*"):
        answer = await same_answer(hot, usual, method, target, f"If-None-Match: {tags}", f"X-Request-Id: {RID}",
                                   f"Origin: {ORIGIN}")
        assert answer.startswith(b"HTTP/1.1 304 Not Modified\r\n")
        assert b"Content-Length" not in answer and answer.endswith(b"\r\n\r\n")
        assert f"\r\nETag: {etag}\r\n".encode() in answer and f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
        assert f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer
    changed = await same_answer(hot, usual, method, target, 'If-None-Match: W/"other"', f"X-Request-Id: {RID}")
    assert changed.startswith(b"HTTP/1.1 200 OK\r\n")


#: What a poll's document says of its fan (status) or of the queue (progress) before and after one admission.
ADMISSION = {"status": ("admission", "queued", b'"admission":"admitted"'),
             "progress": ("admittedThrough", 0, b'"admittedThrough":1,')}


@pytest.mark.parametrize("route", ["status", "progress"])
async def test_an_admission_is_seen_at_once_with_a_new_etag(hot, usual, db, runtime, route):
    event = make_event(on_sale_in_s=-1, wave_size=1)
    _, joined = await join(usual, event, "fan-1")
    target = f"/events/{event.id}/waiting-room/{route}" + (f"?token={joined['token']}" if route == "status" else "")
    field, before, after = ADMISSION[route]
    first = await hot.get(target)
    assert (await first.json())[field] == before
    admit_waves(runtime)
    for client in (hot, usual):
        fresh(client, event)
    answer = await same_answer(hot, usual, "GET", target, f"If-None-Match: {first.headers['ETag']}",
                               f"X-Request-Id: {RID}")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and after in answer
    assert f"\r\nETag: {first.headers['ETag']}\r\n".encode() not in answer


@pytest.mark.parametrize("case", ["no token", "empty token", "unknown token", "another event's token", "unknown event",
                                  "not a uuid", "draft event"])
async def test_a_refused_poll_is_the_same_problem_with_the_edges_headers(hot, usual, poll_target, db, case):
    event_path, _, query = poll_target.partition("?")
    other = make_event(on_sale_in_s=-1)
    target = {
        "no token": event_path,
        "empty token": f"{event_path}?token=",
        "unknown token": f"{event_path}?token={'A' * 44}",
        "another event's token": f"/events/{other.id}/waiting-room/status?{query}",
        "unknown event": f"/events/{uuid.uuid4()}/waiting-room/status?{query}",
        "not a uuid": f"/events/not-a-uuid/waiting-room/status?{query}",
        "draft event": f"/events/{make_event(status='draft').id}/waiting-room/status?{query}",
    }[case]
    answer = await same_answer(hot, usual, "GET", target, f"X-Request-Id: {RID}", f"Origin: {ORIGIN}")
    assert re.match(rb"HTTP/1.1 4\d\d ", answer)
    assert b"\r\nContent-Type: application/problem+json\r\n" in answer
    assert f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
    assert f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer


async def test_an_unsafe_or_missing_request_id_gets_a_new_unique_one(hot, poll_target):
    ids = set()
    for headers in ([], ["X-Request-Id: has spaces"], ["X-Request-Id: " + "x" * 129]):
        (answer,) = await exchange(hot, [request("GET", poll_target, *headers)])
        ids.add(re.search(rb"\r\nX-Request-Id: ([0-9a-f]{32})\r\n", answer).group(1))
    assert len(ids) == 3


async def test_polls_pipelined_on_one_connection_are_each_answered_and_it_stays_open(hot, poll_target, progress_target):
    answers = await exchange(hot, [request("GET", poll_target), request("HEAD", poll_target),
                                   request("GET", progress_target), request("GET", poll_target, "Connection: close")],
                             closes=True)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 4
    assert b"Connection: close" in answers[3] and not any(b"Connection:" in a for a in answers[:3])


@pytest.mark.parametrize("route", ["status", "progress"])
async def test_a_poll_is_timed_under_its_route(hot, poll_target, progress_target, route):
    # A refused poll too: the status's without a token (400), the progress of an unknown event (404).
    target, refused, error = ((poll_target, poll_target.split("?")[0], "400") if route == "status"
                              else (progress_target, f"/events/{uuid.uuid4()}{PROGRESS}", "404"))
    label = f"/events/{{id}}/waiting-room/{route}"

    async def count(method: str, status: str) -> float:
        families = parse(await (await hot.get("/metrics")).text())
        return value(families["ticketdrop_http_request_duration_seconds"], "ticketdrop_http_request_duration_seconds_count",
                     route=label, method=method, status=status) or 0

    before = [await count("GET", "200"), await count("HEAD", "200"), await count("GET", "304"), await count("GET", error)]
    etag = (await hot.get(target)).headers["ETag"]
    await hot.head(target)
    await hot.get(target, headers={"If-None-Match": etag})
    await hot.get(refused)
    after = [await count("GET", "200"), await count("HEAD", "200"), await count("GET", "304"), await count("GET", error)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1]


# -- the progress poll: the same answers as the usual path -----------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("case", ["plain", *EDGE_CASES, "a query string"])
async def test_a_progress_poll_is_answered_as_the_usual_path_answers_it(hot, usual, progress_target, method, case):
    extra, version = edge_case(case)
    target = f"{progress_target}?t=1733000000" if case == "a query string" else progress_target  # a cache buster
    answer = await same_answer(hot, usual, method, target, f"X-Request-Id: {RID}", *extra, version=version)
    assert answer.startswith(f"HTTP/{version} 200 OK\r\n".encode())
    assert f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in answer and b"\r\nContent-Type: application/json\r\n" in answer
    # public and the same for every fan: no private marks, a strong ETag
    assert b"\r\nCache-Control: public, " in answer and b'\r\nETag: "' in answer and b"\r\nVary: Origin\r\n" in answer
    assert (f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer) == (case == "allowed origin")
    assert (b"Connection: close" in answer) == (case == "connection close")  # HTTP/1.0 closes by default
    assert answer.endswith(b"\r\n\r\n") == (method == "HEAD")
    if method == "GET":
        assert b'"total":1,' in answer and b'"admittedThrough":0,' in answer


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("case", ["unknown event", "not a uuid", "draft event"])
async def test_a_refused_progress_poll_is_the_same_problem_with_the_edges_headers(hot, usual, db, method, case):
    event_id = {"unknown event": uuid.uuid4(), "not a uuid": "not-a-uuid"}.get(case) or make_event(status="draft").id
    answer = await same_answer(hot, usual, method, f"/events/{event_id}{PROGRESS}", f"X-Request-Id: {RID}",
                               f"Origin: {ORIGIN}")
    assert answer.startswith(b"HTTP/1.1 404 ") or (case == "not a uuid" and answer[9:12] == b"400")
    assert b"\r\nContent-Type: application/problem+json\r\n" in answer
    assert b"Cache-Control" not in answer  # a problem is not the room's document: no edge cache keeps it
    assert f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
    assert f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer
    assert answer.endswith(b"\r\n\r\n") == (method == "HEAD")


# -- the join: the same answers as the usual path --------------------------------------------------

_TOKEN = re.compile(rb'"token":"[^"]{44}"')


@pytest.fixture
def twins(db):
    """``twins(**fields)``: two events alike, one for each server (a join changes its room)."""
    on_sale_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)

    def make(**fields):
        return tuple(make_event(on_sale_at=on_sale_at, **fields) for _ in range(2))

    return make


async def same_join(hot, usual, pair, *headers: str, method: str = "POST", tail: str = JOIN, **kw) -> bytes:
    """Ask the hot server about ``pair[0]``'s room and the usual one about ``pair[1]``'s; assert the
    same bytes but for Date, the token and the event's id; return the hot path's answer."""
    answers = []
    for client, event in zip((hot, usual), pair, strict=True):
        (answer,) = await exchange(client, [request(method, f"/events/{event.id}{tail}", *headers, **kw)])
        answers.append(answer)
    # A problem's instance names the event: the usual one's id spelled as the hot one's (same length).
    slow = answers[1].replace(str(pair[1].id).encode(), str(pair[0].id).encode())
    fast, slow = (_TOKEN.sub(b'"token":"-"', undated(answer)) for answer in (answers[0], slow))
    assert fast == slow
    return answers[0]


def private_and_counted(answer: bytes, *, origin: bool = False, counted: bool = True) -> bool:
    """The join's answer is private (web.caching), carries the edge's headers and (``counted``)
    the RateLimit fields."""
    vary = b"X-User-Id, Authorization, Origin" if origin else b"X-User-Id, Authorization"
    fields = [b"\r\nCache-Control: no-store\r\n", b"\r\nVary: " + vary + b"\r\n", f"\r\nX-Request-Id: {RID}\r\n".encode(),
              b"\r\nX-Content-Type-Options: nosniff\r\n"]
    limits = (b"\r\nRateLimit: ", b"\r\nRateLimit-Policy: ")
    return all(field in answer for field in fields) and all((field in answer) == counted for field in limits)


@pytest.mark.parametrize("case", ["new fan", "joined before", "no X-User-Id", *EDGE_CASES, "Content-Length: 0"])
async def test_a_join_is_answered_as_the_usual_path_answers_it(hot, usual, twins, case):
    pair = twins(on_sale_in_s=-1)
    extra, version = edge_case(case)
    headers = [f"X-Request-Id: {RID}", "X-User-Id: fan-1", *extra]
    if case == "no X-User-Id":
        headers.remove("X-User-Id: fan-1")
    elif case == "Content-Length: 0":
        headers.append("Content-Length: 0")
    elif case == "joined before":
        assert (await same_join(hot, usual, pair, *headers)).startswith(b"HTTP/1.1 201 Created\r\n")
    answer = await same_join(hot, usual, pair, *headers, version=version)
    status = "200 OK" if case == "joined before" else "201 Created"
    assert answer.startswith(f"HTTP/{version} {status}\r\n".encode())
    assert b"\r\nContent-Type: application/json\r\n" in answer and b'"token":"' in answer
    # an anonymous join names no fan: nothing is counted (as on the usual path)
    assert private_and_counted(answer, origin=case == "allowed origin", counted=case != "no X-User-Id")
    assert (f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer) == (case == "allowed origin")
    assert (b"Connection: close" in answer) == (case == "connection close")  # HTTP/1.0 closes by default


async def test_a_fans_join_over_the_limit_is_the_same_429_with_retry_after(hot, usual, twins):
    pair = twins(on_sale_in_s=-1)
    headers = [f"X-Request-Id: {RID}", "X-User-Id: fan-1", f"Origin: {ORIGIN}"]
    answers = [await same_join(hot, usual, pair, *headers) for _ in range(JOINS_PER_MIN + 1)]
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 201 Created"] + [b"HTTP/1.1 200 OK"] * (
        JOINS_PER_MIN - 1) + [b"HTTP/1.1 429 Too Many Requests"]
    refused = answers[-1]
    assert b"\r\nContent-Type: application/problem+json\r\n" in refused and b"\r\nRetry-After: " in refused
    assert private_and_counted(refused, origin=True)
    assert f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in refused


@pytest.mark.parametrize("case", ["unknown event", "not a uuid", "draft event", "closed event", "canceled event",
                                  "malformed X-User-Id"])
async def test_a_refused_join_is_the_same_problem_with_the_edges_headers(hot, usual, db, case):
    event_id = {"unknown event": uuid.uuid4(), "not a uuid": "not-a-uuid",
                "draft event": make_event(status="draft").id, "closed event": make_event(status="closed").id,
                "canceled event": make_event(status="canceled").id}.get(case) or make_event(on_sale_in_s=-1).id
    user = "has space" if case == "malformed X-User-Id" else "fan-1"
    answer = await same_answer(hot, usual, "POST", f"/events/{event_id}{JOIN}", f"X-Request-Id: {RID}",
                               f"Origin: {ORIGIN}", f"X-User-Id: {user}")
    expected = {"closed event": 409, "canceled event": 409, "malformed X-User-Id": 400}.get(case, 404)
    assert answer.startswith(f"HTTP/1.1 {expected} ".encode()) or (case == "not a uuid" and answer[9:12] == b"400")
    assert b"\r\nContent-Type: application/problem+json\r\n" in answer
    assert b"\r\nCache-Control: no-store\r\n" in answer and b"\r\nVary: X-User-Id, Authorization, Origin\r\n" in answer
    assert f"\r\nX-Request-Id: {RID}\r\n".encode() in answer
    assert f"\r\nAccess-Control-Allow-Origin: {ORIGIN}\r\n".encode() in answer


@pytest.mark.parametrize("case", ["a body", "a body too large", "chunked", "Expect", "trailing slash", "GET", "PUT"])
async def test_join_requests_the_hot_path_does_not_take_are_answered_as_before(hot, usual, twins, settings, resolved,
                                                                                case):
    pair = twins(on_sale_in_s=-1)
    method, tail, headers, body = "POST", JOIN, [f"X-Request-Id: {RID}", f"Origin: {ORIGIN}", "X-User-Id: fan-1"], b""
    if case in ("a body", "a body too large"):
        extra, body = body_case(case, settings)
        headers += extra
    elif case == "chunked":
        body = b"0\r\n\r\n"
        headers.append("Transfer-Encoding: chunked")
    elif case == "Expect":
        headers += ["Expect: 100-continue", "Content-Length: 0"]
    elif case == "trailing slash":
        tail = JOIN + "/"
    else:
        method = case
        headers.append("Content-Length: 0")
    answer = await same_join(hot, usual, pair, *headers, method=method, tail=tail, body=body)
    assert f"/events/{pair[0].id}{tail}" in resolved  # the hot server walked the router
    if case == "a body too large":
        assert answer.startswith(b"HTTP/1.1 413 ")  # documented (web.openapi: any route, any body)


async def test_the_join_is_timed_under_its_route(hot, db):
    label = "/events/{id}/waiting-room/join"
    event = make_event(on_sale_in_s=-1)

    async def count(status: str) -> float:
        families = parse(await (await hot.get("/metrics")).text())
        return value(families["ticketdrop_http_request_duration_seconds"], "ticketdrop_http_request_duration_seconds_count",
                     route=label, method="POST", status=status) or 0

    before = [await count("201"), await count("200"), await count("404")]
    for target in (f"/events/{event.id}{JOIN}", f"/events/{event.id}{JOIN}", f"/events/{uuid.uuid4()}{JOIN}"):
        await hot.post(target, headers={"X-User-Id": "fan-1"})
    after = [await count("201"), await count("200"), await count("404")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


# -- everything else as before -------------------------------------------------------------------

@pytest.mark.parametrize("case", ["another route", "trailing slash", "empty id", "escaped slash in the id",
                                  "id with braces", "POST", "PUT", "preflight", "OPTIONS without preflight", "a body",
                                  "a body too large", "Expect", "unknown tail", "no such route"])
@pytest.mark.parametrize("tail", [STATUS, PROGRESS])
async def test_requests_the_hot_path_does_not_take_are_answered_as_before(hot, usual, poll_target, settings, tail, case):
    event_path, _, query = poll_target.partition("?")
    prefix = event_path.removesuffix(STATUS)
    query = f"?{query}" if tail == STATUS else ""  # the progress document takes none
    method, target, headers, body = "GET", f"{prefix}{tail}{query}", [f"X-Request-Id: {RID}", f"Origin: {ORIGIN}"], b""
    if case == "another route":
        target = f"{prefix}/waiting-room/fairness"
    elif case == "trailing slash":
        target = f"{prefix}{tail}/{query}"
    elif case == "empty id":
        target = f"/events/{tail}{query}"
    elif case == "escaped slash in the id":
        target = f"/events/a%2Fb{tail}{query}"
    elif case == "id with braces":
        target = f"/events/%7Bid%7D{tail}{query}"
    elif case in ("POST", "PUT"):
        method = case
        headers.append("Content-Length: 0")
    elif case == "preflight":
        method = "OPTIONS"
        headers.append("Access-Control-Request-Method: GET")
    elif case == "OPTIONS without preflight":
        method = "OPTIONS"
    elif case in ("a body", "a body too large"):
        extra, body = body_case(case, settings)
        headers += extra
    elif case == "Expect":
        headers.append("Expect: 100-continue")
        headers.append("Content-Length: 0")
    elif case == "unknown tail":
        target = f"{prefix}{tail}es{query}"
    elif case == "no such route":
        target = f"/eventsx{prefix[7:]}{tail}{query}"
    answer = await same_answer(hot, usual, method, target, *headers, body=body)
    if case == "a body too large":
        assert answer.startswith(b"HTTP/1.1 413 ")  # documented (web.openapi: any route, any body)


@pytest.mark.parametrize("tail", [STATUS, PROGRESS])
async def test_a_route_that_shadows_a_polls_path_keeps_it(settings, aredis, redis, db, stub_broker, runtime,
                                                          aiohttp_client, poll_target, tail):
    from web.app import create_app

    app = create_app(settings, redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    event_path, _, query = poll_target.partition("?")
    shadowed = event_path.removesuffix(STATUS) + tail
    target = f"{shadowed}?{query}"

    async def special(request):
        return web.json_response({"special": True})

    app.router.add_get(shadowed, special)
    client = await aiohttp_client(app)
    assert hotpath.refusal(app) is None
    assert await (await client.get(target)).json() == {"special": True}
    other = target.replace(event_path.split("/")[2], str(uuid.uuid4()))
    assert (await client.get(other)).status == 404  # another event's poll: the hot path, an unknown event


# -- when it steps aside -------------------------------------------------------------------------

async def _started_refusal(aiohttp_client, app) -> tuple[str | None, object]:
    client = await aiohttp_client(app)
    return hotpath.refusal(app), handler_of(client)


async def test_an_operator_turning_hot_path_off_keeps_the_usual_path_for_every_route_and_the_log_says_so(
        settings, aredis, redis, db, stub_broker, runtime, aiohttp_client, poll_target, progress_target, resolved, caplog):
    from web.app import create_app

    app = create_app(settings.model_copy(update={"hot_path": False}), redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    with caplog.at_level("INFO", logger="ticketdrop.web"):
        client = await aiohttp_client(app)
    assert hotpath.refusal(app) == "HOT_PATH is off" and handler_of(client).__module__ != "web.hotpath"
    assert [r.reason for r in caplog.records if r.getMessage() == "the hot routes take the usual path"] == [
        "HOT_PATH is off"]
    answer = await client.get(poll_target)
    assert answer.status == 200 and (await answer.json())["admission"] == "queued"
    answer = await client.get(progress_target)
    assert answer.status == 200 and (await answer.json())["total"] == 1
    join_path = poll_target.split("/waiting-room/")[0] + JOIN
    assert (await client.post(join_path, headers={"X-User-Id": "fan-2"})).status == 201
    assert resolved == [poll_target.split("?")[0], progress_target, join_path]  # every one walked the router


async def test_an_aiohttp_middleware_or_response_signal_keeps_the_usual_path(hot_app, aiohttp_client):
    @web.middleware
    async def stamp(request, handler):
        return await handler(request)

    hot_app.middlewares.append(stamp)
    reason, handler = await _started_refusal(aiohttp_client, hot_app)
    assert reason == "the app has aiohttp middlewares" and handler.__module__ != "web.hotpath"


async def test_a_response_prepare_signal_keeps_the_usual_path(hot_app, aiohttp_client):
    async def on_prepare(request, response):
        pass

    hot_app.on_response_prepare.append(on_prepare)
    reason, handler = await _started_refusal(aiohttp_client, hot_app)
    assert reason == "the app has on_response_prepare signals" and handler.__module__ != "web.hotpath"


async def test_a_domain_sub_app_keeps_the_usual_path(hot_app, aiohttp_client):
    hot_app.add_domain("example.com", web.Application())
    reason, handler = await _started_refusal(aiohttp_client, hot_app)
    assert reason == "the app has domain sub-apps" and handler.__module__ != "web.hotpath"


def route_refusals(app) -> list[str | None]:
    return [hotpath.route_refusal(app, route) for route in hotpath.ROUTES]


async def test_a_hook_middleware_keeps_the_usual_path(hot_app, aiohttp_client, monkeypatch):
    async def stamp(request, handler):
        return await handler(request)

    monkeypatch.setattr(hooks, "outer_middlewares", lambda: [stamp])
    reason, handler = await _started_refusal(aiohttp_client, hot_app)
    assert reason is None and handler.__module__ != "web.hotpath"
    assert [r.split(" is ")[1] for r in route_refusals(hot_app)] == [
        "not the edge step around the status handler alone", "not the edge step around the progress handler alone",
        "not the edge step around the join handler alone"]


@pytest.mark.parametrize("limited", ["status", "progress"])
async def test_the_polls_have_no_edge_rate_limit_and_one_would_keep_its_route_on_the_usual_path(
        hot_app, aiohttp_client, monkeypatch, limited):
    labels = {tail: f"/events/{{id}}{tail}" for tail in (STATUS, PROGRESS)}
    assert all(ratelimit.edge_scope(method, label) is None for label in labels.values() for method in ("GET", "HEAD"))
    assert ratelimit.edge_scope("POST", "/events/{id}/waiting-room/join") is None  # the join counts its own
    tail = STATUS if limited == "status" else PROGRESS
    monkeypatch.setattr(ratelimit, "edge_scope", lambda method, path: "join" if path == labels[tail] else None)
    reason, handler = await _started_refusal(aiohttp_client, hot_app)
    refused = f"the edge counts a rate limit for GET {labels[tail]}"
    assert reason is None and route_refusals(hot_app) == [refused if r.tail == tail else None for r in hotpath.ROUTES]
    assert hotpath.served(handler) == tuple(r.tail for r in hotpath.ROUTES if r.tail != tail)  # the others still hot


@pytest.mark.parametrize("keyed", ["jwks", "secret"])
async def test_with_a_jwks_identitys_middleware_keeps_the_usual_path_and_with_a_secret_it_does_not(
        settings, aredis, redis, db, stub_broker, runtime, aiohttp_client, tmp_path, keyed):
    from tests.identity_keys import Provider, jwt_settings
    from web.app import create_app

    jwks_file = Provider().write_jwks(tmp_path / "jwks.json") if keyed == "jwks" else None
    app = create_app(jwt_settings(settings, jwks_file=jwks_file), redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    reason, handler = await _started_refusal(aiohttp_client, app)
    assert reason is None
    if keyed == "jwks":
        assert all(r.endswith("handler alone") for r in route_refusals(app)) and handler.__module__ != "web.hotpath"
    else:
        assert route_refusals(app) == [None, None, None] and hotpath.served(handler) == (STATUS, PROGRESS, JOIN)


@pytest.mark.parametrize(("code", "reason"), [(202, "Accepted"), (299, "")])
async def test_a_status_a_route_adds_later_goes_out_with_its_reason_phrase(hot_app, aiohttp_client, poll_target,
                                                                           monkeypatch, code, reason):
    # A status without a phrase (299) goes out as aiohttp writes it, with an empty one, not as a 500.
    status_route = hotpath.ROUTES[0]

    async def other(request):
        _, fields, body = await status_route.parts(request)
        return code, fields, body

    monkeypatch.setattr(hotpath, "ROUTES", (status_route._replace(parts=other),))
    client = await aiohttp_client(hot_app)
    (answer,) = await exchange(client, [request("GET", poll_target)])
    assert hotpath.served(handler_of(client)) == (status_route.tail,)
    assert answer.startswith(f"HTTP/1.1 {code} {reason}\r\n".encode())
