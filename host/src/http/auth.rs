//! Who may call: secrets compared in constant time, client addresses, rate limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::{ApiToken, HttpUser, IpBlock, ip_allowed};

/// True when `given` equals `expected`. Both are hashed first, so neither the
/// position of the first difference nor the length of the secret shows in the time.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// A sendsms user with its address blocks parsed.
#[derive(Debug, Clone)]
pub struct User {
    /// As configured.
    pub config: HttpUser,
    /// `allow_ip`, parsed.
    pub allow: Vec<IpBlock>,
}

/// A JSON API token with its address blocks parsed.
#[derive(Debug, Clone)]
pub struct Token {
    /// As configured.
    pub config: ApiToken,
    /// `allow_ip`, parsed.
    pub allow: Vec<IpBlock>,
}

fn blocks(list: &[String]) -> Vec<IpBlock> {
    list.iter().filter_map(|a| IpBlock::parse(a).ok()).collect()
}

/// Every credential `relais serve` knows.
#[derive(Debug)]
pub struct Credentials {
    users: Vec<User>,
    tokens: Vec<Token>,
}

impl Credentials {
    /// From the (checked) configuration.
    pub fn new(users: &[HttpUser], tokens: &[ApiToken]) -> Credentials {
        Credentials {
            users: users
                .iter()
                .map(|u| User {
                    config: u.clone(),
                    allow: blocks(&u.allow_ip),
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|t| Token {
                    config: t.clone(),
                    allow: blocks(&t.allow_ip),
                })
                .collect(),
        }
    }

    /// The user with this name and password, calling from `ip`. Every user's password
    /// is compared, so the time does not tell which names exist.
    pub fn user(&self, name: &str, password: &[u8], ip: IpAddr) -> Option<&User> {
        let mut found = None;
        for u in &self.users {
            let name_ok = same_secret(name.as_bytes(), u.config.name.as_bytes());
            let pass_ok = same_secret(password, u.config.password.as_bytes());
            if name_ok && pass_ok && found.is_none() {
                found = Some(u);
            }
        }
        found.filter(|u| ip_allowed(&u.allow, ip))
    }

    /// The token equal to `given`, calling from `ip`.
    pub fn token(&self, given: &[u8], ip: IpAddr) -> Option<&Token> {
        let mut found = None;
        for t in &self.tokens {
            if same_secret(given, t.config.token.as_bytes()) && found.is_none() {
                found = Some(t);
            }
        }
        found.filter(|t| ip_allowed(&t.allow, ip))
    }

    /// True when nobody can log in (the server then refuses everything but health).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.tokens.is_empty()
    }
}

/// Token buckets, one per client: `rate` requests per second, bursts of `rate`.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token for `client`; false when its bucket is empty. `rate` 0: no limit.
    pub fn allow(&self, client: &str, rate: u32) -> bool {
        self.allow_at(client, rate, Instant::now())
    }

    fn allow_at(&self, client: &str, rate: u32, now: Instant) -> bool {
        if rate == 0 {
            return true;
        }
        let cap = f64::from(rate);
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = b.entry(client.to_string()).or_insert((cap, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * cap;
        *tokens = (*tokens + refill).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Decodes a `Basic` Authorization header value into (name, password).
pub fn basic(header: &str) -> Option<(String, Vec<u8>)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // Standard alphabet (RFC 4648 §4); clients differ on padding, so take both.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let raw = LENIENT.decode(b64.trim()).ok()?;
    let colon = raw.iter().position(|&c| c == b':')?;
    let name = String::from_utf8(raw[..colon].to_vec()).ok()?;
    Some((name, raw[colon + 1..].to_vec()))
}

/// The token of a `Bearer` Authorization header value.
pub fn bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret(b"secret", b"secret"));
        assert!(!same_secret(b"secret", b"secreT"));
        assert!(!same_secret(b"secret", b"secret "));
        assert!(!same_secret(b"", b"secret"));
    }

    #[test]
    fn basic_headers_decode() {
        // "app:se:cret" in base64.
        assert_eq!(
            basic("Basic YXBwOnNlOmNyZXQ="),
            Some(("app".to_string(), b"se:cret".to_vec()))
        );
        assert_eq!(
            basic("Basic YXBwOnNlOmNyZXQ"),
            Some(("app".to_string(), b"se:cret".to_vec())),
            "without padding"
        );
        assert_eq!(basic("Basic YXBw"), None, "no colon");
        assert_eq!(basic("Basic !!!!"), None);
        assert_eq!(basic("Bearer x"), None);
        assert_eq!(bearer("Bearer abc "), Some("abc"));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        assert!((0..5).all(|_| l.allow_at("app", 5, t0)));
        assert!(!l.allow_at("app", 5, t0), "the sixth in the same instant");
        assert!(l.allow_at("other", 5, t0), "buckets are per client");
        assert!(l.allow_at("app", 5, t0 + std::time::Duration::from_millis(200)));
        assert!(!l.allow_at("app", 5, t0 + std::time::Duration::from_millis(200)));
        assert!((0..1000).all(|_| l.allow_at("free", 0, t0)));
    }

    #[test]
    fn users_are_found_by_name_password_and_address() {
        let users = vec![HttpUser {
            name: "app".into(),
            password: "secret".into(),
            brand: None,
            class: "transactional".into(),
            categories: String::new(),
            device: None,
            allow_ip: vec!["127.0.0.1".into()],
            rate: 0,
            max_messages: 10,
            country_code: None,
        }];
        let c = Credentials::new(&users, &[]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(c.user("app", b"secret", lo).is_some());
        assert!(c.user("app", b"wrong", lo).is_none());
        assert!(c.user("ap", b"secret", lo).is_none());
        assert!(
            c.user("app", b"secret", "10.0.0.1".parse().unwrap())
                .is_none()
        );
    }
}
