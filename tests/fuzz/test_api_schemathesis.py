"""schemathesis against the app's own /api/v1/openapi.json, in process (WSGI), as a firm, a
county reviewer and a city official: no 5xx, every answer a documented status with a body
of its documented schema, and no stack trace in any body.

Each operation gets cases that fit the document and cases that do not, with the path ids
schemathesis makes up (mostly unknown objects) and with the ids of real objects of a seeded
world, so that bodies reach the use cases. Derandomized and bounded: the same cases on every
run, a couple of minutes in all.

The operations are driven from the test itself (one subtest each) rather than through
`schemathesis.pytest.from_fixture`: the document is only there once the app is, and that
loader does not run under pytest 9.
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rating.extensions import limiter
from tests.support.strategies import HIDDEN, with_hidden

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 20
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
CONFIG = {
    # A body the document accepts may still break a rule JSON Schema cannot state (a credit
    # code's check characters, control characters, a payment date inside the batch's window): 422.
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}},
    # Query parameters the API does not know are ignored, as HTTP APIs do (cache busters, tracking).
    "generation": {"allow-extra-parameters": False},
}


# Operations that may end the caller's own token (one made-up id may be its own) run last, the
# one that certainly does at the very end: the others are fuzzed with a token that works.
LAST = ("DELETE /tokens/{token_id}", "DELETE /tokens/current")


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                             config=schemathesis.Config.from_dict(CONFIG))
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda operation: LAST.index(operation.label) + 1 if operation.label in LAST else 0)


def no_empty_filter(case) -> bool:
    # The API reads an empty query value as the filter not given (what an HTML form sends):
    # `?city=` is no invalid city. An object or an empty array as a query value is sent the
    # same way (`{}` as `level=`, `{"a": 1}` as `a=1`, a parameter of another name), so the
    # API never sees the invalid value at all.
    return not any(value == "" or isinstance(value, dict) or value == []
                   for value in (case.query or {}).values())


def send_hidden(client, case, body, headers: dict) -> None:
    """The case's JSON body with a lone surrogate (`"\\ud800"`) or a bidi control in every
    string: schemathesis only makes text UTF-8 can carry (and cannot validate any other), so
    this is sent as JSON's escapes would carry it, and must be refused, never a 5xx."""
    response = client.open("/api/v1" + case.formatted_path, method=case.method, headers=headers,
                           query_string=case.query or None, content_type="application/json",
                           data=json.dumps(body))
    assert response.status_code < 500, response.get_data(as_text=True)[:1000]
    assert response.is_json and response.status_code >= 400, (case.method, case.formatted_path, response.status)
    text = response.get_data(as_text=True)
    for marker in STACK_TRACE_MARKERS:
        assert marker not in text, f"{case.method} {case.formatted_path}: a stack trace in the body"


def cases(operation, real_ids: dict):
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in real_ids.items() if name in names}
    strategies = []
    for path_parameters in ({}, fixed) if fixed else ({},):
        strategies.append(operation.as_strategy(MODES[0], path_parameters=path_parameters or None))
        strategies.append(operation.as_strategy(MODES[1], path_parameters=path_parameters or None)
                          .filter(no_empty_filter))
    # Now and then, hidden characters in a JSON body (send_hidden).
    return st.tuples(st.one_of(strategies), st.one_of(st.none(), st.none(), st.none(), HIDDEN))


def check(case, response, headers: dict) -> None:
    case.validate_response(response, headers=headers)
    text = response.content.decode("utf-8", "replace")   # files too (PDF, XLSX)
    for marker in STACK_TRACE_MARKERS:
        assert marker not in text, f"{case.method} {case.formatted_path}: a stack trace in the body"


# Each actor's own application: the firm's draft, the county's and the city's in review.
APPLICATION = {"firm": "application_id", "county": "at_county", "official": "at_city"}


@pytest.mark.parametrize("actor", list(APPLICATION))
def test_api_keeps_its_contract(app, client, world, actor, subtests):
    headers = {"Authorization": f"Bearer {world.tokens[actor]}"}
    real_ids = {**world.ids, "application_id": world.ids[APPLICATION[actor]]}
    for operation in operations(app):
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(pair=cases(operation, real_ids))
        def fuzz(pair):
            case, character = pair
            limiter.reset()   # the fuzzing is of input, not of the rate limits
            spoiled = with_hidden(case.body, character) if character and case.media_type == "application/json" \
                and isinstance(case.body, (dict, list, str)) else case.body
            if spoiled != case.body:
                send_hidden(client, case, spoiled, headers)
            else:
                check(case, case.call(session=client, headers=headers), headers)

        with subtests.test(msg=operation.label):
            fuzz()
