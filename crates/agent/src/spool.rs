//! The event spool: every event is appended to disk and fsynced before anything tries to upload
//! it, uploaded in batches, and dropped only once the server has acknowledged it
//! ([`EventsAck::through`](model::protocol::EventsAck)). Sequence numbers keep increasing across
//! restarts, so an upload retried after a failure is stored once: the server dedupes by `seq`.
//!
//! When the disk refuses an event (it is full, or the spool's byte budget is spent), the event is
//! not dropped: it is numbered and kept in memory, where uploads find it as they find the others,
//! and a warning saying so goes first, so the server learns of the condition. Events held that
//! way are written out, in order, as soon as the disk takes them again (an acknowledgement that
//! compacts the log makes room). Memory holds [`SpoolLimits::held`] events at most: beyond that
//! [`Spool::append`] fails with [`Error::SpoolFull`] and the run stops rather than carrying on
//! without a record. Held events live only as long as the process.
//!
//! Their numbers must not be handed out again by the next process, since an upload may have
//! brought them to the server already, which would then take new events with those numbers for
//! copies and drop them. So numbers are reserved on disk ahead of use (`spool.reserved`, at least
//! [`SpoolLimits::held`] past the last number written), memory never numbers an event beyond the
//! reservation, and a marker (`spool.written`: every number handed out is in the log or
//! acknowledged) is removed before memory numbers its first event (removing a file needs no room
//! on the disk). A spool opened without the marker goes on past the reservation.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use model::protocol::AgentEvent;
use model::status::EventLevel;
use serde::{Deserialize, Serialize};

use crate::{fsutil, Error, Result};

const LOG: &str = "spool.log";
const ACK: &str = "spool.ack";
const RESERVED: &str = "spool.reserved";
const WRITTEN: &str = "spool.written";

/// Numbers reserved past the last number written plus [`SpoolLimits::held`], so that the
/// reservation is written again only every half of this many events.
const RESERVE_AHEAD: u64 = 1024;

/// Events per upload.
pub const BATCH: usize = 500;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Acked {
    through: u64,
}

/// How much the spool may use of the disk and, when the disk refuses, of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Bytes the log may take on disk at most; `None`: whatever the disk allows.
    pub bytes: Option<u64>,
    /// Events kept in memory at most while the disk refuses them.
    pub held: usize,
}

impl Default for SpoolLimits {
    fn default() -> SpoolLimits {
        SpoolLimits {
            bytes: None,
            held: 1000,
        }
    }
}

/// The spool in the agent's state directory.
#[derive(Debug)]
pub struct Spool {
    log: PathBuf,
    ack: PathBuf,
    pending: Vec<AgentEvent>,
    acked: u64,
    next_seq: u64,
    limits: SpoolLimits,
    /// The log's length on disk as last written.
    log_len: u64,
    /// How many of the newest pending events are in memory only (always a suffix of `pending`).
    held: usize,
    /// Why the disk refused the last write, while events are held.
    trouble: Option<String>,
    /// The highest number reserved on disk: memory numbers no event past it.
    reserved: u64,
    /// Whether the marker says every number handed out is on disk.
    marked: bool,
}

impl Spool {
    /// Opens (or starts) the spool in `dir`, with no limit but the disk's.
    pub fn open(dir: &Path) -> Result<Spool> {
        Spool::open_with(dir, SpoolLimits::default())
    }

