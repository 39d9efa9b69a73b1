//! PKCE (RFC 7636): checking a `code_verifier` against the stored `code_challenge`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A code challenge method supported at the authorize endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Method {
    /// `S256`: the challenge is base64url(SHA-256(verifier)).
    S256,
    /// `plain`: the challenge is the verifier.
    Plain,
}

impl Method {
    /// Parses `code_challenge_method` (absent means `plain`, as RFC 7636 says).
    pub fn parse(value: Option<&str>) -> Option<Method> {
        match value {
            None | Some("plain") => Some(Method::Plain),
            Some("S256") => Some(Method::S256),
            Some(_) => None,
        }
    }
}

/// Whether `verifier` is well formed (43 to 128 unreserved characters).
pub(crate) fn verifier_is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` matches `challenge` under `method`.
pub(crate) fn verify(method: Method, challenge: &str, verifier: &str) -> bool {
    match method {
        Method::Plain => challenge == verifier,
        Method::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_is_well_formed(verifier));
        assert!(verify(Method::S256, challenge, verifier));
        assert!(!verify(Method::S256, challenge, "x".repeat(43).as_str()));
        assert!(verify(Method::Plain, verifier, verifier));
        assert_eq!(Method::parse(Some("S512")), None);
        assert!(!verifier_is_well_formed("short"));
    }
}
