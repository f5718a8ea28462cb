//! `[http]` of the configuration: where `relais serve` listens, who may send through it
//! (Kannel's sendsms users, JSON API tokens), where inbound messages go (Kannel's
//! sms-service), the webhooks, and how callbacks are retried.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

/// The default address: loopback only, Kannel's sendsms port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:13013";

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// A request that takes longer is answered 408.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: String,
    /// Hosts callback and webhook URLs may name (empty: any host).
    #[serde(default)]
    pub callback_hosts: Vec<String>,
    /// How long one callback may take before it counts as failed.
    #[serde(default = "default_callback_timeout")]
    pub callback_timeout: String,
    /// Tries per callback (the first included) before it becomes a dead letter.
    #[serde(default = "default_callback_attempts")]
    pub callback_attempts: u32,
    /// Wait before each retry; the last one repeats.
    #[serde(default = "default_callback_backoff")]
    pub callback_backoff: Vec<String>,
    /// Key for signing webhooks registered through the API (`POST /webhooks`).
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Kannel sendsms users.
    #[serde(default, rename = "user")]
    pub users: Vec<HttpUser>,
    /// JSON API tokens.
    #[serde(default, rename = "token")]
    pub tokens: Vec<ApiToken>,
    /// Inbound routing to applications.
    #[serde(default, rename = "service")]
    pub services: Vec<HttpService>,
    /// Webhooks named in the configuration.
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        toml::from_str("").expect("every field has a default")
    }
}

fn default_listen() -> String {
    DEFAULT_LISTEN.into()
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_request_timeout() -> String {
    "30s".into()
}
fn default_callback_timeout() -> String {
    "10s".into()
}
fn default_callback_attempts() -> u32 {
    10
}
fn default_callback_backoff() -> Vec<String> {
    ["10s", "30s", "2m", "10m", "30m", "1h"]
        .map(String::from)
        .to_vec()
}

/// `[[http.user]]`: a sendsms user (Kannel's `sendsms-user`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpUser {
    /// `username` of the request.
    pub name: String,
    /// `password` of the request.
    pub password: String,
    /// Brand of its messages (default: the only configured brand).
    #[serde(default)]
    pub brand: Option<String>,
    /// transactional, marketing or conversational.
    #[serde(default = "default_class")]
    pub class: String,
    /// Content categories of its messages, comma separated.
    #[serde(default)]
    pub categories: String,
    /// The device its messages go through (default: any that sends for the brand).
    #[serde(default)]
    pub device: Option<String>,
    /// Client addresses allowed (exact addresses or CIDR blocks; empty: any).
    #[serde(default)]
    pub allow_ip: Vec<String>,
    /// Requests per second allowed (0: no limit), with bursts of the same size.
    #[serde(default)]
    pub rate: u32,
    /// Most SMS parts one message may take (Kannel's `max-messages`).
    #[serde(default = "default_max_messages")]
    pub max_messages: u32,
    /// Country calling code for receivers in national form: with 33, `0612345678` is
    /// +33 6 12 34 56 78. Without it such receivers are set aside. (Receivers of
    /// digits alone, without a leading 0, are read as international: `33612345678`.)
    #[serde(default)]
    pub country_code: Option<u16>,
}

fn default_class() -> String {
    "transactional".into()
}
fn default_max_messages() -> u32 {
    10
}

/// `[[http.token]]`: a JSON API client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// A name for logs and the store (never the token).
    pub name: String,
    /// The Bearer token.
    pub token: String,
    /// Default brand of its messages.
    #[serde(default)]
    pub brand: Option<String>,
    /// Default class of its messages.
    #[serde(default = "default_class")]
    pub class: String,
    /// Client addresses allowed (empty: any).
    #[serde(default)]
    pub allow_ip: Vec<String>,
    /// Requests per second allowed (0: no limit).
    #[serde(default)]
    pub rate: u32,
}

