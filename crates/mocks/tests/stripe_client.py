"""stripe-mock judged by the official Stripe Python SDK.

Usage: stripe_client.py BASE_URL WEBHOOK_PORT
Runs every check against the server; exits non-zero on the first failure.
"""

import http.server
import json
import sys
import threading
import time
import urllib.request

try:
    import stripe
except ImportError:
    sys.stderr.write("the official Stripe SDK is missing: pip install stripe\n")
    sys.exit(3)

BASE = sys.argv[1]
HOOK_PORT = int(sys.argv[2])
stripe.api_key = "sk_test_vers"
stripe.api_base = BASE
stripe.max_network_retries = 0

received = []  # (event, verified_with)
registered_secret = {}
lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        sig = self.headers.get("Stripe-Signature")
        secret = "whsec_test" if self.path == "/config" else registered_secret.get("value")
        try:
            event = stripe.Webhook.construct_event(payload, sig, secret)
        except stripe.SignatureVerificationError as e:
            sys.stderr.write(f"bad signature on {self.path}: {e}\n")
            self.send_response(400)
            self.end_headers()
            return
        with lock:
            received.append((self.path, event))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", HOOK_PORT), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raw(method, path, key="sk_test_health"):
    req = urllib.request.Request(BASE + path, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# Health and authentication.
status, body = raw("GET", "/v1/charges")
check(status == 200 and body["object"] == "list", f"health GET /v1/charges: {status} {body}")
status, body = raw("GET", "/v1/charges", key=None)
check(status == 401 and "API key" in body["error"]["message"], f"no key: {status} {body}")
check(raw("GET", "/healthz", key=None)[0] == 200, "healthz")
try:
    stripe.Customer.list(api_key="sk_live_wrong_key_1234")
    raise AssertionError("live key accepted")
except stripe.AuthenticationError:
    pass

# Fixtures.
fixture = stripe.Customer.retrieve("cus_fixture")
check(fixture.email == "fixture@example.com" and fixture.metadata["plan"] == "pro", f"fixture customer {fixture}")
check(stripe.Price.retrieve("price_pro_monthly").unit_amount == 2999, "fixture price")
check(stripe.Price.retrieve("price_starter_monthly").recurring.interval == "month", "fixture recurring")
check(stripe.Product.retrieve("prod_pro").name == "Pro Plan", "fixture product")
check(stripe.ShippingRate.retrieve("shr_express").fixed_amount.amount == 1500, "fixture shipping rate")
check(stripe.PaymentMethod.retrieve("pm_fixture_visa").card.last4 == "4242", "fixture payment method")

# Customers: create, retrieve, update, pagination, 404.
made = [stripe.Customer.create(email=f"user{i}@example.com", name=f"User {i}", metadata={"i": str(i)}) for i in range(5)]
check(all(c.id.startswith("cus_") for c in made), "customer ids")
got = stripe.Customer.retrieve(made[2].id)
check(got.email == "user2@example.com" and got.metadata["i"] == "2", "retrieve customer")
upd = stripe.Customer.modify(made[2].id, name="Renamed", metadata={"i": "", "tier": "gold"})
check(upd.name == "Renamed" and "i" not in upd.metadata and upd.metadata["tier"] == "gold", f"update {upd}")
page = stripe.Customer.list(limit=2)
check(len(page.data) == 2 and page.has_more and page.data[0].id == made[4].id, "first page newest first")
page2 = stripe.Customer.list(limit=2, starting_after=page.data[-1].id)
check(page2.data[0].id == made[2].id, "starting_after")
everyone = [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter()]
check(len(everyone) == 6 and everyone[-1] == "cus_fixture", f"auto paging {everyone}")
check(stripe.Customer.list(email="user3@example.com").data[0].id == made[3].id, "filter by email")
try:
    stripe.Customer.retrieve("cus_missing")
    raise AssertionError("missing customer found")
except stripe.InvalidRequestError as e:
    check(e.http_status == 404 and e.code == "resource_missing", f"404 {e}")

# PaymentIntent succeeding with pm_card_visa.
customer = made[0]
pi = stripe.PaymentIntent.create(
    amount=2000, currency="usd", customer=customer.id, payment_method="pm_card_visa", confirm=True,
    automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
)
check(pi.status == "succeeded" and pi.amount_received == 2000, f"pi succeeded {pi.status}")
charge = stripe.Charge.retrieve(pi.latest_charge)
check(charge.paid and charge.payment_method_details.card.brand == "visa" and charge.payment_method_details.card.last4 == "4242", "charge")
check(any(c.id == charge.id for c in stripe.Charge.list(customer=customer.id).data), "charges by customer")

# Manual capture.
auth = stripe.PaymentIntent.create(amount=1500, currency="usd", payment_method="pm_card_mastercard", confirm=True, capture_method="manual")
check(auth.status == "requires_capture", "requires_capture")
cap = stripe.PaymentIntent.capture(auth.id, amount_to_capture=1000)
check(cap.status == "succeeded" and cap.amount_received == 1000, "capture")
canceled = stripe.PaymentIntent.cancel(stripe.PaymentIntent.create(amount=500, currency="usd").id)
check(canceled.status == "canceled", "cancel")

# Declines.
def declined(pm, **extra):
    try:
        stripe.PaymentIntent.create(amount=1000, currency="usd", payment_method=pm, confirm=True, **extra)
    except stripe.CardError as e:
        return e
    raise AssertionError(f"{pm} did not decline")

e = declined("pm_card_chargeDeclined")
check(e.http_status == 402 and e.code == "card_declined" and e.error.decline_code == "generic_decline", f"generic decline {e}")
failed_pi = stripe.PaymentIntent.retrieve(e.error.payment_intent.id)
check(failed_pi.status == "requires_payment_method" and failed_pi.last_payment_error.decline_code == "generic_decline", "last_payment_error")
e = declined("pm_card_chargeDeclinedInsufficientFunds")
check(e.code == "card_declined" and e.error.decline_code == "insufficient_funds", "insufficient funds")
e = declined(None, payment_method_data={"type": "card", "card": {"number": "4000000000000069", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
check(e.code == "expired_card", "expired card by number")
e = declined("pm_card_chargeDeclinedIncorrectCvc")
check(e.code == "incorrect_cvc", "incorrect cvc")
e = declined("pm_card_chargeDeclinedProcessingError")
check(e.code == "processing_error", "processing error")
pm = stripe.PaymentMethod.create(type="card", card={"number": "4000000000009995", "exp_month": 1, "exp_year": 2035, "cvc": "314"})
check(pm.card.last4 == "9995", "pm from card number")
e = declined(pm.id)
check(e.error.decline_code == "insufficient_funds", "created card declines")
try:
    stripe.PaymentMethod.create(type="card", card={"number": "4242424242424241", "exp_month": 1, "exp_year": 2035})
    raise AssertionError("bad luhn accepted")
except stripe.CardError as e:
    check(e.code == "incorrect_number", "incorrect_number")

# 3D Secure.
three = stripe.PaymentIntent.create(amount=3000, currency="usd", payment_method="pm_card_threeDSecure2Required", confirm=True)
check(three.status == "requires_action" and three.next_action.type == "use_stripe_sdk", f"3ds {three.status}")
redirect = stripe.PaymentIntent.create(
    amount=3000, currency="usd", confirm=True, return_url="https://app.example/return",
    payment_method_data={"type": "card", "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2034}},
)
check(redirect.status == "requires_action" and redirect.next_action.type == "redirect_to_url", "3ds redirect")
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(NoRedirect)
try:
    opener.open(redirect.next_action.redirect_to_url.url)
    raise AssertionError("3ds page did not redirect")
except urllib.error.HTTPError as r:
    check(r.code in (302, 303) and r.headers["Location"].startswith("https://app.example/return?payment_intent="), "3ds redirect target")
check(stripe.PaymentIntent.retrieve(redirect.id).status == "succeeded", "3ds completed")
check(stripe.PaymentIntent.create(amount=3000, currency="usd", payment_method="pm_card_authenticationRequired", confirm=True).status == "requires_action", "authenticationRequired")

# SetupIntent.
si = stripe.SetupIntent.create(customer=made[1].id, payment_method="pm_card_visa", confirm=True)
check(si.status == "succeeded", "setup intent")
check(len(stripe.Customer.list_payment_methods(made[1].id).data) == 1, "attached by setup intent")

# Refunds.
part = stripe.Refund.create(payment_intent=pi.id, amount=500)
check(part.status == "succeeded" and part.amount == 500 and part.id.startswith("re_"), "partial refund")
check(stripe.Charge.retrieve(pi.latest_charge).amount_refunded == 500, "amount_refunded")
rest = stripe.Refund.create(charge=pi.latest_charge)
check(rest.amount == 1500 and stripe.Charge.retrieve(pi.latest_charge).refunded, "full refund")
try:
    stripe.Refund.create(charge=pi.latest_charge)
    raise AssertionError("double refund")
except stripe.InvalidRequestError as e:
    check(e.code == "charge_already_refunded", "charge_already_refunded")

# Idempotency.
a = stripe.Customer.create(email="idem@example.com", idempotency_key="idem-1")
b = stripe.Customer.create(email="idem@example.com", idempotency_key="idem-1")
check(a.id == b.id, "idempotent replay")
check(len(stripe.Customer.list(email="idem@example.com").data) == 1, "one customer for the key")
try:
    stripe.Customer.create(email="other@example.com", idempotency_key="idem-1")
    raise AssertionError("idempotency key reused")
except stripe.IdempotencyError:
    pass
d1 = None
try:
    stripe.PaymentIntent.create(amount=100, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True, idempotency_key="idem-decline")
except stripe.CardError as e:
    d1 = e.error.payment_intent.id
try:
    stripe.PaymentIntent.create(amount=100, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True, idempotency_key="idem-decline")
except stripe.CardError as e:
    check(e.error.payment_intent.id == d1, "declines replay")

# Subscriptions: create, upgrade, cancel at period end, cancel.
sub_customer = stripe.Customer.create(email="sub@example.com", payment_method="pm_card_visa", invoice_settings={"default_payment_method": "pm_card_visa"})
check(sub_customer.invoice_settings.default_payment_method.startswith("pm_"), "default pm")
sub = stripe.Subscription.create(customer=sub_customer.id, items=[{"price": "price_starter_monthly"}], expand=["latest_invoice.payment_intent"])
check(sub.id.startswith("sub_") and sub.status == "active", f"subscription active {sub.status}")
check(sub.latest_invoice.status == "paid" and sub.latest_invoice.amount_paid == 999, "first invoice paid")
check(sub.latest_invoice.payment_intent.status == "succeeded", "invoice payment intent")
item = sub["items"].data[0]
up = stripe.Subscription.modify(sub.id, items=[{"id": item.id, "price": "price_pro_monthly"}], proration_behavior="always_invoice", expand=["latest_invoice"])
check(up["items"].data[0].price.id == "price_pro_monthly" and up["items"].data[0].id == item.id, "upgraded")
lines = up.latest_invoice.lines.data
check(all(l.proration for l in lines) and len(lines) == 2 and lines[0].amount < 0 < lines[1].amount, f"proration lines {lines}")
check(up.latest_invoice.billing_reason == "subscription_update" and up.latest_invoice.status == "paid", "proration invoice paid")
pending = stripe.Subscription.modify(sub.id, items=[{"id": item.id, "price": "price_starter_monthly"}])
check(len(stripe.InvoiceItem.list(customer=sub_customer.id, pending=True).data) == 2, "create_prorations leaves pending items")
end = stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
check(end.cancel_at_period_end and end.cancel_at == end.current_period_end and end.status == "active", "cancel at period end")
gone = stripe.Subscription.cancel(sub.id)
check(gone.status == "canceled" and gone.canceled_at, "canceled")
check(all(s.id != sub.id for s in stripe.Subscription.list(customer=sub_customer.id).data), "canceled hidden from list")
check(any(s.id == sub.id for s in stripe.Subscription.list(customer=sub_customer.id, status="all").data), "status=all")
check(len(stripe.Invoice.list(subscription=sub.id).data) == 2, "invoices of the subscription")

# Subscription whose card declines.
bad_customer = stripe.Customer.create(email="bad@example.com", payment_method="pm_card_chargeDeclined", invoice_settings={"default_payment_method": "pm_card_chargeDeclined"})
bad = stripe.Subscription.create(customer=bad_customer.id, items=[{"price": "price_pro_monthly"}], expand=["latest_invoice.payment_intent"])
check(bad.status == "incomplete" and bad.latest_invoice.status == "open", f"incomplete {bad.status}")
check(bad.latest_invoice.payment_intent.last_payment_error.decline_code == "generic_decline", "invoice pi error")
failed_events = stripe.Event.list(type="invoice.payment_failed")
check(any(ev.data.object.id == bad.latest_invoice.id for ev in failed_events.data), "invoice.payment_failed event")
try:
    stripe.Invoice.pay(bad.latest_invoice.id)
    raise AssertionError("pay with declining card")
except stripe.CardError:
    pass
paid = stripe.Invoice.pay(bad.latest_invoice.id, payment_method="pm_card_visa")
check(paid.status == "paid" and stripe.Subscription.retrieve(bad.id).status == "active", "pay invoice activates")

# default_incomplete + client confirmation.
inc = stripe.Subscription.create(customer=made[3].id, items=[{"price": "price_starter_monthly"}], payment_behavior="default_incomplete", expand=["latest_invoice.payment_intent"])
check(inc.status == "incomplete" and inc.latest_invoice.payment_intent.status == "requires_payment_method", "default_incomplete")
stripe.PaymentIntent.confirm(inc.latest_invoice.payment_intent.id, payment_method="pm_card_visa")
check(stripe.Subscription.retrieve(inc.id).status == "active", "confirm activates")

# Events and expand.
evs = stripe.Event.list(type="customer.created", limit=3)
check(len(evs.data) == 3 and evs.has_more and all(ev.type == "customer.created" for ev in evs.data), "events list")
check(stripe.Event.retrieve(evs.data[0].id).data.object.object == "customer", "event retrieve")

# Registered webhook endpoint with its own secret.
we = stripe.WebhookEndpoint.create(url=f"http://127.0.0.1:{HOOK_PORT}/registered", enabled_events=["checkout.session.completed"])
registered_secret["value"] = we.secret
check(we.secret.startswith("whsec_") and "secret" not in stripe.WebhookEndpoint.retrieve(we.id), "webhook endpoint secret")

# Checkout.
one_time = stripe.Price.create(product="prod_starter", unit_amount=4200, currency="usd")
session = stripe.checkout.Session.create(
    mode="payment", line_items=[{"price": one_time.id, "quantity": 2}], shipping_options=[{"shipping_rate": "shr_express"}],
    success_url="https://app.example/ok?session={CHECKOUT_SESSION_ID}", cancel_url="https://app.example/cancel",
)
check(session.id.startswith("cs_test_") and session.url.startswith(BASE) and session.amount_total == 9900, f"session {session.amount_total}")
try:
    opener.open(session.url)
    raise AssertionError("checkout page did not redirect")
except urllib.error.HTTPError as r:
    check(r.headers["Location"] == f"https://app.example/ok?session={session.id}", "success redirect")
done = stripe.checkout.Session.retrieve(session.id, expand=["line_items", "payment_intent"])
check(done.status == "complete" and done.payment_status == "paid" and done.payment_intent.status == "succeeded", "session complete")
check(done.line_items.data[0].quantity == 2, "line items")

# Webhooks: every delivery verified with Stripe.Webhook.construct_event.
wanted = {"customer.created", "payment_intent.succeeded", "payment_intent.payment_failed", "charge.succeeded",
          "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
          "invoice.paid", "invoice.payment_failed", "checkout.session.completed", "charge.refunded"}
deadline = time.time() + 20
while time.time() < deadline:
    with lock:
        seen = {ev.type for path, ev in received if path == "/config"}
        registered = [ev for path, ev in received if path == "/registered"]
    if wanted <= seen and registered:
        break
    time.sleep(0.2)
check(wanted <= seen, f"missing webhook events: {wanted - seen}")
check(registered[0].type == "checkout.session.completed" and registered[0].data.object.id == session.id, "registered endpoint delivery")
print(f"stripe sdk checks passed ({len(received)} webhooks verified)")
