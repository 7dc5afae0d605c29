"""Demo data for the screenshots: a small shop's errors, sent with the official Python
sentry-sdk, unmodified.

Usage: demo_app.py DSN
Sends a handful of realistic issues (each a few times, from several users, releases and
environments, with breadcrumbs, tags and local variables) and a couple of messages; then
flushes. Used by scripts/screenshots (tests/api/browser.rs, `screenshots`).
"""
import logging
import random
import sys

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

random.seed(7)
sentry_sdk.init(
    dsn=sys.argv[1],
    environment="production",
    release="shop@2.4.1",
    server_name="web-1",
    integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    include_local_variables=True,
    send_default_pii=True,
)

USERS = [
    {"id": "17", "email": "ada@example.com", "username": "ada"},
    {"id": "23", "email": "grace@example.com", "username": "grace"},
    {"id": "42", "email": "jane@example.com", "username": "jane"},
    {"id": "51", "email": "linus@example.com", "username": "linus"},
]


class OutOfStock(Exception):
    pass


class GatewayTimeout(Exception):
    pass


def load_product(catalog, sku):
    return catalog[sku]


def reserve(stock, sku, quantity):
    if stock.get(sku, 0) < quantity:
        raise OutOfStock(f"{sku}: {stock.get(sku, 0)} left, {quantity} wanted")
    stock[sku] -= quantity


def charge_card(amount_cents, attempt):
    if attempt >= 0:
        raise GatewayTimeout(f"payment gateway did not answer in 10 s (attempt {attempt})")


def parse_coupon(code):
    return int(code.removeprefix("SAVE"))


def render_invoice(order):
    return "Total: %s" % order["total"] / 100


def crumbs(path):
    sentry_sdk.add_breadcrumb(category="http", message=f"GET {path}", level="info")
    sentry_sdk.add_breadcrumb(category="db", message="SELECT * FROM carts WHERE id = %s", level="info")
    sentry_sdk.add_breadcrumb(category="cache", message="miss cart:%d" % random.randint(1, 999), level="debug")


def scenario(i):
    user = USERS[i % len(USERS)]
    with sentry_sdk.new_scope() as scope:
        scope.set_user(user)
        scope.set_tag("region", random.choice(["eu-west", "us-east"]))
        scope.set_tag("browser", random.choice(["Firefox 131", "Chrome 130", "Safari 18"]))
        scope.set_context("cart", {"items": random.randint(1, 6), "currency": "EUR"})
        kind = i % 5
        try:
            if kind == 0:
                crumbs("/products/sku-991")
                load_product({"sku-100": "Mug"}, "sku-991")
            elif kind == 1:
                crumbs("/checkout")
                reserve({"sku-100": 1}, "sku-100", 3)
            elif kind == 2:
                crumbs("/checkout/pay")
                charge_card(12900, i // 5)
            elif kind == 3:
                crumbs("/cart/coupon")
                parse_coupon("SAVE-TEN")
            else:
                crumbs("/orders/1234/invoice")
                render_invoice({"total": 12900})
        except Exception:
            sentry_sdk.capture_exception()


for i in range(23):
    scenario(i)
sentry_sdk.capture_message("Slow checkout: 4.2 s to render /checkout", level="warning")
logging.getLogger("shop.mail").error("could not send the receipt of order %s", 1234)
sentry_sdk.flush(10)
