//! The RS256 signing key: generated once per environment, kept as a PKCS#8 PEM file in the
//! data directory (so branches share their checkpoint's key), and published as a JWK.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::OauthError;

const KEY_FILE: &str = "rs256.pem";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The signing key with everything derived from it.
pub(crate) struct SigningKey {
    /// Key used to sign id tokens and access tokens.
    pub encoding: EncodingKey,
    /// Public key used to check access tokens presented back to the server.
    pub decoding: DecodingKey,
    /// Key id put in JWT headers and the JWK.
    pub kid: String,
    /// The public key as a JWK.
    pub jwk: Value,
}

impl SigningKey {
    /// Loads the key from `dir`, generating and storing a new one if there is none.
    pub fn load_or_generate(dir: &Path) -> Result<Self, OauthError> {
        let path = dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(pem) => Self::from_pem(&path, &pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem(&path)?;
                store_new(dir, &path, &pem)?;
                // Another process may have stored its key first: the file on disk wins.
                let stored = fs::read_to_string(&path).map_err(|source| OauthError::Io {
                    path: path.clone(),
                    source,
                })?;
                Self::from_pem(&path, &stored)
            }
            Err(source) => Err(OauthError::Io { path, source }),
        }
    }

    fn from_pem(path: &Path, pem: &str) -> Result<Self, OauthError> {
        let key_error = |message: String| OauthError::Key {
            path: path.to_path_buf(),
            message,
        };
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|e| key_error(format!("not PEM: {e}")))?;
        let pair = KeyPair::from_pkcs8(&der)
            .map_err(|e| key_error(format!("not an RSA PKCS#8 key: {e}")))?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid =
            URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{n}.{e}").as_bytes()))[..16].to_string();
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| key_error(format!("cannot load as a signing key: {e}")))?;
        let decoding = DecodingKey::from_rsa_components(&n, &e)
            .map_err(|e| key_error(format!("cannot load the public key: {e}")))?;
        let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
        Ok(SigningKey {
            encoding,
            decoding,
            kid,
            jwk,
        })
    }
}

fn generate_pem(path: &Path) -> Result<String, OauthError> {
    let key_error = |message: String| OauthError::Key {
        path: path.to_path_buf(),
        message,
    };
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|e| key_error(format!("RSA key generation failed: {e}")))?;
    let der = pair
        .as_der()
        .map_err(|e| key_error(format!("cannot encode the key as PKCS#8: {e}")))?;
    let b64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from(PEM_BEGIN);
    pem.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    Ok(pem)
}

/// Writes `pem` to a temporary file and links it into place without replacing a key that
/// is already there.
fn store_new(dir: &Path, path: &Path, pem: &str) -> Result<(), OauthError> {
    let io = |p: PathBuf| move |source| OauthError::Io { path: p, source };
    fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let tmp = dir.join(format!(".{KEY_FILE}.{}.tmp", std::process::id()));
    {
        let mut f = fs::File::create(&tmp).map_err(io(tmp.clone()))?;
        f.write_all(pem.as_bytes()).map_err(io(tmp.clone()))?;
        f.sync_all().map_err(io(tmp.clone()))?;
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(OauthError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_generate(dir.path()).unwrap();
        let second = SigningKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.kid, second.kid);
        assert_eq!(first.jwk, second.jwk);
        assert_eq!(first.jwk["kty"], "RSA");
        assert_eq!(first.jwk["e"], "AQAB");
        let other = tempfile::tempdir().unwrap();
        let third = SigningKey::load_or_generate(other.path()).unwrap();
        assert_ne!(first.kid, third.kid);
    }

    #[test]
    fn corrupt_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        assert!(matches!(
            SigningKey::load_or_generate(dir.path()),
            Err(OauthError::Key { .. })
        ));
    }
}
