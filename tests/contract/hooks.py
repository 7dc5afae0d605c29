"""Schemathesis hooks of the contract test (tests/api/contract.rs).

A Sentry envelope (`application/x-sentry-envelope`) is a line format the OpenAPI document
describes as a string: it is sent as those bytes.
"""

import schemathesis


@schemathesis.serializer("application/x-sentry-envelope")
def sentry_envelope(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    import json

    return json.dumps(value).encode("utf-8")