/// `[[http.service]]`: inbound messages to an application (Kannel's `sms-service`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpService {
    /// The first word of the message, case-insensitive, or "default".
    pub keyword: String,
    /// A GET to this template (Kannel escape codes).
    #[serde(default)]
    pub get_url: Option<String>,
    /// A POST of the text to this template.
    #[serde(default)]
    pub post_url: Option<String>,
    /// Send the application's answer back to the sender as an SMS (through the
    /// compliance core, as a conversational message).
    #[serde(default)]
    pub reply: bool,
    /// Brand of the replies.
    #[serde(default)]
    pub brand: Option<String>,
}

/// `[[http.webhook]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Events: received, sent, delivered, failed, refused, device.up, device.down
    /// (empty: all).
    #[serde(default)]
    pub events: Vec<String>,
    /// HMAC-SHA256 key of the signature.
    pub secret: String,
}

/// Webhook events.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "received",
    "sent",
    "delivered",
    "failed",
    "refused",
    "device.up",
    "device.down",
];

/// An address block of `allow_ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `10.0.0.0/8`, `::1` or `127.0.0.1`.
    pub fn parse(text: &str) -> Result<IpBlock, String> {
        let bad = || format!("{text:?} is not an address or a CIDR block like 10.0.0.0/8");
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpBlock { addr, prefix })
    }

    /// True when `ip` is in the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)),
                IpAddr::V6(v) => u128::from(v),
            }
        };
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = width - u32::from(self.prefix);
        bits(ip) >> shift == bits(self.addr) >> shift
    }
}

/// True when `allow` is empty or one of its blocks holds `ip`.
pub fn ip_allowed(allow: &[IpBlock], ip: IpAddr) -> bool {
    allow.is_empty() || allow.iter().any(|b| b.contains(ip))
}

