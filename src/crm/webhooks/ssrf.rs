//! Where a webhook may be sent. Private, loopback, link-local, unique-local,
//! shared (CGNAT), multicast, documentation and unspecified addresses — v4,
//! v6 and v4 inside v6 — are refused unless the operator allows them
//! (`--webhooks-allow-private`). Names are resolved here and the delivery
//! connects to exactly the addresses checked, so a name cannot pass the
//! check and then resolve elsewhere (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Whether an address is outside the public internet.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 to anything
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0) // v4-compatible
                || s[0] == 0x2002 // 6to4 embeds any v4 address
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240 // reserved
}

/// A webhook target, checked: the host to name in the request and the
/// addresses to connect to.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: url::Url,
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Why a URL cannot be a webhook target.
pub fn check_syntax(raw: &str) -> Result<url::Url, String> {
    if raw.len() > 2000 {
        return Err("at most 2000 characters".into());
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| "not a valid URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// or http://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    Ok(url)
}

/// Resolves the URL's host and checks every address it gives.
pub async fn resolve(url: &url::Url, allow_private: bool) -> Result<Target, String> {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        _ => {
            let lookup = tokio::net::lookup_host((host.as_str(), port));
            match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(_)) | Err(_) => return Err(format!("{host} cannot be resolved")),
            }
        }
    };
    if addrs.is_empty() {
        return Err(format!("{host} cannot be resolved"));
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
        return Err(format!(
            "{host} is a private, loopback or link-local address ({}); webhooks go to public addresses only",
            bad.ip()
        ));
    }
    Ok(Target {
        url: url.clone(),
        host,
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused_and_public_ones_allowed() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "ff02::1",
            "2002:7f00:1::",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse().expect(bad);
            assert!(is_forbidden(ip), "{bad} must be refused");
        }
        for good in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = good.parse().expect(good);
            assert!(!is_forbidden(ip), "{good} is public");
        }
    }
}