    /// Opens (or starts) the spool in `dir` within `limits`.
    pub fn open_with(dir: &Path, mut limits: SpoolLimits) -> Result<Spool> {
        // Room for the event the disk refused first and the warning ahead of it.
        limits.held = limits.held.max(2);
        let log = dir.join(LOG);
        let ack = dir.join(ACK);
        let acked = match fsutil::read_optional(&ack)? {
            Some(bytes) => {
                serde_json::from_slice::<Acked>(&bytes)
                    .map_err(|e| Error::Corrupt {
                        path: ack.clone(),
                        reason: e.to_string(),
                    })?
                    .through
            }
            None => 0,
        };
        let mut pending = Vec::new();
        let mut highest = acked;
        let mut log_len = 0;
        for (i, line) in fsutil::read_lines(&log)?.iter().enumerate() {
            log_len += line.len() as u64 + 1;
            let event: AgentEvent = serde_json::from_str(line).map_err(|e| Error::Corrupt {
                path: log.clone(),
                reason: format!("line {}: {}", i + 1, e),
            })?;
            highest = highest.max(event.seq);
            // Acknowledged but not yet compacted away when the agent stopped.
            if event.seq > acked {
                pending.push(event);
            }
        }
        let reserved_path = dir.join(RESERVED);
        let reserved = match fsutil::read_optional(&reserved_path)? {
            Some(bytes) => {
                serde_json::from_slice::<Acked>(&bytes)
                    .map_err(|e| Error::Corrupt {
                        path: reserved_path.clone(),
                        reason: e.to_string(),
                    })?
                    .through
            }
            None => 0,
        };
        let written = dir.join(WRITTEN);
        let mut next_seq = highest + 1;
        // The last process may have numbered events in memory up to its reservation, and
        // uploaded them: those numbers are not free.
        if !written.exists() && reserved >= next_seq {
            next_seq = reserved + 1;
        }
        let mut spool = Spool {
            log,
            ack,
            pending,
            acked,
            next_seq,
            limits,
            log_len,
            held: 0,
            trouble: None,
            reserved,
            marked: false,
        };
        spool.reserve();
        spool.mark_written();
        Ok(spool)
    }

    fn reserved_path(&self) -> PathBuf {
        self.log.with_file_name(RESERVED)
    }

    fn written_path(&self) -> PathBuf {
        self.log.with_file_name(WRITTEN)
    }

    /// Reserves numbers ahead when fewer than half of [`RESERVE_AHEAD`] are left past what memory
    /// may need. A failed write leaves the old reservation, which still bounds memory.
    fn reserve(&mut self) {
        let needed = self.next_seq - 1 + self.limits.held as u64;
        if self.reserved >= needed + RESERVE_AHEAD / 2 {
            return;
        }
        let through = needed + RESERVE_AHEAD;
        let written = serde_json::to_vec(&Acked { through })
            .ok()
            .map(|bytes| fsutil::write_atomic(&self.reserved_path(), &bytes, false));
        if let Some(Ok(())) = written {
            self.reserved = through;
        }
    }

    /// Marks that every number handed out is on disk (a failed write leaves it unmarked, which
    /// only makes the next process skip the reserved numbers).
    fn mark_written(&mut self) {
        if !self.marked && fsutil::write_atomic(&self.written_path(), b"", false).is_ok() {
            self.marked = true;
        }
    }

    /// Before memory numbers `count` more events: they must fit the reservation, and the marker
    /// must be gone. [`Error::SpoolFull`] otherwise, with nothing numbered.
    fn make_room_to_hold(&mut self, count: u64, reason: &str) -> Result<()> {
        let full = |held: usize, why: String| Error::SpoolFull { held, reason: why };
        if self.next_seq + count - 1 > self.reserved {
            return Err(full(
                self.held,
                format!("{}; no more numbers are reserved on disk", reason),
            ));
        }
        if self.marked {
            fsutil::remove_optional(&self.written_path())
                .map_err(|e| full(self.held, format!("{}; {}", reason, e)))?;
            self.marked = false;
        }
        Ok(())
    }

