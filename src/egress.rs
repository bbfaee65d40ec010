//! Where Atrium may open a connection to a Prefect server (issue #21). Connecting a URL
//! opens a door into the network Atrium runs in (server-side request forgery), so only the
//! hosts and networks the operator lists in `ATRIUM_PREFECT_SERVER_ALLOW` may be connected —
//! by default none, so only the servers Atrium starts itself. The check is made on the
//! addresses a name resolves to, and again at each connection (the caller connects to the
//! address it checked, so a name cannot resolve elsewhere in between). Some addresses are
//! never allowed, whatever the list says: unspecified, link-local (cloud metadata services
//! live at 169.254.169.254), multicast and broadcast.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The operator's list: host names (matched exactly, case-insensitively) and networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Egress {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

/// Why a URL may not be connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// Not an `http` or `https` URL with a host and no user name or password in it.
    NotAServerUrl,
    /// The name resolved to no address.
    Unresolved,
    /// An address it resolves to is outside the operator's list (or never allowed).
    NotAllowed(IpAddr),
}

impl Blocked {
    /// The message shown beside the URL field.
    pub fn message(&self) -> String {
        match self {
            Blocked::NotAServerUrl => {
                "Enter the server's address as http://host:port or https://host:port.".into()
            }
            Blocked::Unresolved => "This host name does not resolve to an address.".into(),
            Blocked::NotAllowed(addr) => format!(
                "Atrium may not connect to {addr}: the address is not in the networks this instance allows (ATRIUM_PREFECT_SERVER_ALLOW)."
            ),
        }
    }
}

impl Egress {
    /// Parses the setting: entries separated by commas or white space, each a network
    /// (`10.0.0.0/8`), an address (`10.1.2.3`, a network of one) or a host name.
    pub fn parse(raw: &str) -> Result<Egress, String> {
        let mut e = Egress::default();
        for entry in raw.split([',', ' ', '\n', '\t']).filter(|s| !s.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                e.nets.push(net.trunc());
            } else if let Ok(addr) = entry.parse::<IpAddr>() {
                e.nets.push(IpNet::from(addr));
            } else if is_host_name(entry) {
                e.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} is neither a network, an address nor a host name"
                ));
            }
        }
        Ok(e)
    }

    /// True when nothing may be connected (the default).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.nets.is_empty()
    }

    /// May Atrium connect to `addr`, reached through the name `host`?
    pub fn permits(&self, host: &str, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        if never(addr) {
            return false;
        }
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
            || self.nets.iter().any(|n| n.contains(&addr))
    }

    /// Checks a server URL against the addresses its host resolved to (the caller resolves
    /// and then connects to one of `resolved`): every one must be permitted.
    pub fn check(&self, url: &url::Url, resolved: &[SocketAddr]) -> Result<(), Blocked> {
        let host = server_host(url)?;
        if resolved.is_empty() {
            return Err(Blocked::Unresolved);
        }
        match resolved.iter().find(|a| !self.permits(&host, a.ip())) {
            Some(bad) => Err(Blocked::NotAllowed(canonical(bad.ip()))),
            None => Ok(()),
        }
    }
}

/// The host of an `http`/`https` URL without credentials in it.
pub fn server_host(url: &url::Url) -> Result<String, Blocked> {
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(Blocked::NotAServerUrl);
    }
    match url.host() {
        Some(url::Host::Domain(d)) => Ok(d.to_ascii_lowercase()),
        Some(url::Host::Ipv4(a)) => Ok(a.to_string()),
        Some(url::Host::Ipv6(a)) => Ok(a.to_string()),
        None => Err(Blocked::NotAServerUrl),
    }
}

/// Addresses no list allows.
pub fn never(addr: IpAddr) -> bool {
    match canonical(addr) {
        IpAddr::V4(a) => {
            a.is_unspecified() || a.is_link_local() || a.is_multicast() || a.is_broadcast()
        }
        IpAddr::V6(a) => {
            a.is_unspecified() || a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The error a [`Resolver`] answers for a blocked name: the gateway tells it from an
/// unreachable server by this type.
#[derive(Debug)]
pub struct BlockedError(pub Blocked);

impl std::fmt::Display for BlockedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message())
    }
}

impl std::error::Error for BlockedError {}

impl Egress {
    /// Resolves `host` and checks every address it resolves to; the caller connects to one
    /// of the addresses answered, never to the name again.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Blocked> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map(|a| a.collect())
                .unwrap_or_default(),
        };
        if addrs.is_empty() {
            return Err(Blocked::Unresolved);
        }
        match addrs.iter().find(|a| !self.permits(literal, a.ip())) {
            Some(bad) => Err(Blocked::NotAllowed(canonical(bad.ip()))),
            None => Ok(addrs),
        }
    }

    /// Checks a URL whose host is an address (which an HTTP client connects to without
    /// asking a resolver); names are checked by [`Resolver`] at each connection.
    pub fn check_literal(&self, url: &url::Url) -> Result<(), Blocked> {
        let host = server_host(url)?;
        match host.parse::<IpAddr>() {
            Ok(ip) => self.check(
                url,
                &[SocketAddr::new(
                    ip,
                    url.port_or_known_default().unwrap_or(80),
                )],
            ),
            Err(_) => Ok(()),
        }
    }

    /// The HTTP client for Prefect servers: names resolved and checked by [`Resolver`] at
    /// each new connection, no redirects followed, no proxy from the environment, bounded
    /// connection and read times, and no overall limit (a long download streams on).
    pub fn http_client(self: &std::sync::Arc<Self>) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(Resolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(std::time::Duration::from_secs(5))
            .read_timeout(std::time::Duration::from_secs(120))
            // Below uvicorn's keep-alive (5 s, Prefect's default): a pooled connection is
            // dropped before the server closes it, not reused as it does.
            .pool_idle_timeout(std::time::Duration::from_secs(4))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
    }
}

