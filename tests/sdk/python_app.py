"""Drives the official Python sentry-sdk, unmodified, against a Mesher server.

Usage: python_app.py DSN
Sends: a raised, chained exception with its stack and locals (plus breadcrumbs, tags,
user, context, environment, release), a message, a logging.error through the logging
integration; then flushes. Prints the event ids it captured, one per line.
"""
import logging
import sys

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

sentry_sdk.init(
    dsn=sys.argv[1],
    environment="staging",
    release="shop@9.9.9",
    server_name="sdk-test-host",
    integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    include_local_variables=True,
    send_default_pii=True,
    default_integrations=True,
)
sentry_sdk.set_tag("region", "eu-west")
sentry_sdk.set_user({"id": "42", "email": "jane@example.com", "username": "jane"})
sentry_sdk.set_context("cart", {"items": 3, "total": 129.5})
sentry_sdk.add_breadcrumb(category="http", message="GET /cart", level="info")


class PaymentError(Exception):
    pass


def charge(amount):
    if amount <= 0:
        raise ValueError(f"bad amount {amount}")


def checkout(cart):
    try:
        charge(sum(cart) - 100)
    except ValueError as e:
        raise PaymentError("payment declined") from e


ids = []
try:
    checkout([10, 20])
except Exception:
    ids.append(sentry_sdk.capture_exception())
ids.append(sentry_sdk.capture_message("sdk message", level="warning"))
logging.getLogger("shop.orders").error("order %s could not be saved", 1234)
sentry_sdk.flush(10)
for event_id in ids:
    print(event_id)
