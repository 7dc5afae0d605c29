//! The client's address, as the failed-login throttle and the session records see it.
//!
//! It is the TCP peer's address, unless the peer is one of `http.trusted_proxies`: then the
//! proxy's `X-Forwarded-For` (or, without one, `Forwarded: for=`) is read from the right,
//! skipping the hops that are themselves trusted proxies, and the first other hop is the
//! client. Everything to the left of that hop was written by the client and could say
//! anything, so it is never used. A hop that is not an address (`unknown`, an obfuscated
//! `_name`) where the client should be leaves the peer's address.

use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use ipnet::IpNet;

use crate::AppState;
use crate::domain::Actor;

/// The client address of a request (`None` only when the peer address is unknown, as in
/// unit tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address as text (empty when unknown): the throttle's key and the session's `ip`.
    pub fn key(&self) -> String {
        self.0.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

impl FromRequest for ClientIp {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map_or(&[][..], |state| &state.trusted_proxies[..]);
        let peer = req.peer_addr().map(|a| a.ip());
        ready(Ok(ClientIp(
            peer.map(|p| client_ip(p, req.headers(), trusted)),
        )))
    }
}

/// Where a request came from, as the audit log records it: the client address
/// ([`ClientIp`]) and the `User-Agent` it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub ip: ClientIp,
    pub user_agent: Option<String>,
}

impl Origin {
    /// The audit log's actor: `user` acting from here.
    pub fn actor(&self, user: &crate::db::accounts::User) -> Actor {
        self.acting(Some(user.id), &user.email)
    }

    /// The audit log's actor from here, named `label` (`user_id` when signed in).
    pub fn acting(&self, user_id: Option<crate::domain::UserId>, label: &str) -> Actor {
        Actor::new(
            user_id,
            label,
            self.ip.0.map(|ip| ip.to_string()),
            self.user_agent.as_deref(),
        )
    }
}

impl FromRequest for Origin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ip = match ClientIp::from_request(req, payload).into_inner() {
            Ok(ip) => ip,
            Err(e) => return ready(Err(e)),
        };
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ready(Ok(Origin { ip, user_agent }))
    }
}

/// The client address of a request from `peer` with `headers`, given the trusted proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = forwarded_for(headers, header::X_FORWARDED_FOR);
    if hops.is_empty() {
        hops = forwarded_for(headers, header::FORWARDED);
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            None => return peer,
        }
    }
    // Every hop is a trusted proxy: the farthest one is the best we know.
    client
}

/// The hops of every `X-Forwarded-For`, or the `for=` of every `Forwarded` element, in order.
fn forwarded_for(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
    let values = headers
        .get_all(&name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    if name == header::FORWARDED {
        values
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    } else {
        values.map(|hop| hop.trim().to_owned()).collect()
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse())
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    /// Request headers, as (name, value) pairs.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let xff = "x-forwarded-for";
        // (peer, headers, client)
        let cases: &[(&str, Headers, &str)] = &[
            ("203.0.113.5", &[(xff, "198.51.100.9")], "203.0.113.5"),
            ("10.1.1.1", &[], "10.1.1.1"),
            ("10.1.1.1", &[(xff, "198.51.100.9")], "198.51.100.9"),
            (
                "10.1.1.1",
                &[(xff, "1.1.1.1, 198.51.100.9")],
                "198.51.100.9",
            ),
            (
                "10.1.1.1",
                &[(xff, "1.1.1.1"), (xff, "198.51.100.9, 10.2.2.2")],
                "198.51.100.9",
            ),
            ("10.1.1.1", &[(xff, "10.3.3.3, 10.2.2.2")], "10.3.3.3"),
            ("10.1.1.1", &[(xff, "198.51.100.9:5555")], "198.51.100.9"),
            ("10.1.1.1", &[(xff, "[2001:db8::7]:5555")], "2001:db8::7"),
            ("10.1.1.1", &[(xff, "1.1.1.1, unknown")], "10.1.1.1"),
            (
                "::ffff:10.1.1.1",
                &[(xff, "::ffff:198.51.100.9")],
                "198.51.100.9",
            ),
            ("::1", &[(xff, "2001:db8::7")], "2001:db8::7"),
            (
                "10.1.1.1",
                &[("forwarded", "for=198.51.100.9;proto=https")],
                "198.51.100.9",
            ),
            (
                "10.1.1.1",
                &[(
                    "forwarded",
                    "for=1.1.1.1, For=\"[2001:db8::7]:4711\";by=10.1.1.1",
                )],
                "2001:db8::7",
            ),
            ("10.1.1.1", &[("forwarded", "for=_hidden")], "10.1.1.1"),
            // X-Forwarded-For wins when a proxy sets it: Forwarded may be the client's own.
            (
                "10.1.1.1",
                &[(xff, "198.51.100.9"), ("forwarded", "for=1.1.1.1")],
                "198.51.100.9",
            ),
        ];
        for (peer, headers, client) in cases {
            let mut map = HeaderMap::new();
            for (name, value) in *headers {
                map.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            assert_eq!(
                client_ip(ip(peer), &map, &trusted),
                ip(client),
                "{peer} {headers:?}"
            );
        }
    }
}
