"""Drives oauth-mock with real OAuth/OIDC client libraries (authlib, requests, PyJWT).

Usage: oauth_client.py BASE_URL
Exits non-zero with a message on the first failed check.
"""
import sys

try:
    import requests
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.common.security import generate_token
    import jwt
    from jwt import PyJWKClient
except ImportError as exc:  # fail loudly, naming the pip packages
    sys.exit(f"missing Python module {exc.name!r}: pip install authlib requests 'PyJWT[crypto]'")

import urllib.parse

BASE = sys.argv[1].rstrip("/")
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
CALLBACK = "http://localhost:3000/auth/callback"


def discover(provider):
    r = requests.get(f"{BASE}/{provider}/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["issuer"] == f"{BASE}/{provider}", doc
    assert "S256" in doc["code_challenge_methods_supported"], doc
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"], doc
    return doc


def verify_id_token(doc, id_token, nonce=None):
    jwks = PyJWKClient(doc["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(id_token)
    claims = jwt.decode(
        id_token,
        key.key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=doc["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] == "RS256" and header["kid"] == key.key_id, header
    if nonce is not None:
        assert claims["nonce"] == nonce, claims
    return claims


def pkce_login(doc, login_hint=None, auth_method="client_secret_basic", secret=CLIENT_SECRET):
    client = OAuth2Session(
        CLIENT_ID,
        secret,
        scope="openid email profile",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )
    verifier = generate_token(48)
    nonce = generate_token(16)
    extra = {"login_hint": login_hint} if login_hint else {}
    uri, state = client.create_authorization_url(
        doc["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    r = requests.get(uri, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text)
    location = r.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    token = client.fetch_token(
        doc["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier
    )
    claims = verify_id_token(doc, token["id_token"], nonce)
    return client, token, claims


def authorize_code(doc, **params):
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "s1"}
    query.update(params)
    r = requests.get(doc["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)
    assert q["state"] == ["s1"], q
    return q


def main():
    doc = discover("google")

    # Authorization code + PKCE, client_secret_basic; id token checked against the JWKS.
    client, token, claims = pkce_login(doc)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0, token
    assert claims["email"] == "test.user@example.com" and claims["email_verified"] is True, claims
    assert claims["name"] == "Test User", claims
    first_sub = claims["sub"]

    # Userinfo with the bearer access token.
    info = client.get(doc["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == first_sub and info.json()["email"] == "test.user@example.com", info.text

    # Refresh token grant gives a new access token and id token for the same user.
    refreshed = client.refresh_token(doc["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"], refreshed
    assert verify_id_token(doc, refreshed["id_token"])["sub"] == first_sub
    assert client.get(doc["userinfo_endpoint"], timeout=10).json()["sub"] == first_sub

    # The same user gets the same sub on the next login; client_secret_post works too.
    _, _, again = pkce_login(doc, auth_method="client_secret_post")
    assert again["sub"] == first_sub, again

    # A public client (no secret) with PKCE.
    _, _, public = pkce_login(doc, auth_method="none", secret=None)
    assert public["sub"] == first_sub, public

    # login_hint picks the user; an unknown hint is an error redirect.
    _, _, alice = pkce_login(doc, login_hint="alice@example.com")
    assert alice["email"] == "alice@example.com" and alice["name"] == "Alice Example", alice
    assert alice["sub"] != first_sub
    q = authorize_code(doc, login_hint="nobody@example.com")
    assert q["error"] == ["login_required"], q

    # Client credentials: an access token without a user.
    cc = OAuth2Session(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_post")
    cc_token = cc.fetch_token(doc["token_endpoint"], grant_type="client_credentials", scope="api")
    assert cc_token["access_token"] and "refresh_token" not in cc_token, cc_token
    at_claims = jwt.decode(
        cc_token["access_token"],
        PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(cc_token["access_token"]).key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=doc["issuer"],
    )
    assert at_claims["sub"] == CLIENT_ID and at_claims["scope"] == "api", at_claims
    r = requests.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {cc_token['access_token']}"}, timeout=10)
    assert r.status_code == 401, r.text

    # Wrong client secret is invalid_client (401).
    r = requests.post(doc["token_endpoint"], data={"grant_type": "client_credentials"},
                      auth=(CLIENT_ID, "wrong"), timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text

    # A redirect_uri that is not a callback_url is a 400 page, never a redirect.
    r = requests.get(doc["authorization_endpoint"], params={
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "http://evil.example/cb",
        "state": "x"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers, (r.status_code, r.headers)

    # Unknown client_id is a 400 page too.
    r = requests.get(doc["authorization_endpoint"], params={
        "response_type": "code", "client_id": "nope", "redirect_uri": CALLBACK}, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers, r.status_code

    # A wrong PKCE verifier is invalid_grant; the code is then single use.
    verifier = generate_token(48)
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
    q = authorize_code(doc, code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    code = q["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    r = requests.post(doc["token_endpoint"], data={**form, "code_verifier": generate_token(48)},
                      auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = requests.post(doc["token_endpoint"], data={**form, "code_verifier": verifier},
                      auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert r.status_code == 200 and "id_token" in r.json(), r.text
    r = requests.post(doc["token_endpoint"], data={**form, "code_verifier": verifier},
                      auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text

    # Unsupported grant type.
    r = requests.post(doc["token_endpoint"], data={"grant_type": "password"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type", r.text

    github_flow()
    print("oauth client checks passed")


def github_flow():
    gh = f"{BASE}/github"
    discover("github")
    # authlib OAuth2Session asks for JSON like GitHub apps do.
    client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, redirect_uri=CALLBACK, scope="read:user user:email",
                           token_endpoint_auth_method="client_secret_post")
    uri, state = client.create_authorization_url(f"{gh}/login/oauth/authorize")
    r = requests.get(uri, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text)
    token = client.fetch_token(f"{gh}/login/oauth/access_token", authorization_response=r.headers["Location"], state=state)
    assert token["access_token"].startswith("gho_") and token["token_type"] == "bearer", token
    user = requests.get(f"{gh}/user", headers={"Authorization": f"token {token['access_token']}"}, timeout=10)
    assert user.status_code == 200, user.text
    body = user.json()
    assert body["login"] == "test-user" and body["email"] == "test.user@example.com", body
    assert isinstance(body["id"], int) and body["name"] == "Test User", body
    emails = requests.get(f"{gh}/user/emails", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10).json()
    assert emails == [{"email": "test.user@example.com", "primary": True, "verified": True, "visibility": "private"}], emails

    # Without Accept: application/json the answer is form-encoded, like GitHub's.
    r = requests.get(f"{gh}/login/oauth/authorize", params={"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "g"},
                     allow_redirects=False, timeout=10)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["code"][0]
    r = requests.post(f"{gh}/login/oauth/access_token", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": CALLBACK},
        headers={"Accept": "*/*"}, timeout=10)
    assert r.headers["Content-Type"].startswith("application/x-www-form-urlencoded"), r.headers
    form = urllib.parse.parse_qs(r.text)
    assert form["access_token"][0].startswith("gho_") and form["token_type"] == ["bearer"], form

    # A used code is GitHub's bad_verification_code, answered with HTTP 200.
    r = requests.post(f"{gh}/login/oauth/access_token", json={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}, headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 200 and r.json()["error"] == "bad_verification_code", r.text

    # Bad credentials on the API.
    r = requests.get(f"{gh}/user", headers={"Authorization": "token gho_nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["message"] == "Bad credentials", r.text


if __name__ == "__main__":
    main()
