//! Reads the manifest `config` of an oauth-mock service into providers, clients and users.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::OauthError;

/// Client id every provider gets with the list form of `providers`.
pub(crate) const DEFAULT_CLIENT_ID: &str = "test-client-id";
/// Client secret every provider gets with the list form of `providers`.
pub(crate) const DEFAULT_CLIENT_SECRET: &str = "test-client-secret";
const DEFAULT_EMAIL: &str = "test.user@example.com";
const DEFAULT_NAME: &str = "Test User";
/// Providers served when the config names none.
const DEFAULT_PROVIDERS: [&str; 2] = ["google", "github"];

/// The whole oauth-mock configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Providers in configuration order.
    pub providers: Vec<Provider>,
    /// Redirect URIs accepted by every provider; empty accepts any absolute URI.
    pub callback_urls: Vec<String>,
    /// Base URL that overrides the server's public base.
    pub issuer: Option<String>,
}

/// One identity provider with its single client and its users.
#[derive(Debug, Clone)]
pub(crate) struct Provider {
    /// Path segment and issuer suffix, e.g. `google`.
    pub name: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
    /// Users that can log in, the first being the default.
    pub users: Vec<User>,
}

/// A user a provider logs in non-interactively.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Email address, also matched by `login_hint`.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Stable subject identifier.
    pub sub: String,
    /// GitHub-style login name.
    pub login: String,
    /// GitHub-style numeric id.
    pub numeric_id: u64,
    /// Further claims from the config, copied into id tokens and userinfo.
    pub extra: Map<String, Value>,
}

impl Settings {
    /// Parses the service `config` (which may be `Null`).
    pub fn from_config(config: &Value) -> Result<Self, OauthError> {
        let empty = Map::new();
        let obj = match config {
            Value::Null => &empty,
            Value::Object(map) => map,
            other => return Err(config_error(format!("expected a map, found {other}"))),
        };
        let providers = match obj.get("providers") {
            None | Some(Value::Null) => DEFAULT_PROVIDERS
                .iter()
                .map(|name| Provider::with_defaults(name))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Array(names)) => names
                .iter()
                .map(|v| match v {
                    Value::String(name) => Provider::with_defaults(name),
                    other => Err(config_error(format!(
                        "providers[]: expected a provider name, found {other}"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, v)| Provider::from_entry(name, v))
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(config_error(format!(
                    "providers: expected a list or a map, found {other}"
                )))
            }
        };
        if providers.is_empty() {
            return Err(config_error(
                "providers: at least one provider is needed".into(),
            ));
        }
        let callback_urls = match obj.get("callback_urls") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(urls)) => urls
                .iter()
                .map(|u| {
                    u.as_str().map(str::to_string).ok_or_else(|| {
                        config_error(format!("callback_urls[]: expected a URL, found {u}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(config_error(format!(
                    "callback_urls: expected a list of URLs, found {other}"
                )))
            }
        };
        let issuer = match obj.get("issuer") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.starts_with("http://") || s.starts_with("https://") => {
                Some(s.trim_end_matches('/').to_string())
            }
            Some(other) => {
                return Err(config_error(format!(
                    "issuer: expected an http(s) URL, found {other}"
                )))
            }
        };
        Ok(Settings {
            providers,
            callback_urls,
            issuer,
        })
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }
}

impl Provider {
    fn with_defaults(name: &str) -> Result<Self, OauthError> {
        check_name(name)?;
        Ok(Provider {
            name: name.to_string(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            users: vec![User::new(
                name,
                DEFAULT_EMAIL,
                DEFAULT_NAME,
                None,
                None,
                Map::new(),
            )],
        })
    }

    fn from_entry(name: &str, entry: &Value) -> Result<Self, OauthError> {
        let mut provider = Provider::with_defaults(name)?;
        let obj = match entry {
            Value::Null => return Ok(provider),
            Value::Object(map) => map,
            other => {
                return Err(config_error(format!(
                    "providers.{name}: expected a map, found {other}"
                )))
            }
        };
        if let Some(id) = string_key(obj, "client_id", name)? {
            provider.client_id = id;
        }
        if let Some(secret) = string_key(obj, "client_secret", name)? {
            provider.client_secret = secret;
        }
        match obj.get("users") {
            None | Some(Value::Null) => {}
            Some(Value::Array(users)) => {
                provider.users = users
                    .iter()
                    .map(|u| User::from_entry(name, u))
                    .collect::<Result<Vec<_>, _>>()?;
                if provider.users.is_empty() {
                    return Err(config_error(format!(
                        "providers.{name}.users: at least one user is needed"
                    )));
                }
            }
            Some(other) => {
                return Err(config_error(format!(
                    "providers.{name}.users: expected a list, found {other}"
                )))
            }
        }
        Ok(provider)
    }

    /// The user `login_hint` names (by email, login or sub), else the first user.
    pub fn pick_user(&self, login_hint: Option<&str>) -> Option<&User> {
        match login_hint.filter(|h| !h.is_empty()) {
            None => self.users.first(),
            Some(hint) => self
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(hint) || u.login == hint || u.sub == hint),
        }
    }

    /// The user with email `email`.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email == email)
    }

    /// The user with subject `sub`.
    pub fn user_by_sub(&self, sub: &str) -> Option<&User> {
        self.users.iter().find(|u| u.sub == sub)
    }
}