impl HttpConfig {
    /// The listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| {
            format!(
                "http.listen: {:?} is not an address like 127.0.0.1:13013",
                self.listen
            )
        })
    }

    /// The callback retry waits, in seconds.
    pub fn backoff_secs(&self) -> Result<Vec<u64>, String> {
        if self.callback_backoff.is_empty() {
            return Err("http.callback_backoff must name at least one wait".into());
        }
        self.callback_backoff
            .iter()
            .map(|t| secs(t, "http.callback_backoff"))
            .collect()
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Result<std::time::Duration, String> {
        secs(&self.request_timeout, "http.request_timeout").map(std::time::Duration::from_secs)
    }

    /// The callback timeout.
    pub fn callback_timeout(&self) -> Result<std::time::Duration, String> {
        secs(&self.callback_timeout, "http.callback_timeout").map(std::time::Duration::from_secs)
    }

    /// Checks everything that can be checked without the rest of the configuration.
    pub fn check(&self, has_brand: impl Fn(&str) -> bool) -> Result<(), String> {
        self.listen_addr()?;
        self.backoff_secs()?;
        self.request_timeout()?;
        self.callback_timeout()?;
        if self.callback_attempts == 0 {
            return Err("http.callback_attempts must be at least 1".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for u in &self.users {
            if !names.insert(u.name.as_str()) {
                return Err(format!("http.user {:?} is defined twice", u.name));
            }
            if u.password.is_empty() {
                return Err(format!("http.user {:?} needs a password", u.name));
            }
            crate::campaign::parse_class(&u.class)
                .map_err(|e| format!("http.user {:?}: {e}", u.name))?;
            crate::scheduler::parse_categories(&u.categories)
                .map_err(|e| format!("http.user {:?}: {e}", u.name))?;
            for a in &u.allow_ip {
                IpBlock::parse(a).map_err(|e| format!("http.user {:?}: allow_ip: {e}", u.name))?;
            }
            if let Some(b) = u.brand.as_deref().filter(|b| !has_brand(b)) {
                return Err(format!("http.user {:?}: no [[brand]] named {b:?}", u.name));
            }
        }
        for t in &self.tokens {
            if t.token.len() < 16 {
                return Err(format!(
                    "http.token {:?}: the token must have at least 16 characters",
                    t.name
                ));
            }
            crate::campaign::parse_class(&t.class)
                .map_err(|e| format!("http.token {:?}: {e}", t.name))?;
            for a in &t.allow_ip {
                IpBlock::parse(a).map_err(|e| format!("http.token {:?}: allow_ip: {e}", t.name))?;
            }
            if let Some(b) = t.brand.as_deref().filter(|b| !has_brand(b)) {
                return Err(format!("http.token {:?}: no [[brand]] named {b:?}", t.name));
            }
        }
        for s in &self.services {
            if s.get_url.is_some() == s.post_url.is_some() {
                return Err(format!(
                    "http.service {:?}: give exactly one of get_url and post_url",
                    s.keyword
                ));
            }
            let url = s
                .get_url
                .as_deref()
                .or(s.post_url.as_deref())
                .unwrap_or_default();
            check_url(url, &self.callback_hosts)
                .map_err(|e| format!("http.service {:?}: {e}", s.keyword))?;
        }
        for w in &self.webhooks {
            check_url(&w.url, &self.callback_hosts).map_err(|e| format!("http.webhook: {e}"))?;
            for e in &w.events {
                if !WEBHOOK_EVENTS.contains(&e.as_str()) {
                    return Err(format!(
                        "http.webhook {:?}: unknown event {e:?}; one of {}",
                        w.url,
                        WEBHOOK_EVENTS.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A configured duration in whole seconds (rounded down).
fn secs(text: &str, what: &str) -> Result<u64, String> {
    let d = crate::config::parse_duration(text).map_err(|e| format!("{what}: {e}"))?;
    Ok(d.as_secs())
}

/// Checks a callback URL (or template): http or https, and a host from `hosts` when
/// that list is not empty. Template escapes (`%p`) are allowed in the path and query.
pub fn check_url(url: &str, hosts: &[String]) -> Result<(), String> {
    // Escapes would not parse as a URL; any value is put in their place to read the
    // host (escapes in the host itself are refused).
    let probe = url.replace('%', "0");
    let parsed = reqwest::Url::parse(&probe).map_err(|e| format!("{url:?}: not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{url:?}: only http:// and https:// URLs are called"
        ));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{url:?}: no host"));
    };
    let authority = url.split_once("://").map_or("", |(_, r)| {
        r.split(['/', '?', '#']).next().unwrap_or_default()
    });
    if authority.contains('%') {
        return Err(format!("{url:?}: escapes are not allowed in the host"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !hosts.is_empty() && !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(format!(
            "{url:?}: host {host:?} is not in http.callback_hosts ({})",
            hosts.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_blocks_match_addresses_and_prefixes() {
        let b = IpBlock::parse("10.1.0.0/16").unwrap();
        assert!(b.contains("10.1.200.3".parse().unwrap()));
        assert!(!b.contains("10.2.0.1".parse().unwrap()));
        assert!(b.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpBlock::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            IpBlock::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            IpBlock::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("ten").is_err());
    }

    #[test]
    fn callback_urls_are_http_and_from_the_allowed_hosts() {
        assert!(check_url("http://127.0.0.1:8000/in?from=%p", &[]).is_ok());
        assert!(check_url("https://app.example/dlr", &[]).is_ok());
        assert!(check_url("file:///etc/passwd", &[]).is_err());
        assert!(check_url("gopher://x/", &[]).is_err());
        assert!(check_url("http://", &[]).is_err());
        assert!(check_url("http://:80/x", &[]).is_err());
        let allow = vec!["app.example".to_string()];
        assert!(check_url("https://APP.example/x", &allow).is_ok());
        assert!(check_url("https://evil.example/x", &allow).is_err());
        assert!(check_url("https://app.example@evil.example/x", &allow).is_err());
        assert!(check_url("http://evil.example\\@app.example/", &allow).is_err());
        assert!(
            check_url("http://%p.example/", &[]).is_err(),
            "no escapes in the host"
        );
    }

    #[test]
    fn the_defaults_listen_on_loopback() {
        let c = HttpConfig::default();
        assert_eq!(c.listen_addr().unwrap().to_string(), DEFAULT_LISTEN);
        assert!(c.listen_addr().unwrap().ip().is_loopback());
        c.check(|_| true).unwrap();
    }
}
