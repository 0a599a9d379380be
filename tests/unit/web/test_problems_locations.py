"""Domain errors name logical inputs; web/problems.py says where in the request each one was."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from models.errors import Forbidden, NotFound
from web.problems import locate, problem_body


def request(path: str = "/", match_info: dict[str, str] | None = None):
    req = make_mocked_request("GET", path)
    req._match_info = match_info or {}
    return req


def test_header_inputs_are_named_by_their_header():
    assert locate("user", request()) == "header.X-User-Id"
    assert locate("idempotency_key", request()) == "header.Idempotency-Key"
    assert locate("bearer_token", request()) == "header.Authorization"


def test_a_route_input_is_found_in_the_path_first():
    assert locate("id", request("/events/1?id=2", {"id": "1"})) == "path.id"


def test_a_route_input_not_in_the_path_is_found_in_the_query():
    assert locate("token", request("/events/1/waiting-room/status?token=abc", {"id": "1"})) == "query.token"


def test_a_route_input_in_neither_path_nor_query_came_in_the_body():
    assert locate("token", request("/events/1/reservations", {"id": "1"})) == "body.token"


def test_body_paths_and_located_fields_are_left_as_they_are():
    assert locate("tiers.0.name", request()) == "tiers.0.name"
    assert locate("header.Content-Type", request()) == "header.Content-Type"


def test_a_problem_names_the_location_and_the_error_keeps_its_logical_name():
    err = Forbidden("This reservation belongs to another user", field="user")
    body = problem_body(err, request("/reservations/1", {"id": "1"}))
    assert body["errors"] == [{"field": "header.X-User-Id", "message": "This reservation belongs to another user"}]
    assert err.errors[0]["field"] == "user"


def test_a_problem_without_a_request_still_locates_header_inputs():
    assert problem_body(NotFound("No such order", field="user"), None)["errors"][0]["field"] == "header.X-User-Id"


def test_the_web_tiers_own_body_paths_are_not_located_again():
    from models.errors import ValidationFailed
    from web.problems import located

    err = located(ValidationFailed("Invalid token", errors=[{"field": "token", "message": "bad"}]))
    assert problem_body(err, request("/events/1/reservations", {"id": "1"}))["errors"][0]["field"] == "token"
