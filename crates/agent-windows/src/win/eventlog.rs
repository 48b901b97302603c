//! The agent's Event Log source, `rehome` in the Application log: registered at install
//! (`HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\rehome`), written with
//! `ReportEventW`.

use agent::{RegValue, Result};
use model::status::EventLevel;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::EventLog::{
    DeregisterEventSource, RegisterEventSourceW, ReportEventW, EVENTLOG_ERROR_TYPE,
    EVENTLOG_INFORMATION_TYPE, EVENTLOG_WARNING_TYPE,
};

use super::{last_error, registry, wide};
use crate::keys::KeyName;

/// The source name.
pub const SOURCE: &str = "rehome";
/// Event ids: 1 information, 2 warning, 3 error.
fn event_id(level: EventLevel) -> u32 {
    match level {
        EventLevel::Info => 1,
        EventLevel::Warning => 2,
        EventLevel::Error => 3,
    }
}

fn source_key() -> KeyName {
    KeyName::parse(&format!(
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\{}",
        SOURCE
    ))
    .expect("a fixed key name")
}

/// Registers the source, its messages in `message_file` (the agent's exe).
pub fn register_source(message_file: &str) -> Result<()> {
    let key = registry::create(&source_key(), registry::WRITE)?;
    key.set_value(
        "EventMessageFile",
        &RegValue::ExpandSz(message_file.to_string()),
    )?;
    // Error, warning and information.
    key.set_value("TypesSupported", &RegValue::Dword(7))
}

/// Removes the source's registration.
pub fn unregister_source() -> Result<bool> {
    registry::delete_tree(&source_key())
}

/// An open handle to the source.
pub struct EventLog {
    handle: HANDLE,
}

// SAFETY: an event source handle may be used from any thread.
unsafe impl Send for EventLog {}

impl EventLog {
    /// Opens the source (`RegisterEventSourceW`).
    pub fn open() -> Result<EventLog> {
        let name = wide(SOURCE);
        let handle = unsafe { RegisterEventSourceW(std::ptr::null(), name.as_ptr()) };
        if handle.is_null() {
            return Err(last_error("RegisterEventSourceW", SOURCE));
        }
        Ok(EventLog { handle })
    }

    /// Writes `message` at `level` (`ReportEventW`).
    pub fn write(&self, level: EventLevel, message: &str) -> Result<()> {
        let kind = match level {
            EventLevel::Info => EVENTLOG_INFORMATION_TYPE,
            EventLevel::Warning => EVENTLOG_WARNING_TYPE,
            EventLevel::Error => EVENTLOG_ERROR_TYPE,
        };
        let text = wide(message);
        let strings = [text.as_ptr()];
        let ok = unsafe {
            ReportEventW(
                self.handle,
                kind,
                0,
                event_id(level),
                std::ptr::null_mut(),
                1,
                0,
                strings.as_ptr(),
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(last_error("ReportEventW", SOURCE));
        }
        Ok(())
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        unsafe {
            DeregisterEventSource(self.handle);
        }
    }
}
