"""Drives mailhog with Python's smtplib and the MailHog v1/v2 HTTP API (urllib).

Usage: mailhog_client.py SMTP_PORT API_BASE full|before|after|after-empty STATE_FILE
Exits non-zero with a message on the first failed check.
"""
import email
import email.policy
import json
import smtplib
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

SMTP_PORT, API, PHASE, STATE = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3], sys.argv[4]
UNICODE_TEXT = "Grüße aus Köln — ünïcödé ✓\n.line starting with a dot\n"
ATTACHMENT = bytes(range(256)) * 4


def call(method, path, expect=200):
    req = urllib.request.Request(API + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(), e.headers
    assert status == expect, (method, path, status, body[:300])
    return body, headers


def get_json(path, expect=200):
    body, _ = call("GET", path, expect)
    return json.loads(body) if body else None


def rich_message():
    msg = EmailMessage()
    msg["From"] = "Welcome Bot <welcome@app.example>"
    msg["To"] = "new.user@example.com"
    msg["Subject"] = "Welcome aboard"
    msg.set_content(UNICODE_TEXT, charset="utf-8", cte="8bit")
    msg.add_alternative("<p>Grüße aus Köln</p>", subtype="html", charset="utf-8", cte="8bit")
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="data.bin")
    return msg


def plain(sender, to, subject, body):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    return msg


def send_all():
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10) as smtp:
        code, caps = smtp.ehlo("client.example")
        assert code == 250, caps
        for feature in ("auth", "8bitmime", "pipelining", "size"):
            assert smtp.has_extn(feature), (feature, caps)
        smtp.login("any-user", "any-password")
        smtp.send_message(rich_message(), mail_options=["BODY=8BITMIME"])
        smtp.send_message(plain("alice@example.com", "bob@example.com", "Password reset",
                                "Your password reset token is XYZ-123.\n"))
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10) as smtp:
        smtp.send_message(plain("carol@example.com", "dave@example.com", "Invoice 42", "Amount due: 10 EUR\n"),
                          to_addrs=["dave@example.com", "hidden@example.com"])


def check_full():
    send_all()
    page = get_json("/api/v2/messages")
    assert page["total"] == 3 and page["count"] == 3 and page["start"] == 0, page
    items = page["items"]
    subjects = [m["Content"]["Headers"]["Subject"][0] for m in items]
    assert subjects == ["Invoice 42", "Password reset", "Welcome aboard"], subjects

    rich = items[2]
    assert rich["From"]["Mailbox"] == "welcome" and rich["From"]["Domain"] == "app.example", rich["From"]
    assert "BODY=8BITMIME" in rich["From"]["Params"], rich["From"]
    assert rich["To"][0]["Mailbox"] == "new.user" and rich["To"][0]["Domain"] == "example.com", rich["To"]
    assert rich["Raw"]["Helo"] == "client.example" and rich["Raw"]["From"] == "welcome@app.example", rich["Raw"]
    assert "Grüße aus Köln" in rich["Raw"]["Data"], rich["Raw"]["Data"][:500]
    assert "\r\n.line starting with a dot" in rich["Raw"]["Data"], "dot-unstuffing"
    assert rich["Content"]["Size"] == len(rich["Raw"]["Data"].encode()), rich["Content"]["Size"]
    parts = rich["MIME"]["Parts"]
    assert len(parts) == 2, [p["Headers"] for p in parts]
    assert parts[0]["Headers"]["Content-Type"][0].startswith("multipart/alternative"), parts[0]["Headers"]
    alternatives = parts[0]["MIME"]["Parts"]
    assert [a["Headers"]["Content-Type"][0].split(";")[0] for a in alternatives] == ["text/plain", "text/html"]
    assert "Grüße aus Köln" in alternatives[0]["Body"], alternatives[0]
    assert 'filename="data.bin"' in parts[1]["Headers"]["Content-Disposition"][0], parts[1]["Headers"]

    invoice = items[0]
    assert invoice["Raw"]["To"] == ["dave@example.com", "hidden@example.com"], invoice["Raw"]

    second = get_json("/api/v2/messages?start=1&limit=1")
    assert second["total"] == 3 and second["count"] == 1 and second["start"] == 1, second
    assert second["items"][0]["ID"] == items[1]["ID"], second

    def search(kind, query):
        q = urllib.parse.urlencode({"kind": kind, "query": query})
        return [m["ID"] for m in get_json(f"/api/v2/search?{q}")["items"]]

    assert search("from", "alice@example.com") == [items[1]["ID"]]
    assert search("from", "Welcome Bot") == [items[2]["ID"]]
    assert search("to", "dave@") == [items[0]["ID"]]
    assert search("to", "hidden@example.com") == [items[0]["ID"]]
    assert search("containing", "password reset token") == [items[1]["ID"]]
    assert search("containing", "grüße") == [items[2]["ID"]]
    assert search("containing", "no such text anywhere") == []
    get_json("/api/v2/search?kind=bogus&query=x", expect=400)

    listed = get_json("/api/v1/messages")
    assert [m["ID"] for m in listed] == [m["ID"] for m in items], listed

    one = get_json("/api/v1/messages/" + urllib.parse.quote(items[1]["ID"]))
    assert one["ID"] == items[1]["ID"] and one["Content"]["Headers"]["Subject"] == ["Password reset"], one
    get_json("/api/v1/messages/missing@mailhog.example", expect=404)

    raw, headers = call("GET", "/api/v1/messages/" + urllib.parse.quote(rich["ID"]) + "/download")
    assert headers["Content-Type"].startswith("message/rfc822"), headers
    assert raw == rich["Raw"]["Data"].encode(), "download differs from Raw.Data"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    attachment = next(parsed.iter_attachments())
    assert attachment.get_content() == ATTACHMENT, "attachment bytes changed"
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == UNICODE_TEXT, repr(text)

    call("DELETE", "/api/v1/messages/" + urllib.parse.quote(items[1]["ID"]))
    call("DELETE", "/api/v1/messages/" + urllib.parse.quote(items[1]["ID"]), expect=404)
    left = get_json("/api/v2/messages")
    assert left["total"] == 2 and items[1]["ID"] not in [m["ID"] for m in left["items"]], left
    call("DELETE", "/api/v1/messages")
    assert get_json("/api/v2/messages")["total"] == 0
    assert get_json("/api/v1/messages") == []


def check_before():
    send_all()
    items = get_json("/api/v2/messages")["items"]
    call("DELETE", "/api/v1/messages/" + urllib.parse.quote(items[0]["ID"]))
    kept = get_json("/api/v2/messages")["items"]
    with open(STATE, "w") as f:
        json.dump([{"ID": m["ID"], "Data": m["Raw"]["Data"]} for m in kept], f)


def check_after():
    with open(STATE) as f:
        saved = json.load(f)
    items = get_json("/api/v2/messages")["items"]
    assert [m["ID"] for m in items] == [m["ID"] for m in saved], ([m["ID"] for m in items], saved)
    assert [m["Raw"]["Data"] for m in items] == [m["Data"] for m in saved]
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=10) as smtp:
        smtp.send_message(plain("x@example.com", "y@example.com", "After restart", "still here\n"))
    assert get_json("/api/v2/messages")["items"][0]["Content"]["Headers"]["Subject"] == ["After restart"]


def check_after_empty():
    assert get_json("/api/v2/messages")["total"] == 0


{"full": check_full, "before": check_before, "after": check_after, "after-empty": check_after_empty}[PHASE]()
print(f"mailhog phase {PHASE} passed")