    /// Gives `event` the next sequence number and stores it durably, or in memory while the disk
    /// refuses it; returns the number. [`Error::SpoolFull`] when the disk refuses and memory
    /// already holds as many events as the limits allow: the event is not numbered.
    pub fn append(&mut self, mut event: AgentEvent) -> Result<u64> {
        self.write_held();
        if self.held > 0 {
            let reason = self.trouble.clone().unwrap_or_default();
            if self.held + 1 > self.limits.held {
                return Err(Error::SpoolFull {
                    held: self.held,
                    reason,
                });
            }
            self.make_room_to_hold(1, &reason)?;
        }
        event.seq = self.next_seq;
        if self.held == 0 {
            match self.write(std::slice::from_ref(&event)) {
                Ok(()) => {
                    self.next_seq += 1;
                    self.pending.push(event);
                    self.reserve();
                    return Ok(self.next_seq - 1);
                }
                Err(e) => {
                    let reason = e.to_string();
                    // The warning and the event.
                    self.make_room_to_hold(2, &reason)?;
                    // The condition reaches the server ahead of the events it concerns.
                    self.hold(AgentEvent {
                        seq: self.next_seq,
                        at: event.at,
                        level: EventLevel::Warning,
                        runbook: event.runbook,
                        phase: event.phase,
                        step: None,
                        status: None,
                        message: format!(
                            "the agent cannot write its event spool ({}); events are kept in memory, {} at most, until the disk has room",
                            reason, self.limits.held
                        ),
                    });
                    self.trouble = Some(reason);
                    event.seq = self.next_seq;
                }
            }
        }
        self.hold(event);
        Ok(self.next_seq - 1)
    }

    /// Events not yet acknowledged, oldest first.
    pub fn pending(&self) -> &[AgentEvent] {
        &self.pending
    }

    /// The next batch to upload.
    pub fn batch(&self) -> &[AgentEvent] {
        &self.pending[..self.pending.len().min(BATCH)]
    }

    /// Whether every event has been acknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The highest sequence number the server acknowledged.
    pub fn acked_through(&self) -> u64 {
        self.acked
    }

    /// How many unacknowledged events are in memory only, because the disk refused them.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Why the disk refused the spool, while it holds events in memory.
    pub fn trouble(&self) -> Option<&str> {
        self.trouble.as_deref()
    }

