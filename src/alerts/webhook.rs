//! Webhook notifications, signed the Standard Webhooks way
//! (<https://www.standardwebhooks.com/>):
//!
//! - `webhook-id`: the delivery's id, the same on every attempt (receivers deduplicate on it);
//! - `webhook-timestamp`: seconds since the epoch at the attempt;
//! - `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed
//!   with the rule's secret — `whsec_` + base64, the key being the decoded bytes.
//!
//! A POST has 10 s to be answered and follows no redirect. Unless
//! `alerts.allow_private_targets`, a target whose host is (or resolves to) a loopback,
//! private, link-local (cloud metadata), shared, multicast or otherwise non-public address
//! is refused — checked before sending and again by the resolver the connection uses, so a
//! name that changes its answer in between is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long one POST may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The prefix of a secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh secret: `whsec_` + base64 of 24 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// The signing key of a secret: the base64 after `whsec_` decoded (the secret's bytes
/// themselves if it is not of that form).
fn key_of(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|b64| BASE64.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// Whether an address is one a webhook may reach without `alerts.allow_private_targets`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, the cloud metadata address among them
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, the AWS metadata address)
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0xdb8 // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64 to any IPv4 address
}

/// Why an attempt did not reach its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// Retrying cannot help (a refused target): the delivery fails at once.
    pub permanent: bool,
    /// The HTTP status, when the target answered.
    pub status: Option<u16>,
}

impl SendError {
    fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            status: None,
        }
    }
}

/// A resolver that leaves out non-public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends webhooks. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    client: reqwest::Client,
    allow_private: bool,
}

impl Webhooks {
    /// A sender; `allow_private` is `alerts.allow_private_targets`.
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Mesher-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private,
        })
    }

    /// Refuses a target that is, or resolves only or partly to, a non-public address.
    async fn check_target(&self, url: &url::Url) -> Result<(), SendError> {
        if self.allow_private {
            return Ok(());
        }
        let refused = |why: String| SendError {
            message: format!(
                "refused: {why} (set alerts.allow_private_targets to allow private targets)"
            ),
            permanent: true,
            status: None,
        };
        let ips: Vec<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(url::Host::Domain(name)) => {
                let port = url.port_or_known_default().unwrap_or(443);
                tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|e| SendError::transient(format!("cannot resolve {name}: {e}")))?
                    .map(|a| a.ip())
                    .collect()
            }
            None => return Err(refused("the URL has no host".into())),
        };
        match ips.iter().find(|ip| !is_public(**ip)) {
            Some(ip) => Err(refused(format!("{ip} is not a public address"))),
            None => Ok(()),
        }
    }

    /// POSTs `body` (JSON) to `url`, signed with `secret` as delivery `id`. Answers the 2xx
    /// status; anything else is an error (with the status when there was one).
    pub async fn send(
        &self,
        url: &str,
        id: &str,
        secret: &str,
        body: Vec<u8>,
    ) -> Result<u16, SendError> {
        let parsed = url::Url::parse(url).map_err(|e| SendError {
            message: format!("invalid URL: {e}"),
            permanent: true,
            status: None,
        })?;
        self.check_target(&parsed).await?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(secret, id, timestamp, &body);
        let response = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::transient(describe(&e)))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            Ok(status)
        } else {
            Err(SendError {
                message: format!("answered HTTP {status}"),
                permanent: false,
                status: Some(status),
            })
        }
    }
}

/// A reqwest error with its causes, on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_of_the_standard_form() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(key_of(&a).len(), 24);
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
