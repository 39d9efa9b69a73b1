"""stripe-mock state survives a restart: phase `before` creates objects and records their
ids in STATE_FILE; phase `after` (against the restarted server) finds them again.

Usage: stripe_restart.py BASE_URL before|after STATE_FILE
"""

import json
import sys

try:
    import stripe
except ImportError:
    sys.stderr.write("the official Stripe SDK is missing: pip install stripe\n")
    sys.exit(3)

BASE, PHASE, STATE = sys.argv[1], sys.argv[2], sys.argv[3]
stripe.api_key = "sk_test_restart"
stripe.api_base = BASE
stripe.max_network_retries = 0

if PHASE == "before":
    c = stripe.Customer.create(email="persist@example.com", payment_method="pm_card_visa", invoice_settings={"default_payment_method": "pm_card_visa"})
    sub = stripe.Subscription.create(customer=c.id, items=[{"price": "price_pro_monthly"}])
    pi = stripe.PaymentIntent.create(amount=777, currency="eur", payment_method="pm_card_visa", confirm=True)
    key = stripe.Customer.create(email="idem-restart@example.com", idempotency_key="restart-key")
    with open(STATE, "w") as f:
        json.dump({"customer": c.id, "sub": sub.id, "pi": pi.id, "idem": key.id}, f)
    print("phase before passed")
else:
    ids = json.load(open(STATE))
    c = stripe.Customer.retrieve(ids["customer"])
    assert c.email == "persist@example.com", c
    sub = stripe.Subscription.retrieve(ids["sub"])
    assert sub.status == "active" and sub["items"].data[0].price.id == "price_pro_monthly", sub
    assert stripe.PaymentIntent.retrieve(ids["pi"]).status == "succeeded"
    again = stripe.Customer.create(email="idem-restart@example.com", idempotency_key="restart-key")
    assert again.id == ids["idem"], "idempotency keys survive the restart"
    assert stripe.Customer.retrieve("cus_fixture").email == "fixture@example.com"
    fixtures = [c for c in stripe.Customer.list(limit=100).auto_paging_iter() if c.id == "cus_fixture"]
    assert len(fixtures) == 1, "fixtures are loaded once"
    # New objects keep working after the restart and sort after the old ones.
    newer = stripe.Customer.create(email="after@example.com")
    assert stripe.Customer.list(limit=1).data[0].id == newer.id
    print("phase after passed")
