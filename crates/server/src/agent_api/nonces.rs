//! The nonces this process has seen, kept in memory so that a replay is refused at once, before
//! the nonce's row reaches the store. Check-ins and event uploads do not wait for that row (see
//! [`super::replay_is_harmless`]); every other route still waits for it, so the store refuses a
//! replay there on any replica.
//!
//! Each nonce is kept as a 64-bit keyed hash of the agent and the nonce (the key is random per
//! process, so a sender cannot make two nonces collide) until its envelope could no longer be
//! fresh. At most [`NONCES_KEPT`] are kept; past it, expired ones are dropped, and a nonce that
//! still finds no room is not remembered here (its row in the store still catches a replay of it
//! on a route that waits for the store).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use model::ids::AgentId;

/// Nonces kept at most (about 40 MB): a steady 1,500 requests/s for the whole nonce memory.
pub const NONCES_KEPT: usize = 1_000_000;

/// What [`NonceMemory::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen by this process before; now remembered.
    New,
    /// Not seen before, but there was no room to remember it.
    NotKept,
    /// Seen before: a replay.
    Again,
}

/// Nonces seen by this process, each until it expires.
#[derive(Debug, Default)]
pub struct NonceMemory {
    hasher: RandomState,
    seen: Mutex<HashMap<u64, i64>>,
}

impl NonceMemory {
    /// Remembers `nonce` of `agent` until `expires_at` (milliseconds), at `now_ms`.
    pub fn remember(&self, agent: AgentId, nonce: &str, now_ms: i64, expires_at: i64) -> Seen {
        self.remember_within(agent, nonce, now_ms, expires_at, NONCES_KEPT)
    }

    fn remember_within(
        &self,
        agent: AgentId,
        nonce: &str,
        now_ms: i64,
        expires_at: i64,
        most: usize,
    ) -> Seen {
        let key = self.hasher.hash_one((agent, nonce));
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = seen.get(&key) {
            if *until > now_ms {
                return Seen::Again;
            }
        }
        if seen.len() >= most && !seen.contains_key(&key) {
            seen.retain(|_, until| *until > now_ms);
            if seen.len() >= most {
                return Seen::NotKept;
            }
        }
        seen.insert(key, expires_at);
        Seen::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_again_until_it_expires_and_a_full_memory_drops_expired_ones_first() {
        let memory = NonceMemory::default();
        let (a, b) = (AgentId::new(), AgentId::new());
        assert_eq!(memory.remember_within(a, "n1", 0, 100, 2), Seen::New);
        assert_eq!(memory.remember_within(a, "n1", 50, 150, 2), Seen::Again);
        // The same nonce from another agent is another message.
        assert_eq!(memory.remember_within(b, "n1", 50, 150, 2), Seen::New);
        // Full of live nonces: a new one is not kept, and so not refused later either.
        assert_eq!(memory.remember_within(a, "n2", 60, 160, 2), Seen::NotKept);
        assert_eq!(memory.remember_within(a, "n2", 61, 161, 2), Seen::NotKept);
        // Once the first has expired, it makes room.
        assert_eq!(memory.remember_within(a, "n2", 120, 220, 2), Seen::New);
        assert_eq!(memory.remember_within(a, "n2", 121, 221, 2), Seen::Again);
        assert_eq!(memory.remember_within(a, "n1", 200, 300, 2), Seen::New);
    }
}
