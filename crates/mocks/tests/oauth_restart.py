"""Checks that oauth-mock keeps its signing key and refresh tokens across a restart.

Usage: oauth_restart.py BASE_URL before|after STATE_FILE
"""
import json
import sys
import urllib.parse

try:
    import requests
    import jwt
    from jwt import PyJWKClient
except ImportError as exc:
    sys.exit(f"missing Python module {exc.name!r}: pip install requests 'PyJWT[crypto]'")

BASE, PHASE, STATE = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
AUTH = ("test-client-id", "test-client-secret")
CALLBACK = "http://localhost:3000/auth/callback"
doc = requests.get(f"{BASE}/google/.well-known/openid-configuration", timeout=10).json()
kid = requests.get(doc["jwks_uri"], timeout=10).json()["keys"][0]["kid"]

if PHASE == "before":
    r = requests.get(doc["authorization_endpoint"], params={
        "response_type": "code", "client_id": AUTH[0], "redirect_uri": CALLBACK}, allow_redirects=False, timeout=10)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["code"][0]
    token = requests.post(doc["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}, auth=AUTH, timeout=10).json()
    # A second code is issued but not redeemed before the restart.
    r = requests.get(doc["authorization_endpoint"], params={
        "response_type": "code", "client_id": AUTH[0], "redirect_uri": CALLBACK}, allow_redirects=False, timeout=10)
    pending = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["code"][0]
    with open(STATE, "w") as f:
        json.dump({"kid": kid, "token": token, "pending_code": pending}, f)
else:
    with open(STATE) as f:
        saved = json.load(f)
    assert saved["kid"] == kid, (saved["kid"], kid)
    old = saved["token"]
    # The access token issued before the restart still verifies and works.
    r = requests.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {old['access_token']}"}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(doc["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
                      auth=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    key = PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(r.json()["id_token"])
    jwt.decode(r.json()["id_token"], key.key, algorithms=["RS256"], audience=AUTH[0], issuer=doc["issuer"])
    r = requests.post(doc["token_endpoint"], data={
        "grant_type": "authorization_code", "code": saved["pending_code"], "redirect_uri": CALLBACK}, auth=AUTH, timeout=10)
    assert r.status_code == 200, r.text
print(f"oauth restart phase {PHASE} passed")
