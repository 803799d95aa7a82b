//! Login throttling (OWASP ASVS 5.0 V6.3.1), designed so that an attacker's
//! failures cannot lock the real user out:
//!
//! * per account *and* source address: after 5 failures in 15 minutes, each
//!   further attempt from that address waits 1 s, 2 s, 4 s … (at most 15 min).
//!   Failures from other addresses never delay the real user's address.
//! * per source address: 30 failures in 15 minutes, whatever the accounts,
//!   block that address until the window ends (stops one host spraying).
//! * per account, all addresses together: past 100 failures in 15 minutes the
//!   account is under a distributed attack; then only browsers that signed in
//!   to it before (a device cookie) may keep trying, so the owner still gets in.
//!
//! Unknown emails are throttled exactly like known ones. Counters live in
//! memory; a restart forgets them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const FREE_FAILURES_PER_ACCOUNT_ADDRESS: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 30;
pub const ACCOUNT_UNDER_ATTACK: u32 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    AccountAddress(String, IpAddr),
    Account(String),
}

struct Window {
    start: Instant,
    last_failure: Instant,
    failures: u32,
}

#[derive(Default)]
pub struct Throttle {
    windows: Mutex<HashMap<Key, Window>>,
}

impl Throttle {
    fn failures<'a>(map: &'a HashMap<Key, Window>, key: &Key, now: Instant) -> Option<&'a Window> {
        map.get(key)
            .filter(|w| now.duration_since(w.start) < WINDOW)
    }

    /// Whether `account` (the normalized email) may try a password from
    /// `address` now; Err carries the seconds to wait.
    pub fn check(&self, account: &str, address: IpAddr, known_device: bool) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = Self::failures(&map, &Key::Address(address), now)
            && w.failures >= MAX_FAILURES_PER_ADDRESS
        {
            return Err(secs_until(w.start + WINDOW, now));
        }
        if let Some(w) = Self::failures(
            &map,
            &Key::AccountAddress(account.to_string(), address),
            now,
        ) && w.failures >= FREE_FAILURES_PER_ACCOUNT_ADDRESS
        {
            let exp = (w.failures - FREE_FAILURES_PER_ACCOUNT_ADDRESS).min(20);
            let wait = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
            let until = w.last_failure + wait;
            if until > now {
                return Err(secs_until(until, now));
            }
        }
        if !known_device
            && let Some(w) = Self::failures(&map, &Key::Account(account.to_string()), now)
            && w.failures >= ACCOUNT_UNDER_ATTACK
        {
            return Err(secs_until(w.start + WINDOW, now));
        }
        Ok(())
    }

    pub fn record_failure(&self, account: &str, address: IpAddr) {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for key in [
            Key::Address(address),
            Key::AccountAddress(account.to_string(), address),
            Key::Account(account.to_string()),
        ] {
            let w = map.entry(key).or_insert(Window {
                start: now,
                last_failure: now,
                failures: 0,
            });
            if now.duration_since(w.start) >= WINDOW {
                w.start = now;
                w.failures = 0;
            }
            w.failures += 1;
            w.last_failure = now;
        }
    }

    /// A correct password clears that address's count for the account.
    pub fn record_success(&self, account: &str, address: IpAddr) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::AccountAddress(account.to_string(), address));
    }

    /// Drops windows that have ended, so memory stays bounded.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, w| now.duration_since(w.start) < WINDOW);
    }
}

fn secs_until(t: Instant, now: Instant) -> u64 {
    t.saturating_duration_since(now)
        .as_secs_f64()
        .ceil()
        .max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn an_attackers_failures_do_not_block_other_addresses() {
        let t = Throttle::default();
        for _ in 0..FREE_FAILURES_PER_ACCOUNT_ADDRESS {
            assert!(t.check("a@x.io", ip(1), false).is_ok());
            t.record_failure("a@x.io", ip(1));
        }
        assert!(t.check("a@x.io", ip(1), false).is_err());
        assert!(t.check("a@x.io", ip(2), false).is_ok());
        assert!(t.check("b@x.io", ip(1), false).is_ok());
    }

    #[test]
    fn a_distributed_attack_only_lets_known_devices_in() {
        let t = Throttle::default();
        for i in 0..ACCOUNT_UNDER_ATTACK {
            t.record_failure("a@x.io", ip((i % 200) as u8 + 10));
        }
        assert!(t.check("a@x.io", ip(3), false).is_err());
        assert!(t.check("a@x.io", ip(3), true).is_ok());
    }

    #[test]
    fn one_address_spraying_many_accounts_is_blocked() {
        let t = Throttle::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            t.record_failure(&format!("u{i}@x.io"), ip(1));
        }
        let wait = t.check("new@x.io", ip(1), false).expect_err("blocked");
        assert!(wait > 0 && wait <= WINDOW.as_secs());
    }
}
