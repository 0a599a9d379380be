"""Generated requests answered alike by the hot path and the usual one (web/hotpath.py promises the
same bytes but for Date for whatever it takes, and hands everything else to the usual path).

A seeded generator (the same requests on every run) writes a few hundred requests around every
route of :data:`web.hotpath.ROUTES` (a route added there is asked about too): requests the hot
path takes, with ids, queries, HTTP versions and the headers the edge reads (Connection,
X-User-Id or Authorization, Origin, X-Request-Id, If-None-Match, X-Forwarded-For) well formed or
not, and the same changed one to three ways it hands on (another method, path shape, escaped id,
tail, a body, chunked, Expect). Each goes raw to two servers on the same Redis and database,
``hot`` (the app as ``python -m web`` builds it) and ``off`` (the same app with HOT_PATH off);
once answered, a status poll that closes the connection follows on it (keep-alive after any
answer). What each server sends back, both answers, must be the same bytes but for what
:func:`comparable` sets aside, and each request must be timed under the same route label and
status. A route that changes its event (the join) is asked about an event of each server's own,
the two made alike (test_hotpath.py's ``twins``); the others about one event both servers read.
(Raw UTF-8 or control characters in a path or header never reach either path: llhttp refuses them.)"""

from __future__ import annotations

import asyncio
import os
import random
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from tests.conftest import make_settings
from tests.identity_keys import Provider, jwt_settings, tampered, unsigned
from tests.unit.web.test_hotpath import (  # noqa: F401 - fixtures, used by name
    _DATE,
    _TOKEN,
    JOINS_PER_MIN,
    ORIGIN,
    hot,
    hot_app,
    read_answer,
    still_clock,
    twins,
)
from tests.unit.web.test_waiting_room import make_event
from web import hotpath
from web.appkeys import SYNC_REDIS
from web.metrics import RequestTimings

#: The generator's seed and the requests per run (about 10 s of the unit suite on the shared 2-core
#: machine); HOTPATH_FUZZ_SEED and HOTPATH_FUZZ_REQUESTS ask for other or more, for a longer hunt.
SEED = int(os.environ.get("HOTPATH_FUZZ_SEED", "20261201"))
REQUESTS = int(os.environ.get("HOTPATH_FUZZ_REQUESTS", "400"))
#: How long a server may take to answer a request and the poll after it.
ANSWER_S = 5.0
#: The event id both servers are asked about where a route changes its event: each server's own twin.
OWN = "{own}"


#: The deployments asked, and the share of REQUESTS each gets: test_hotpath.py's (demo identity:
#: fans name themselves with X-User-Id; CORS for listed origins), one behind a proxy that counts
#: clients by X-Forwarded-For (limits per address and on unknown events), and one with a JWT
#: (HS256) identity; both of these allow any origin (the hot path writes the caller's Origin out).
DEPLOYMENTS = {"demo identity, listed origins": 1.0, "proxy identity, limits per address, any origin": 0.5,
               "JWT identity, any origin": 0.5}


@pytest.fixture(params=list(DEPLOYMENTS))
def settings(request, tmp_path):
    # test_hotpath.py's settings: a fan's fourth join of an event within the minute is refused (429).
    listed = make_settings(tmp_path, cors_origins=(ORIGIN,), rate_join_per_min=JOINS_PER_MIN)
    if request.param.startswith("demo"):
        return listed
    if request.param.startswith("proxy"):
        return listed.with_(identity_mode="proxy", cors_origins=("*",), trust_forwarded_for=True,
                            rate_per_ip_per_min=2 * JOINS_PER_MIN, rate_unknown_event_per_min=20)
    return jwt_settings(listed.with_(cors_origins=("*",)))