    /// The server has every event up to `through`: forget them.
    pub fn acknowledge(&mut self, through: u64) -> Result<()> {
        if through <= self.acked {
            return Ok(());
        }
        // The server cannot have stored what was never sent; a higher number is its mistake and
        // must not make the agent drop events or reuse numbers.
        let through = through.min(self.next_seq - 1);
        // The acknowledgement is saved first: if the agent stops before the log is compacted, the
        // acknowledged events are skipped when it is read again.
        let ack = serde_json::to_vec(&Acked { through }).map_err(|e| Error::Corrupt {
            path: self.ack.clone(),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(&self.ack, &ack, false)?;
        self.acked = through;
        self.pending.retain(|e| e.seq > through);
        self.held = self.held.min(self.pending.len());
        let on_disk = &self.pending[..self.pending.len() - self.held];
        let rest = lines(on_disk, &self.log)?;
        fsutil::write_atomic(&self.log, &rest, false)?;
        self.log_len = rest.len() as u64;
        if self.held == 0 {
            self.trouble = None;
            self.mark_written();
        }
        // Compacting made room: what memory holds goes to disk now if it fits.
        self.write_held();
        Ok(())
    }

    /// Numbers `event` as it is and keeps it in memory only.
    fn hold(&mut self, event: AgentEvent) {
        self.next_seq += 1;
        self.pending.push(event);
        self.held += 1;
    }

    /// Writes the events held in memory to disk, oldest first, if the disk takes them now.
    fn write_held(&mut self) {
        if self.held == 0 {
            return;
        }
        let held = self.pending[self.pending.len() - self.held..].to_vec();
        match self.write(&held) {
            Ok(()) => {
                self.held = 0;
                self.trouble = None;
                self.reserve();
                self.mark_written();
            }
            Err(e) => self.trouble = Some(e.to_string()),
        }
    }

    /// Appends `events` to the log in one write within the byte budget; a write the disk cut
    /// short is cut off the log again, so no torn record sits before the next one.
    fn write(&mut self, events: &[AgentEvent]) -> Result<()> {
        let mut record = lines(events, &self.log)?;
        let len = record.len() as u64;
        if let Some(budget) = self.limits.bytes {
            if self.log_len + len > budget {
                return Err(Error::Io {
                    what: "appending to",
                    path: self.log.clone(),
                    source: io::Error::new(
                        io::ErrorKind::Other,
                        format!("no room: the spool may use {} bytes", budget),
                    ),
                });
            }
        }
        // `append_line` adds the last newline itself.
        record.pop();
        match fsutil::append_line(&self.log, &record) {
            Ok(()) => {
                self.log_len += len;
                Ok(())
            }
            Err(e) => {
                let _ = OpenOptions::new()
                    .write(true)
                    .open(&self.log)
                    .and_then(|file| file.set_len(self.log_len));
                Err(e)
            }
        }
    }
}

/// `events` as log lines, each ending in a newline.
fn lines(events: &[AgentEvent], log: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for event in events {
        let line = serde_json::to_vec(event).map_err(|e| Error::Corrupt {
            path: log.to_path_buf(),
            reason: e.to_string(),
        })?;
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::Scratch;
    use chrono::{DateTime, Utc};
    use model::status::EventLevel;

    /// A fixed instant: the spool keeps what it is given.
    fn instant() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    /// A directory of its own, removed when the test ends.
    fn scratch() -> Scratch {
        Scratch::new("spool")
    }

    fn event(message: &str) -> AgentEvent {
        AgentEvent {
            seq: 0,
            at: instant(),
            level: EventLevel::Info,
            runbook: None,
            phase: None,
            step: None,
            status: None,
            message: message.to_string(),
        }
    }

    #[test]
    fn events_survive_a_restart_until_acknowledged() {
        let dir = scratch();
        {
            let mut spool = Spool::open(&dir).expect("open");
            assert_eq!(spool.append(event("one")).expect("append"), 1);
            assert_eq!(spool.append(event("two")).expect("append"), 2);
            assert_eq!(spool.append(event("three")).expect("append"), 3);
            spool.acknowledge(1).expect("ack");
        }
        let mut spool = Spool::open(&dir).expect("reopen");
        let seqs: Vec<u64> = spool.pending().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(spool.append(event("four")).expect("append"), 4);
        spool.acknowledge(4).expect("ack");
        assert!(spool.is_empty());
        // Numbers keep increasing after everything was acknowledged and compacted away.
        let mut spool = Spool::open(&dir).expect("reopen");
        assert_eq!(spool.append(event("five")).expect("append"), 5);
    }

    #[test]
    fn an_acknowledgement_beyond_what_was_sent_drops_nothing_unsent() {
        let dir = scratch();
        let mut spool = Spool::open(&dir).expect("open");
        spool.append(event("one")).expect("append");
        spool.acknowledge(99).expect("ack");
        assert_eq!(spool.append(event("two")).expect("append"), 2);
        assert_eq!(spool.pending().len(), 1);
    }

    fn seqs(events: &[AgentEvent]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn events_the_disk_refuses_are_held_in_memory_behind_a_warning_and_written_once_there_is_room()
    {
        let dir = scratch();
        let big = event(&"x".repeat(800));
        let big_line = serde_json::to_vec(&big).expect("json").len() as u64 + 1;
        // Room for the big event and a little more, not for a second event.
        let limits = SpoolLimits {
            bytes: Some(big_line + 50),
            held: 10,
        };
        let mut spool = Spool::open_with(&dir, limits).expect("open");
        assert_eq!(spool.append(big).expect("append"), 1);
        // The next does not fit: a warning goes first, then the event, both in memory.
        assert_eq!(spool.append(event("small")).expect("append"), 3);
        assert_eq!(spool.held(), 2);
        assert!(spool.trouble().map_or(false, |t| t.contains("no room")));
        assert_eq!(seqs(spool.pending()), vec![1, 2, 3]);
        let warning = &spool.pending()[1];
        assert_eq!(warning.level, EventLevel::Warning);
        assert!(
            warning.message.contains("kept in memory"),
            "{}",
            warning.message
        );
        // Only what the disk took is on disk.
        assert_eq!(seqs(Spool::open(&dir).expect("reopen").pending()), vec![1]);
        // The server takes the first: the log shrinks and the held events go to disk.
        spool.acknowledge(1).expect("ack");
        assert_eq!((spool.held(), spool.trouble()), (0, None));
        assert_eq!(
            seqs(Spool::open(&dir).expect("reopen").pending()),
            vec![2, 3]
        );
        spool.acknowledge(3).expect("ack");
        assert!(spool.is_empty());
        assert_eq!(spool.append(event("x")).expect("append"), 4);
    }

    #[test]
    fn a_full_disk_with_memory_at_its_bound_stops_the_writer_without_numbering_or_dropping() {
        let dir = scratch();
        let limits = SpoolLimits {
            bytes: Some(0),
            held: 3,
        };
        let mut spool = Spool::open_with(&dir, limits).expect("open");
        assert_eq!(spool.append(event("one")).expect("held"), 2);
        assert_eq!(spool.append(event("two")).expect("held"), 3);
        match spool.append(event("three")) {
            Err(Error::SpoolFull { held, reason }) => {
                assert_eq!(held, 3);
                assert!(reason.contains("no room"), "{}", reason);
            }
            other => panic!("expected SpoolFull, got {:?}", other),
        }
        // Nothing dropped, no number used by the refused event.
        assert_eq!(seqs(spool.pending()), vec![1, 2, 3]);
        // Uploaded from memory and acknowledged: memory is free again, numbers go on.
        spool.acknowledge(3).expect("ack");
        assert_eq!((spool.held(), spool.pending().len()), (0, 0));
        assert_eq!(spool.append(event("three")).expect("held"), 5);
        assert_eq!(spool.held(), 2);
    }

    #[test]
    fn acknowledging_events_held_in_memory_keeps_the_rest_held() {
        let dir = scratch();
        let limits = SpoolLimits {
            bytes: Some(0),
            held: 10,
        };
        let mut spool = Spool::open_with(&dir, limits).expect("open");
        for _ in 0..4 {
            spool.append(event("x")).expect("held");
        }
        spool.acknowledge(2).expect("ack");
        assert_eq!(seqs(spool.pending()), vec![3, 4, 5]);
        assert_eq!(spool.held(), 3);
        assert!(spool.trouble().is_some());
    }

    #[test]
    fn numbers_held_in_memory_are_not_handed_out_again_after_the_agent_dies() {
        let dir = scratch();
        let line = lines(&[event("first")], Path::new("x"))
            .expect("line")
            .len() as u64;
        let mut spool = Spool::open_with(
            &dir,
            SpoolLimits {
                bytes: Some(line),
                held: 10,
            },
        )
        .expect("open");
        spool.append(event("first")).expect("on disk");
        spool.append(event("second")).expect("held");
        spool.append(event("third")).expect("held");
        assert_eq!(spool.held(), 3, "a warning and two events");
        // An upload takes every pending event to the server, and then the process dies.
        let uploaded = seqs(spool.pending());
        drop(spool);
        let mut spool = Spool::open(&dir).expect("open again");
        let next = spool.append(event("after the restart")).expect("append");
        assert!(
            uploaded.iter().all(|seq| *seq < next),
            "{} reuses a number of {:?}",
            next,
            uploaded
        );
    }

    #[test]
    fn a_spool_whose_events_all_reached_the_disk_goes_on_without_a_gap() {
        let dir = scratch();
        let mut spool = Spool::open(&dir).expect("open");
        for message in ["a", "b", "c"] {
            spool.append(event(message)).expect("append");
        }
        drop(spool);
        let mut spool = Spool::open(&dir).expect("open again");
        assert_eq!(spool.append(event("d")).expect("append"), 4);
        drop(spool);
        // Events held and then written out once there was room leave no gap either.
        let line = lines(&[event("e")], Path::new("x")).expect("line").len() as u64;
        let mut spool = Spool::open_with(
            &dir,
            SpoolLimits {
                bytes: Some(4 * line),
                held: 10,
            },
        )
        .expect("open");
        spool.append(event("e")).expect("held");
        assert!(spool.held() > 0);
        spool.acknowledge(4).expect("ack");
        assert_eq!(spool.held(), 0, "written once the log was compacted");
        drop(spool);
        let mut spool = Spool::open(&dir).expect("open again");
        let last = seqs(spool.pending()).into_iter().max().expect("pending");
        assert_eq!(spool.append(event("f")).expect("append"), last + 1);
    }
}