/// What the connection check and the gateway reach Prefect servers with: the operator's
/// list and an HTTP client built on it. Each of actix's workers has a client of its own
/// ([`Upstream::for_this_worker`]): a pooled connection is served by a task on the thread
/// that made it, so a connection shared between workers would cost a call two hand-overs
/// between threads whenever it went out on another worker's connection.
#[derive(Clone)]
pub struct Upstream {
    pub egress: std::sync::Arc<Egress>,
    pub http: reqwest::Client,
}

impl Upstream {
    pub fn new(egress: Egress) -> Result<Upstream, reqwest::Error> {
        let egress = std::sync::Arc::new(egress);
        let http = egress.http_client()?;
        Ok(Upstream { egress, http })
    }

    /// The same list with a client (and connection pool) of its own, for one worker; the
    /// shared client if a new one cannot be built (it was built once at start, so this
    /// does not happen in practice).
    pub fn for_this_worker(&self) -> Upstream {
        match self.egress.http_client() {
            Ok(http) => Upstream {
                egress: self.egress.clone(),
                http,
            },
            Err(_) => self.clone(),
        }
    }
}

/// reqwest's resolver for Prefect servers: every address a name resolves to must be
/// permitted, or the connection is not made ([`BlockedError`]).
pub struct Resolver(std::sync::Arc<Egress>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            match egress.resolve(&host, 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(b) => {
                    Err(Box::new(BlockedError(b)) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    fn at(s: &str) -> Vec<SocketAddr> {
        vec![SocketAddr::new(s.parse().expect("ip"), 4200)]
    }

    #[test]
    fn by_default_nothing_may_be_connected() {
        let e = Egress::parse("").expect("empty");
        assert!(e.is_empty());
        assert_eq!(
            e.check(&url("http://127.0.0.1:4200"), &at("127.0.0.1")),
            Err(Blocked::NotAllowed("127.0.0.1".parse().expect("ip")))
        );
    }

    #[test]
    fn listed_networks_and_hosts_are_allowed_after_resolution() {
        let e = Egress::parse("10.0.0.0/8, prefect.internal 192.168.1.7").expect("list");
        assert!(
            e.check(&url("http://10.2.3.4:4200"), &at("10.2.3.4"))
                .is_ok()
        );
        assert!(
            e.check(&url("http://192.168.1.7:4200/"), &at("192.168.1.7"))
                .is_ok()
        );
        assert!(
            e.check(&url("https://PREFECT.internal"), &at("172.16.0.9"))
                .is_ok()
        );
        // A name outside the list is judged by where it resolves: a private address is out.
        assert!(matches!(
            e.check(&url("http://looks-harmless.example"), &at("172.16.0.9")),
            Err(Blocked::NotAllowed(_))
        ));
        // Every address the name resolves to must be allowed, not just one of them.
        let mixed = vec![
            SocketAddr::new("10.0.0.5".parse().expect("ip"), 80),
            SocketAddr::new("172.16.0.9".parse().expect("ip"), 80),
        ];
        assert!(e.check(&url("http://twofaced.example"), &mixed).is_err());
    }

    #[test]
    fn metadata_link_local_and_unspecified_addresses_are_never_allowed() {
        let e = Egress::parse("0.0.0.0/0 ::/0 metadata.google.internal").expect("list");
        for bad in [
            "169.254.169.254",
            "0.0.0.0",
            "::ffff:169.254.169.254",
            "fe80::1",
            "224.0.0.1",
        ] {
            assert!(
                e.check(&url("http://metadata.google.internal"), &at(bad))
                    .is_err(),
                "{bad}"
            );
        }
        assert!(e.check(&url("http://10.0.0.1"), &at("10.0.0.1")).is_ok());
    }

    #[test]
    fn only_plain_server_urls_are_taken() {
        let e = Egress::parse("0.0.0.0/0").expect("list");
        for bad in [
            "ftp://10.0.0.1/",
            "http://user:pw@10.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                e.check(&url(bad), &at("10.0.0.1")),
                Err(Blocked::NotAServerUrl),
                "{bad}"
            );
        }
        assert_eq!(
            e.check(&url("http://10.0.0.1"), &[]),
            Err(Blocked::Unresolved)
        );
    }

    #[test]
    fn the_setting_refuses_what_it_cannot_read() {
        assert!(Egress::parse("10.0.0.0/33").is_err());
        assert!(Egress::parse("not a/host").is_err());
        assert!(Egress::parse("-bad-.example").is_err());
    }
}
