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
    /// `address` now; Err carries the seconds to wait. An allowed attempt is
    /// counted as a failure at once, under the same lock, so a burst of
    /// parallel guesses cannot all pass the check before any is counted;
    /// `succeeded` takes it back when the password was right.
    pub fn begin(&self, account: &str, address: IpAddr, known_device: bool) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        Self::check(&map, account, address, known_device, now)?;
        Self::count(&mut map, account, address, now);
        Ok(())
    }

    fn check(
        map: &HashMap<Key, Window>,
        account: &str,
        address: IpAddr,
        known_device: bool,
        now: Instant,
    ) -> Result<(), u64> {
        if let Some(w) = Self::failures(map, &Key::Address(address), now)
            && w.failures >= MAX_FAILURES_PER_ADDRESS
        {
            return Err(secs_until(w.start + WINDOW, now));
        }
        if let Some(w) =
            Self::failures(map, &Key::AccountAddress(account.to_string(), address), now)
            && w.failures >= FREE_FAILURES_PER_ACCOUNT_ADDRESS
        {
            let exp = (w.failures - FREE_FAILURES_PER_ACCOUNT_ADDRESS).min(20);
            let wait = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
            let until = w.last_failure + wait;
            if until > now {
                return Err(secs_until(until, now));
            }
        }
        if !known_device
            && let Some(w) = Self::failures(map, &Key::Account(account.to_string()), now)
            && w.failures >= ACCOUNT_UNDER_ATTACK
        {
            return Err(secs_until(w.start + WINDOW, now));
        }
        Ok(())
    }

    fn count(map: &mut HashMap<Key, Window>, account: &str, address: IpAddr, now: Instant) {
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

    /// A correct password: the attempt was no failure, and that address's
    /// count for the account starts over.
    pub fn succeeded(&self, account: &str, address: IpAddr) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::AccountAddress(account.to_string(), address));
        for key in [Key::Address(address), Key::Account(account.to_string())] {
            if let Some(w) = map.get_mut(&key) {
                w.failures = w.failures.saturating_sub(1);
            }
        }
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
            assert!(t.begin("a@x.io", ip(1), false).is_ok());
        }
        assert!(t.begin("a@x.io", ip(1), false).is_err());
        assert!(t.begin("a@x.io", ip(2), false).is_ok());
        assert!(t.begin("b@x.io", ip(1), false).is_ok());
    }

    #[test]
    fn a_distributed_attack_only_lets_known_devices_in() {
        let t = Throttle::default();
        for i in 0..ACCOUNT_UNDER_ATTACK {
            assert!(t.begin("a@x.io", ip((i % 100) as u8 + 10), false).is_ok());
        }
        assert!(t.begin("a@x.io", ip(3), false).is_err());
        assert!(t.begin("a@x.io", ip(3), true).is_ok());
    }

    #[test]
    fn one_address_spraying_many_accounts_is_blocked() {
        let t = Throttle::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            assert!(t.begin(&format!("u{i}@x.io"), ip(1), false).is_ok());
        }
        let wait = t.begin("new@x.io", ip(1), false).expect_err("blocked");
        assert!(wait > 0 && wait <= WINDOW.as_secs());
    }

    #[test]
    fn a_right_password_takes_its_attempt_back() {
        let t = Throttle::default();
        for _ in 0..20 {
            assert!(t.begin("a@x.io", ip(1), false).is_ok());
            t.succeeded("a@x.io", ip(1));
        }
        assert!(t.begin("a@x.io", ip(1), false).is_ok());
    }
}