@pytest.fixture
async def off(aiohttp_client, settings, aredis, redis, db, stub_broker, runtime):
    """The same app with HOT_PATH off: every request takes the usual path."""
    from web.app import create_app

    app = create_app(settings.model_copy(update={"hot_path": False}), redis=aredis, broker=stub_broker, bind_db=False)
    app[SYNC_REDIS] = redis
    client = await aiohttp_client(app)
    assert hotpath.refusal(app) == "HOT_PATH is off"
    return client


@dataclass
class World:
    """What the generator names: the events, a fan's token and the poll's ETag."""

    event: str
    token: str
    other_token: str
    etag: str
    draft: str
    closed: str
    own: tuple[str, str]  #: the twins, the hot server's first
    probe: bytes
    #: How a request may name its fan in this deployment (header lines, well formed or not).
    fans: list[bytes]


def fans(settings) -> tuple[dict[str, str], list[bytes]]:
    """fan-1's headers in this deployment, and the ways a request may name a fan in it."""
    named = [b"X-User-Id: fan-1", b"X-User-Id: fan-2", b"X-User-Id: ", b"X-User-Id: " + b"x" * 129,
             b"X-User-Id: has space", b"X-User-Id: f\xc3\xa4n", b"X-User-Id: f\xe4n", b"X-User-Id: \xff\xfe"]
    if settings.identity_mode != "jwt":
        return {"X-User-Id": "fan-1"}, named + [f"X-User-Id: fan-{n}".encode() for n in range(8)]
    provider = Provider()
    one, two = (provider.token(fan, alg="HS256") for fan in ("fan-1", "fan-2"))
    signed = [f"Authorization: Bearer {token}".encode() for token in (one, two, one, two)]
    return {"Authorization": f"Bearer {one}"}, signed + named[:2] + [
        f"Authorization: Bearer {tampered(one, sub='fan-3')}".encode(), f"Authorization: Bearer {unsigned()}".encode(),
        f"Authorization: bearer {one}".encode(), b"Authorization: Bearer", b"Authorization: Bearer x.y.z",
        b"Authorization: Basic YTpi", f"Authorization: Bearer {provider.token('has space', alg='HS256')}".encode()]


@pytest.fixture
async def world(off, twins, db, settings) -> World:  # noqa: F811 - test_hotpath.py's fixture
    fan, named = fans(settings)
    event, other = make_event(on_sale_in_s=-1), make_event(on_sale_in_s=-1)
    tokens = []
    for joined in (event, other):
        answer = await off.post(f"/events/{joined.id}/waiting-room/join", headers=fan)
        assert answer.status == 201, await answer.text()
        tokens.append((await answer.json())["token"])
    poll = f"/events/{event.id}/waiting-room/status?token={tokens[0]}"
    etag = (await off.get(poll)).headers["ETag"]
    pair = twins(on_sale_in_s=-1)
    probe = f"GET {poll} HTTP/1.1\r\nHost: test\r\nX-Request-Id: probe\r\nConnection: close\r\n\r\n".encode()
    return World(str(event.id), *tokens, etag, str(make_event(status="draft").id), str(make_event(status="closed").id),
                 (str(pair[0].id), str(pair[1].id)), probe, named)


@dataclass
class Generated:
    """One request, its event id ``{own}`` where the route changes its event (:data:`OWN`)."""

    method: str
    target: str
    version: str = "1.1"
    headers: list[bytes] = field(default_factory=list)
    body: bytes = b""

    def raw(self, own: str) -> bytes:
        line = f"{self.method} {self.target.replace(OWN, own)} HTTP/{self.version}".encode()
        return b"\r\n".join([line, b"Host: test", *self.headers]) + b"\r\n\r\n" + self.body


def one_of(rng: random.Random, *choices):
    return rng.choice(choices)


