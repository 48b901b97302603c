//! Throttling by client address: failed sign-ins per address (so that one address cannot keep
//! guessing, nor keep every account locked), and agent registrations per address. Counted in
//! memory by each replica, in fixed windows on the app's clock; IPv6 addresses count by their /64,
//! which is what one subscriber usually holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Addresses remembered at most; past it, addresses whose window has ended are forgotten first,
/// then (under a flood of distinct addresses) all of them.
const MAX_ADDRESSES: usize = 100_000;

/// Counts events per address in fixed windows and says when an address has had too many.
#[derive(Debug)]
pub struct AddressThrottle {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (DateTime<Utc>, u32)>>,
}

/// The client address of a request, when the listener recorded it. Taken from the connection,
/// never from headers such as `X-Forwarded-For`, which the client writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The key an address counts under: itself for IPv4, its /64 for IPv6.
pub fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl AddressThrottle {
    /// At most `limit` events per address in each `window`.
    pub fn new(limit: u32, window: Duration) -> AddressThrottle {
        AddressThrottle {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `address` has used up its events for the window at `now`.
    pub fn is_blocked(&self, address: IpAddr, now: DateTime<Utc>) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&key(address)) {
            Some((start, count)) => *start + self.window > now && *count >= self.limit,
            None => false,
        }
    }

    /// How many events `address` has had in the window at `now`.
    pub fn count(&self, address: IpAddr, now: DateTime<Utc>) -> u32 {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&key(address)) {
            Some((start, count)) if *start + self.window > now => *count,
            _ => 0,
        }
    }

    /// Counts one event of `address` at `now`; false when it is over the limit (the caller then
    /// refuses it).
    pub fn hit(&self, address: IpAddr, now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_ADDRESSES {
            let window = self.window;
            seen.retain(|_, (start, _)| *start + window > now);
            if seen.len() >= MAX_ADDRESSES {
                seen.clear();
            }
        }
        let entry = seen.entry(key(address)).or_insert((now, 0));
        if entry.0 + self.window <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.limit
    }

    /// Forgets `address` (e.g. after it signed in correctly).
    pub fn clear(&self, address: IpAddr) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn counts_per_address_and_window() {
        let t0 = Utc
            .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("t0");
        let throttle = AddressThrottle::new(3, Duration::minutes(15));
        let a: IpAddr = "192.0.2.7".parse().expect("ip");
        let b: IpAddr = "192.0.2.8".parse().expect("ip");
        for _ in 0..3 {
            assert!(throttle.hit(a, t0));
        }
        assert!(throttle.is_blocked(a, t0));
        assert!(!throttle.hit(a, t0));
        assert!(!throttle.is_blocked(b, t0));
        assert!(!throttle.is_blocked(a, t0 + Duration::minutes(15)));
        assert!(throttle.hit(a, t0 + Duration::minutes(16)));
        throttle.clear(a);
        assert_eq!(throttle.count(a, t0 + Duration::minutes(16)), 0);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let t0 = Utc
            .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("t0");
        let throttle = AddressThrottle::new(1, Duration::minutes(15));
        assert!(throttle.hit("2001:db8:1:2::1".parse().expect("ip"), t0));
        assert!(!throttle.hit("2001:db8:1:2:ffff::9".parse().expect("ip"), t0));
        assert!(throttle.hit("2001:db8:1:3::1".parse().expect("ip"), t0));
        assert!(throttle.hit("192.0.2.1".parse().expect("ip"), t0));
        assert!(!throttle.hit("::ffff:192.0.2.1".parse().expect("ip"), t0));
    }
}
