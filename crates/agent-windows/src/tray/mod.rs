//! `rehome-agent tray`: the notification-area icon in the signed-in user's session, its menu
//! (Register, Check Runbooks, Migrate Now, About, Exit), and the six dialogs of the runbook's User
//! Experience tab, driven by what the service tells it over the named pipe. What the dialogs say
//! and when they show is portable and tested everywhere ([`content`], [`prompts`], [`qr`]); the
//! Win32 windows are in [`window`] and [`icon`] (Windows only).

#[cfg(windows)]
pub mod autostart;
pub mod content;
#[cfg(windows)]
pub mod icon;
pub mod prompts;
pub mod qr;
#[cfg(windows)]
pub mod window;

#[cfg(test)]
mod tests;