def ident(rng: random.Random, world: World, own: str) -> str:
    """An event id the hot path takes: mostly the route's event, else another spelling of it, an
    unknown, draft or closed one, or one no event has (escaped UTF-8 and very long ones too)."""
    return one_of(
        rng, *[own] * 12, own.upper(), own.replace("-", ""), f"urn:uuid:{own}", str(uuid.uuid4()), world.draft,
        world.closed, "not-a-uuid", ".", "..", "a;b", "a+b", own + ";v=1", "x" * rng.choice((129, 2000, 7000)),
        "%F0%9F%8E%9F", "%C3%A9", "%20", "%00", "%FF", "%ED%A0%80", "%61")


def query(rng: random.Random, world: World) -> str:
    """A query the hot path takes to the route's own parsing: mostly the fan's token."""
    token, other = world.token, world.other_token
    return one_of(
        rng, *[f"?token={token}"] * 8, "", "?", "?token=", "?token", f"?token={other}", f"?token={token}&token={other}",
        f"?token={other}&token={token}", f"?lang=en&token={token}", f"?token={token}&lang=en", "?lang=en",
        f"?%74oken={token}", f"?token={quote(token, safe='')}", f"?token={token[:20]}%{token[20:]}", f"?token={token}+",
        "?token=%00", f"?token={'A' * 44}", f"?token={token}#frag", f"?TOKEN={token}", f"?token={token};x=1",
        f"?token={'x' * 5000}", f"?token={token}&", f"?token=%C3%A9{token}")


def headers(rng: random.Random, world: World, private: bool) -> list[bytes]:
    """The headers the edge reads, each present or not, well formed or not (in any order)."""
    out: list[bytes] = []
    connection = one_of(rng, None, None, None, "close", "keep-alive", "Keep-Alive", "close, keep-alive", "upgrade",
                        "TE")
    if connection is not None:
        out.append(f"Connection: {connection}".encode())
    if connection == "upgrade" and rng.random() < 0.5:
        out.append(b"Upgrade: websocket")
    if rng.random() < (0.8 if private else 0.2):
        out.append(rng.choice(world.fans))
    origin = one_of(rng, None, None, ORIGIN, ORIGIN, "https://evil.example", "null", ORIGIN + "/", ORIGIN.upper(),
                    "http://é.example", "http://a\tb")
    if origin is not None:
        out.append(f"Origin: {origin}".encode())
    rid = one_of(rng, None, None, "trace-hot-1", "a.b:c-d_e", "has space", "x" * 128, "x" * 129, "", "-")
    if rid is not None:
        out.append(f"X-Request-Id: {rid}".encode())
    if rng.random() < 0.05:
        out.append(one_of(rng, b"X-Request-Id: tr\xc3\xa4ce", b"Origin: http://\xe9.example", b"Origin: \xff\xfe"))
    weak, strong = world.etag, world.etag.removeprefix("W/")
    tags = one_of(rng, None, None, None, weak, strong, f'W/"other", {weak}', f"{weak},{weak}", "*", 'W/"other"', "",
                  "W/", f" {weak} ", f'"{strong}"')
    if tags is not None:
        out.append(f"If-None-Match: {tags}".encode())
    if rng.random() < 0.3:
        out.append(one_of(rng, b"X-Forwarded-For: 10.0.0.1", b"X-Forwarded-For: 10.0.0.2", b"X-Forwarded-For: ",
                          b"X-Forwarded-For: 10.0.0.9, 10.0.0.1", f"X-Forwarded-For: 10.1.{rng.randrange(256)}.1".encode()))
    if rng.random() < 0.1:
        out.append(one_of(rng, b"Accept-Encoding: gzip, br", b"Accept: text/html", b"Authorization: Bearer abc",
                          b"Cookie: a=b", b"Forwarded: for=10.0.0.1", b"X-Forwarded-For: 10.0.0.1",
                          b"Content-Type: application/json", b"Cache-Control: no-cache", b"Range: bytes=0-1",
                          b"Content-Length: 0", b"X-Request-Id: second", b"Origin: https://evil.example"))
    rng.shuffle(out)
    return out


