//! API rate limits: a token bucket per API key and per session, and one per
//! source address for requests that carry no credentials (sign-in, setup,
//! invites, password resets, inbound hooks). A bucket holds up to `burst`
//! requests and refills at `per_minute / 60` a second.
//!
//! Buckets are keyed by a keyed hash of the credential as presented (no
//! database lookup before the limit applies, and no secret kept in memory).
//! So that made-up credentials cannot each get a fresh bucket, a request
//! answered 401 is also charged to its address, and a credential never seen
//! before is refused while its address has nothing left.
//!
//! In memory: a restart refills every bucket. `prune` forgets full ones.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::config::{Limits, Rate};

fn off(r: &Rate) -> bool {
    r.per_minute == 0 || r.burst == 0
}

fn per_sec(r: &Rate) -> f64 {
    f64::from(r.per_minute) / 60.0
}

fn capacity(r: &Rate) -> f64 {
    f64::from(r.burst)
}

/// Whose bucket a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// An API key or a session (a keyed hash of what was presented).
    Credential(u64),
    Address(IpAddr),
}

/// The answer for one request: whether it may go on, and what the
/// `RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The bucket's size.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// When refused: seconds until one request is allowed.
    pub retry_after_secs: u64,
}

struct State {
    tokens: f64,
    at: Instant,
    /// A credential that was accepted once (a 401 never came back for it).
    proven: bool,
}

pub struct RateLimiter {
    limits: Limits,
    hasher: RandomState,
    buckets: Mutex<HashMap<Bucket, State>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter {
            limits,
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The bucket of a credential (an API key secret or a session token).
    pub fn credential(&self, secret: &str) -> Bucket {
        Bucket::Credential(self.hasher.hash_one(secret))
    }

    fn rate(&self, b: &Bucket) -> Rate {
        match b {
            Bucket::Credential(_) => self.limits.caller,
            Bucket::Address(_) => self.limits.address,
        }
    }

    /// Takes one request from `bucket` at `now`. A credential's first
    /// request also needs its address (`from`) not to be exhausted.
    pub fn take(&self, bucket: Bucket, from: IpAddr, now: Instant) -> Option<Decision> {
        let rate = self.rate(&bucket);
        if off(&rate) {
            return None;
        }
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Bucket::Credential(_) = bucket
            && !map.get(&bucket).is_some_and(|s| s.proven)
        {
            let addr = Bucket::Address(from);
            let arate = self.limits.address;
            if !off(&arate)
                && let Some(s) = map.get_mut(&addr)
            {
                refill(s, arate, now);
                if s.tokens < 1.0 {
                    return Some(decision(s, rate, false, arate));
                }
            }
        }
        let s = map.entry(bucket).or_insert(State {
            tokens: capacity(&rate),
            at: now,
            proven: false,
        });
        refill(s, rate, now);
        let allowed = s.tokens >= 1.0;
        if allowed {
            s.tokens -= 1.0;
        }
        Some(decision(s, rate, allowed, rate))
    }

    /// After the answer: a credential answered 401 costs its address one
    /// request too; one answered otherwise is proven (its first requests no
    /// longer depend on the address).
    pub fn settle(&self, bucket: Bucket, from: IpAddr, unauthenticated: bool, now: Instant) {
        if !matches!(bucket, Bucket::Credential(_)) {
            return;
        }
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !unauthenticated {
            if let Some(s) = map.get_mut(&bucket) {
                s.proven = true;
            }
            return;
        }
        // Unknown credential: it gets no bucket of its own to hide in.
        map.remove(&bucket);
        let arate = self.limits.address;
        if off(&arate) {
            return;
        }
        let s = map.entry(Bucket::Address(from)).or_insert(State {
            tokens: capacity(&arate),
            at: now,
            proven: false,
        });
        refill(s, arate, now);
        s.tokens = (s.tokens - 1.0).max(0.0);
    }

    /// Forgets buckets that are full again (they would start full anyway).
    pub fn prune(&self, now: Instant) {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.limits;
        map.retain(|b, s| {
            let rate = match b {
                Bucket::Credential(_) => limits.caller,
                Bucket::Address(_) => limits.address,
            };
            refill(s, rate, now);
            s.tokens < capacity(&rate)
        });
    }

    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn refill(s: &mut State, rate: Rate, now: Instant) {
    let elapsed = now.saturating_duration_since(s.at).as_secs_f64();
    s.tokens = (s.tokens + elapsed * per_sec(&rate)).min(capacity(&rate));
    s.at = now;
}

/// `waited_on` is the rate whose bucket refused (the address's, for a new
/// credential from an exhausted address).
fn decision(s: &State, rate: Rate, allowed: bool, waited_on: Rate) -> Decision {
    let secs = |missing: f64, r: Rate| -> u64 {
        if missing <= 0.0 {
            0
        } else {
            Duration::from_secs_f64(missing / per_sec(&r))
                .as_secs_f64()
                .ceil() as u64
        }
    };
    let remaining = if allowed { s.tokens.floor() as u32 } else { 0 };
    Decision {
        allowed,
        limit: rate.burst,
        remaining: remaining.min(rate.burst),
        reset_secs: secs(capacity(&rate) - s.tokens, rate),
        retry_after_secs: if allowed {
            0
        } else {
            secs(1.0 - s.tokens, waited_on).max(1)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(Limits {
            caller: Rate::new(per_minute, burst),
            address: Rate::new(60, 3),
        })
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_burst_then_the_refill_rate() {
        let l = limiter(600, 100);
        let k = l.credential("hmn_a");
        let t0 = Instant::now();
        for i in 0..100 {
            let d = l.take(k, IP, t0).expect("on");
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        let d = l.take(k, IP, t0).expect("on");
        assert!(!d.allowed);
        assert_eq!((d.remaining, d.limit, d.retry_after_secs), (0, 100, 1));
        assert_eq!(d.reset_secs, 10);
        // 600 a minute: 10 a second come back.
        let t1 = t0 + Duration::from_millis(1000);
        for _ in 0..10 {
            assert!(l.take(k, IP, t1).expect("on").allowed);
        }
        assert!(!l.take(k, IP, t1).expect("on").allowed);
        // Another key is unaffected.
        assert!(l.take(l.credential("hmn_b"), IP, t1).expect("on").allowed);
    }

    #[test]
    fn made_up_credentials_are_charged_to_their_address() {
        let l = limiter(600, 100);
        let t = Instant::now();
        for i in 0..3 {
            let k = l.credential(&format!("hmn_guess{i}"));
            assert!(l.take(k, IP, t).expect("on").allowed);
            l.settle(k, IP, true, t);
        }
        // A fourth new credential from the same address waits.
        let k = l.credential("hmn_guess9");
        let d = l.take(k, IP, t).expect("on");
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 1);
        // A proven key from the same address goes on.
        let good = l.credential("hmn_good");
        let other = IpAddr::from([10, 0, 0, 1]);
        assert!(l.take(good, other, t).expect("on").allowed);
        l.settle(good, other, false, t);
        assert!(l.take(good, IP, t).expect("on").allowed);
    }

    #[test]
    fn zero_turns_it_off_and_prune_forgets_full_buckets() {
        let l = limiter(0, 100);
        assert!(l.take(l.credential("x"), IP, Instant::now()).is_none());
        let l = limiter(600, 100);
        let t = Instant::now();
        l.take(l.credential("x"), IP, t);
        l.prune(t);
        assert_eq!(l.len(), 1);
        l.prune(t + Duration::from_secs(1));
        assert!(l.is_empty());
    }
}