impl User {
    fn new(
        provider: &str,
        email: &str,
        name: &str,
        sub: Option<String>,
        login: Option<String>,
        extra: Map<String, Value>,
    ) -> Self {
        let digest = Sha256::digest(format!("vers-oauth-mock:{provider}:{email}").as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // Keep ids within 53 bits so JavaScript clients read them exactly.
        let hashed_id = u64::from_be_bytes(first) >> 11;
        let numeric_id = sub
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(hashed_id);
        let login = login.unwrap_or_else(|| {
            let local = email.split('@').next().unwrap_or(email);
            local
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect()
        });
        User {
            email: email.to_string(),
            name: name.to_string(),
            sub: sub.unwrap_or_else(|| hashed_id.to_string()),
            login,
            numeric_id,
            extra,
        }
    }

    fn from_entry(provider: &str, entry: &Value) -> Result<Self, OauthError> {
        let context = format!("providers.{provider}.users[]");
        match entry {
            Value::String(email) => Ok(User::new(
                provider,
                email,
                &name_from_email(email),
                None,
                None,
                Map::new(),
            )),
            Value::Object(obj) => {
                let email = string_key(obj, "email", &context)?
                    .ok_or_else(|| config_error(format!("{context}: `email` is required")))?;
                let name =
                    string_key(obj, "name", &context)?.unwrap_or_else(|| name_from_email(&email));
                let sub = match obj.get("sub") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(other) => {
                        return Err(config_error(format!(
                            "{context}.sub: expected a string, found {other}"
                        )))
                    }
                };
                let login = string_key(obj, "login", &context)?;
                let extra = obj
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "email" | "name" | "sub" | "login"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Ok(User::new(provider, &email, &name, sub, login, extra))
            }
            other => Err(config_error(format!(
                "{context}: expected a map or an email, found {other}"
            ))),
        }
    }

    /// OpenID Connect standard claims of this user plus the extra configured ones.
    pub fn claims(&self) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("sub".into(), self.sub.clone().into());
        claims.insert("email".into(), self.email.clone().into());
        claims.insert("email_verified".into(), true.into());
        claims.insert("name".into(), self.name.clone().into());
        if let Some((given, family)) = self.name.split_once(' ') {
            claims.insert("given_name".into(), given.into());
            claims.insert("family_name".into(), family.into());
        }
        claims.insert("preferred_username".into(), self.login.clone().into());
        for (k, v) in &self.extra {
            claims.insert(k.clone(), v.clone());
        }
        claims
    }
}

fn name_from_email(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_string()
}

fn string_key(
    obj: &Map<String, Value>,
    key: &str,
    context: &str,
) -> Result<Option<String>, OauthError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(config_error(format!(
            "{context}.{key}: expected a string, found {other}"
        ))),
    }
}

fn check_name(name: &str) -> Result<(), OauthError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(config_error(format!(
            "providers: `{name}` is not a valid provider name (letters, digits, `-`, `_`)"
        )))
    }
}

fn config_error(message: String) -> OauthError {
    OauthError::Config { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_form_gives_default_client_and_user() {
        let s = Settings::from_config(&json!({"providers": ["google", "github"]})).unwrap();
        assert_eq!(s.providers.len(), 2);
        let g = s.provider("google").unwrap();
        assert_eq!(g.client_id, DEFAULT_CLIENT_ID);
        assert_eq!(g.client_secret, DEFAULT_CLIENT_SECRET);
        assert_eq!(g.users[0].email, DEFAULT_EMAIL);
        assert_eq!(g.users[0].name, DEFAULT_NAME);
        let again = Settings::from_config(&json!({"providers": ["google"]})).unwrap();
        assert_eq!(again.providers[0].users[0].sub, g.users[0].sub);
        assert_ne!(s.provider("github").unwrap().users[0].sub, g.users[0].sub);
    }

    #[test]
    fn map_form_reads_clients_and_users() {
        let s = Settings::from_config(&json!({
            "providers": {"acme": {"client_id": "c", "client_secret": "s",
                "users": [{"email": "a@x.io", "name": "A B", "sub": "42", "picture": "p"}, "b@x.io"]}},
            "callback_urls": ["http://app/cb"],
            "issuer": "http://idp:9000/"
        }))
        .unwrap();
        let p = s.provider("acme").unwrap();
        assert_eq!((p.client_id.as_str(), p.client_secret.as_str()), ("c", "s"));
        assert_eq!(p.users[0].sub, "42");
        assert_eq!(p.users[0].numeric_id, 42);
        assert_eq!(p.users[0].claims()["picture"], "p");
        assert_eq!(p.pick_user(Some("b@x.io")).unwrap().name, "b");
        assert_eq!(p.pick_user(None).unwrap().email, "a@x.io");
        assert!(p.pick_user(Some("nobody@x.io")).is_none());
        assert_eq!(s.issuer.as_deref(), Some("http://idp:9000"));
        assert_eq!(s.callback_urls, vec!["http://app/cb".to_string()]);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(Settings::from_config(&json!({"providers": "google"})).is_err());
        assert!(Settings::from_config(&json!({"providers": ["bad/name"]})).is_err());
        assert!(
            Settings::from_config(&json!({"providers": {"x": {"users": [{"name": "n"}]}}}))
                .is_err()
        );
        assert!(Settings::from_config(&json!({"issuer": "idp"})).is_err());
        let d = Settings::from_config(&Value::Null).unwrap();
        assert_eq!(d.providers.len(), 2);
    }
}