def escaped_last(text: str) -> str:
    """``text`` with its last character percent-escaped (one the path decodes to the same)."""
    return text[:-1] + "%" + format(ord(text[-1]), "02X") if text and text[-1].isascii() else text


def hand_off(rng: random.Random, generated: Generated, tails: list[str]) -> None:
    """Change ``generated`` one way the hot path leaves to the usual one (or one that looks so)."""
    case = rng.randrange(6)
    prefix, _, rest = generated.target.partition("/events/")
    ident, slash, rest = rest.partition("/")
    tail, mark, query_ = ("/" + rest).partition("?")
    if case == 0:
        generated.method = one_of(rng, "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "post",
                                  "head", "Get")
        if generated.method == "OPTIONS" and rng.random() < 0.5:
            generated.headers.append(b"Access-Control-Request-Method: GET")
    elif case == 1:
        prefix = one_of(rng, "/", "//", "/api/", "http://test/") + one_of(rng, "events/", "Events/", "events//",
                                                                          "events/./", "events%2F", "events")
        generated.target = prefix + ident + slash + rest
    elif case == 2:
        ident = one_of(rng, "", "a%2Fb", f"{ident}%2F", "%25", "%7Bid%7D", "{id}", "%zz" + ident, ident + "%",
                       "%2E%2E", quote(ident), escaped_last(ident), "a/b")
        generated.target = "/events/" + ident + tail + mark + query_
    elif case == 3:
        head, _, last = tail.rpartition("/")
        tail = one_of(
            rng, tail + "/", tail + "//", tail + "/extra", "/extra" + tail, head, head + "/", head + "//" + last,
            tail.replace("/", "//", 1), tail.upper(), tail + "%2F", tail.replace("-", "%2D"), tail + ".json",
            head + "/" + escaped_last(last), head + "/./" + last, head + "/../" + tail[1:],
            rng.choice(tails), "/waiting-room/progress", "")
        generated.target = "/events/" + ident + tail + mark + query_
    elif case == 4 and not generated.body and not any(h.startswith((b"Content-Length", b"Expect"))
                                                      for h in generated.headers):
        extra, generated.body = one_of(
            rng, ([b"Content-Length: 0"], b""), ([b"Content-Type: application/json", b"Content-Length: 2"], b"{}"),
            ([b"Transfer-Encoding: chunked"], b"0\r\n\r\n"),
            ([b"Content-Type: application/json", b"Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n"),
            ([b"Expect: 100-continue", b"Content-Length: 0"], b""), ([b"Expect: 100-continue"], b""),
            ([b"Expect: 100-continue", b"Content-Type: application/json", b"Content-Length: 2"], b"{}"))
        generated.headers += extra
    elif case == 5:
        generated.version = "1.0"


def generate(rng: random.Random, world: World) -> Generated:
    """One request around one of hotpath.ROUTES (a route added there is generated too): one the
    hot path takes, changed none, one or a few ways (:func:`hand_off`)."""
    route = rng.choice(hotpath.ROUTES)
    # A route that changes its event (a POST) is asked about each server's own twin; the others about one event.
    changes = any(method not in ("GET", "HEAD") for method in route.methods)
    target = f"/events/{ident(rng, world, OWN if changes else world.event)}{route.tail}{query(rng, world)}"
    generated = Generated(rng.choice(route.methods), target, one_of(rng, *["1.1"] * 5, "1.0"),
                          headers(rng, world, changes))
    for _ in range(one_of(rng, 0, 0, 0, 1, 1, 2, 3)):
        hand_off(rng, generated, [r.tail for r in hotpath.ROUTES])
    return generated


async def answers(client, generated: Generated, own: str, probe: bytes) -> bytes:
    """What a server sends back on one connection to ``generated`` and then, once that is answered,
    to ``probe`` (which closes it): ``<closed>`` if the server closed the connection first."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(generated.raw(own))
        await writer.drain()
        async with asyncio.timeout(ANSWER_S):
            try:
                data = await read_answer(reader, generated.method)
            except asyncio.IncompleteReadError as closed:
                return closed.partial + b"<closed>"
            first = len(data)
            try:
                writer.write(probe)
                await writer.drain()
                while chunk := await reader.read(65536):
                    data += chunk
            except ConnectionError:
                pass
            return data if len(data) > first else data + b"<closed>"
    finally:
        writer.close()


_GENERATED_ID = re.compile(rb"(\r\nX-Request-Id: |\"request_id\":\")[0-9a-f]{32}\b")
#: The RateLimit fields' reset and a 429's Retry-After count seconds on Redis's clock, which moves between the two asks.
_RESET = re.compile(rb"(;t=|\r\nRetry-After: )\d+")


def comparable(answer: bytes, own: tuple[str, str]) -> bytes:
    """``answer`` without what differs between any two asks, whichever path answers: Date, a new
    request id, a join's token (made from its event's id), the id of either twin (``own``: a
    join's event, or both in a list of events), a rate limit's countdown."""
    for twin in own:
        for spelling in (twin, twin.upper(), twin.replace("-", "")):
            answer = answer.replace(spelling.encode(), b"{own}")
    answer = _DATE.sub(b"\r\nDate: -\r\n", answer)
    answer = _GENERATED_ID.sub(rb"\1-", answer)
    answer = _TOKEN.sub(b'"token":"-"', answer)
    return _RESET.sub(rb"\1-", answer)


@pytest.fixture
def observed(monkeypatch) -> list[tuple[str, str, int]]:
    """The (method, route label, status) of each request timed from now on (by either path; set
    up before the servers start, which take ``TIMINGS.observe`` once)."""
    seen = []
    original = RequestTimings.observe

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        seen.append((method, route, status))
        original(self, method, route, status, seconds)

    monkeypatch.setattr(RequestTimings, "observe", observe)
    return seen


@pytest.fixture
def taken(monkeypatch) -> list[str]:
    """The paths the hot path takes from now on (it makes their match info itself)."""
    paths = []

    class Counted(hotpath.UrlMappingMatchInfo):
        def __init__(self, match_dict, route):
            paths.append(match_dict["id"])
            super().__init__(match_dict, route)

    monkeypatch.setattr(hotpath, "UrlMappingMatchInfo", Counted)
    return paths


async def test_generated_requests_are_answered_and_timed_alike_with_the_hot_path_on_and_off(
        observed, taken, hot, off, world, request):  # noqa: F811 - test_hotpath.py's fixture
    assert hotpath.served(hot.server.runner.server.request_handler) == tuple(r.tail for r in hotpath.ROUTES)
    rng = random.Random(SEED)
    requests = int(REQUESTS * DEPLOYMENTS[request.node.callspec.params["settings"]])
    divergences, hot_taken = [], 0
    for n in range(requests):
        generated = generate(rng, world)
        before, timed = len(taken), len(observed)
        fast = await answers(hot, generated, world.own[0], world.probe)
        # The probe is taken too, unless the request closed the connection first.
        hot_taken += len(taken) - before - fast.count(b"\r\nX-Request-Id: probe\r\n")
        fast_timed, timed = observed[timed:], len(observed)
        slow = await answers(off, generated, world.own[1], world.probe)
        slow_timed = observed[timed:]
        if comparable(fast, world.own) != comparable(slow, world.own) or fast_timed != slow_timed:
            divergences.append(f"#{n} {generated.raw(world.own[0])!r}\n  hot: {fast!r}\n  timed {fast_timed}\n"
                               f"  off: {slow!r}\n  timed {slow_timed}")
    assert not divergences, (f"{len(divergences)} of {requests} requests (seed {SEED}) answered or timed differently:\n"
                             + "\n".join(divergences[:10]))
    # The generator keeps asking both ways: what the hot path takes, and what it hands on.
    assert requests / 5 < hot_taken < requests * 4 / 5, hot_taken
