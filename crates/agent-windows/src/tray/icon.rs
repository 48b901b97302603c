//! `rehome-agent tray`: the notification-area icon (`Shell_NotifyIconW`) with its menu, polling
//! the service over the pipe every two seconds and opening the dialog that is due. Exit closes
//! only the tray: the service and a migration in progress go on.

use std::ptr::{null, null_mut};
use std::sync::Arc;

use agent::run::requests::AgentView;
use agent::{Error, RegValue, Result};
use chrono::{Local, Offset};
use model::clock::Clock;
use model::rules::Dialog;
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, WPARAM};
use windows_sys::Win32::Globalization::GetUserDefaultLocaleName;
use windows_sys::Win32::UI::Shell::*;
use windows_sys::Win32::UI::WindowsAndMessaging::*;

use super::content::{content, html_to_text, Choice, Values};
use super::prompts::{self, Due, Memory};
use super::window;
use crate::pipe::{self, Message, Reply, PIPE_NAME};
use crate::win::{from_wide, last_error, registry, wide};

const CLASS: &str = "RehomeTray";
const WM_TRAY: u32 = WM_APP + 1;
const TIMER: usize = 1;
/// The menu's Exit.
pub const EXIT: usize = 5;
const MENU: [(usize, &str); 5] = [
    (1, "Register"),
    (2, "Check Runbooks"),
    (3, "Migrate Now"),
    (4, "About"),
    (EXIT, "Exit"),
];

/// The device's culture, e.g. `fr-FR`.
pub fn device_locale() -> String {
    let mut buf = [0u16; 85];
    let n = unsafe { GetUserDefaultLocaleName(buf.as_mut_ptr(), buf.len() as i32) };
    if n <= 0 {
        return model::runbook::DEFAULT_CULTURE.to_string();
    }
    from_wide(&buf)
}

/// Asks the service once, on a connection of its own.
pub fn ask(message: Message) -> Result<Reply> {
    let mut pipe = pipe::win::connect(PIPE_NAME)?;
    pipe::ask(&mut pipe, message).map_err(|e| Error::Device(e.to_string()))
}

/// The service's view as the tray reads it, as indented JSON (`rehome-agent status`).
pub fn status() -> Result<String> {
    match ask(Message::Status)? {
        Reply::Status(view) => {
            serde_json::to_string_pretty(&view).map_err(|e| Error::Device(e.to_string()))
        }
        Reply::Answer(a) => Err(Error::Device(a.message)),
        Reply::Prompt(_) => Err(Error::Device(
            "the service answered a status request with a prompt".to_string(),
        )),
    }
}

/// Asks in the background and shows the answer in a message box, so the tray stays responsive
/// while the agent checks in.
fn ask_and_tell(message: Message) {
    std::thread::spawn(move || {
        let text = match ask(message) {
            Ok(Reply::Answer(a)) => a.message,
            Ok(Reply::Status(_)) | Ok(Reply::Prompt(_)) => return,
            Err(e) => e.to_string(),
        };
        show_message(&text);
    });
}

fn show_message(text: &str) {
    let (text, caption) = (wide(text), wide("rehome migration agent"));
    unsafe {
        MessageBoxW(
            null_mut(),
            text.as_ptr(),
            caption.as_ptr(),
            MB_OK | MB_ICONINFORMATION | MB_SETFOREGROUND,
        );
    }
}

/// Where the tray remembers, per user, the runbook whose Migration Complete was shown, so it is
/// shown once to each user, not at every sign-in.
const USER_KEY: &str = "HKCU\\SOFTWARE\\rehome\\Tray";
const COMPLETE_SHOWN: &str = "CompleteShown";

fn user_key() -> crate::keys::KeyName {
    crate::keys::KeyName::parse(USER_KEY).expect("a fixed key name")
}

fn load_complete_shown() -> Option<model::ids::RunbookId> {
    let key = registry::open(&user_key(), registry::READ).ok()??;
    match key.value(COMPLETE_SHOWN).ok()? {
        Some(RegValue::Sz(id)) => id.parse().ok(),
        _ => None,
    }
}

fn save_complete_shown(runbook: model::ids::RunbookId) {
    // Not remembering only means showing it once more at the next sign-in.
    if let Ok(key) = registry::create(&user_key(), registry::WRITE) {
        let _ = key.set_value(COMPLETE_SHOWN, &RegValue::Sz(runbook.to_string()));
    }
}

/// The tray's state on its UI thread.
struct Tray {
    clock: Arc<dyn Clock>,
    locale: String,
    memory: Memory,
    view: Option<AgentView>,
    open: Option<(Dialog, HWND)>,
    /// The Cache Credentials prompt whose dialog is open.
    credential: Option<u64>,
}

impl Tray {
    fn values(&self, due: &Due) -> Values {
        let now = self.clock.now();
        let offset = now.with_timezone(&Local).offset().fix();
        Values {
            target_domain: None,
            start_date: due.enforced_at.map(|at| (at, offset)),
            minutes_left: due.minutes_left,
        }
    }

    /// Polls the service and shows what is due.
    fn refresh(&mut self) {
        // A service that is not running (yet) is polled again at the next tick.
        let view = match ask(Message::Status) {
            Ok(Reply::Status(view)) => *view,
            _ => return,
        };
        self.view = Some(view);
        // A runbook's step waiting for the user's credentials comes first: the run waits on it.
        if self.credential_prompt() {
            return;
        }
        let view = match &self.view {
            Some(view) => view,
            None => return,
        };
        let now = self.clock.now();
        let due = prompts::due(view, &mut self.memory, now);
        match (&due, self.open) {
            (Some(due), Some((dialog, hwnd))) if due.dialog == dialog => {
                let c = content(
                    &due.user_experience,
                    &self.locale,
                    due.dialog,
                    &self.values(due),
                );
                window::set_message(hwnd, &c.message);
            }
            (due, open) => {
                if let Some((_, hwnd)) = open {
                    window::close(hwnd);
                    self.open = None;
                }
                if let Some(due) = due {
                    let c = content(
                        &due.user_experience,
                        &self.locale,
                        due.dialog,
                        &self.values(due),
                    );
                    if let Ok(hwnd) = window::open(&c) {
                        self.open = Some((due.dialog, hwnd));
                    }
                }
            }
        }
    }

    /// Shows the Cache Credentials dialog while the service has a prompt out, and closes it when
    /// the prompt is withdrawn. True while one is out.
    fn credential_prompt(&mut self) -> bool {
        let prompt = match ask(Message::CredentialPrompt) {
            Ok(Reply::Prompt(prompt)) => prompt,
            _ => None,
        };
        let prompt = match prompt {
            Some(p) => p,
            None => {
                if self.credential.take().is_some() {
                    if let Some((_, hwnd)) = self.open.take() {
                        window::close(hwnd);
                    }
                }
                return false;
            }
        };
        if self.credential == Some(prompt.id) {
            return true;
        }
        if let Some((_, hwnd)) = self.open.take() {
            window::close(hwnd);
        }
        let ux = self
            .view
            .as_ref()
            .and_then(|v| v.assigned.as_ref())
            .map(|a| a.user_experience.clone())
            .unwrap_or_default();
        let values = Values {
            target_domain: None,
            start_date: None,
            minutes_left: None,
        };
        // Labels and buttons in the device's culture; the title and message as the step asks.
        let mut c = content(&ux, &self.locale, Dialog::CacheCredentials, &values);
        c.title = prompt.title.clone();
        let (message, links) = html_to_text(&prompt.message);
        c.message = message;
        c.links = links;
        if let Ok(hwnd) = window::open(&c) {
            self.open = Some((Dialog::CacheCredentials, hwnd));
            self.credential = Some(prompt.id);
        }
        true
    }

    /// Acts on what the user pressed in the open dialog.
    fn answer(&mut self) {
        for picked in window::take_choices() {
            let dialog = match self.open {
                Some((dialog, hwnd)) if hwnd == picked.window => dialog,
                _ => continue,
            };
            if let (Dialog::CacheCredentials, Some(id)) = (dialog, self.credential.take()) {
                // Sent from a thread of its own: the step wakes and goes on; what was typed
                // lives only as long as the message.
                let message = match picked.typed {
                    Some(typed) if picked.choice == Choice::SignIn => {
                        Message::Credentials { id, typed }
                    }
                    _ => Message::CredentialsCancelled { id },
                };
                std::thread::spawn(move || {
                    let _ = ask(message);
                });
                window::close(picked.window);
                self.open = None;
                continue;
            }
            let now = self.clock.now();
            match picked.choice {
                Choice::StartNow => ask_and_tell(Message::StartNow),
                Choice::Snooze => {
                    if let Some(length) = picked.snooze {
                        std::thread::spawn(move || {
                            let _ = ask(Message::Snooze { length });
                        });
                    }
                }
                Choice::Later | Choice::Ok | Choice::Cancel | Choice::SignIn => {
                    if let Some(view) = &self.view {
                        prompts::dismissed(&mut self.memory, view, dialog, now);
                    }
                    if let (Dialog::MigrationComplete, Some(runbook)) =
                        (dialog, self.memory.complete_shown)
                    {
                        save_complete_shown(runbook);
                    }
                }
            }
            window::close(picked.window);
            self.open = None;
        }
    }
}

/// The tray's menu: Register, Check Runbooks, Migrate Now, About, Exit.
pub fn build_menu() -> HMENU {
    unsafe {
        let menu = CreatePopupMenu();
        for (id, label) in MENU {
            let w = wide(label);
            AppendMenuW(menu, MF_STRING, id, w.as_ptr());
        }
        menu
    }
}

fn menu(hwnd: HWND) {
    unsafe {
        let menu = build_menu();
        let mut at = POINT { x: 0, y: 0 };
        GetCursorPos(&mut at);
        // Without this the menu does not close when the user clicks elsewhere.
        SetForegroundWindow(hwnd);
        let picked = TrackPopupMenu(
            menu,
            TPM_RETURNCMD | TPM_RIGHTBUTTON,
            at.x,
            at.y,
            0,
            hwnd,
            null(),
        );
        DestroyMenu(menu);
        command(hwnd, picked as usize);
    }
}

/// Carries out the menu item `id`.
fn command(hwnd: HWND, id: usize) {
    match id {
        1 => ask_and_tell(Message::Register),
        2 => ask_and_tell(Message::CheckRunbooks),
        3 => ask_and_tell(Message::MigrateNow),
        4 => show_message(&format!("rehome migration agent {}", crate::VERSION)),
        EXIT => {
            remove_icon(hwnd);
            unsafe { PostQuitMessage(0) };
        }
        _ => {}
    }
}

fn icon_data(hwnd: HWND) -> NOTIFYICONDATAW {
    let mut data: NOTIFYICONDATAW = unsafe { std::mem::zeroed() };
    data.cbSize = std::mem::size_of::<NOTIFYICONDATAW>() as u32;
    data.hWnd = hwnd;
    data.uID = 1;
    data
}

fn remove_icon(hwnd: HWND) {
    let data = icon_data(hwnd);
    unsafe { Shell_NotifyIconW(NIM_DELETE, &data) };
}

unsafe extern "system" fn tray_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        WM_TRAY => {
            let event = (lparam & 0xffff) as u32;
            if event == WM_RBUTTONUP || event == WM_CONTEXTMENU || event == WM_LBUTTONUP {
                menu(hwnd);
            }
            0
        }
        // The menu's items sent as commands (as a test or another program may).
        WM_COMMAND => {
            command(hwnd, wparam & 0xffff);
            0
        }
        _ => DefWindowProcW(hwnd, msg, wparam, lparam),
    }
}

/// Runs the tray until Exit.
pub fn run(clock: Arc<dyn Clock>) -> Result<()> {
    window::register_class(CLASS, Some(tray_proc), false);
    // Hidden: it only receives the icon's clicks and the poll's timer.
    let hwnd = window::top_level(CLASS, CLASS, (0, 0), (0, 0, 0, 0))?;
    let mut data = icon_data(hwnd);
    data.uFlags = NIF_ICON | NIF_MESSAGE | NIF_TIP;
    data.uCallbackMessage = WM_TRAY;
    data.hIcon = unsafe { LoadIconW(null_mut(), IDI_INFORMATION) };
    for (slot, c) in data
        .szTip
        .iter_mut()
        .zip("rehome migration agent".encode_utf16())
    {
        *slot = c;
    }
    if unsafe { Shell_NotifyIconW(NIM_ADD, &data) } == 0 {
        return Err(last_error("Shell_NotifyIconW(NIM_ADD)", ""));
    }
    let mut tray = Tray {
        clock,
        locale: device_locale(),
        memory: Memory {
            complete_shown: load_complete_shown(),
            ..Memory::default()
        },
        view: None,
        open: None,
        credential: None,
    };
    tray.refresh();
    unsafe { SetTimer(hwnd, TIMER, 2000, None) };
    let mut msg: MSG = unsafe { std::mem::zeroed() };
    loop {
        let got = unsafe { GetMessageW(&mut msg, null_mut(), 0, 0) };
        if got <= 0 {
            break;
        }
        unsafe {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
        if msg.message == WM_TIMER && msg.hwnd == hwnd {
            tray.refresh();
        }
        tray.answer();
    }
    remove_icon(hwnd);
    Ok(())
}

#[cfg(test)]
mod credential_tests;

#[cfg(test)]
mod tests {
    use model::clock::SystemClock;

    use super::*;

    #[test]
    fn migration_complete_is_remembered_per_user_across_sign_ins() {
        let runbook = model::ids::RunbookId::new();
        save_complete_shown(runbook);
        assert_eq!(load_complete_shown(), Some(runbook));
        registry::delete_tree(&user_key()).expect("clean up");
        assert_eq!(load_complete_shown(), None);
    }

    #[test]
    #[ignore = "needs a display: scripts/test-windows runs it under Xvfb"]
    fn the_icon_is_added_with_its_menu_and_exit_ends_the_tray() {
        let menu = build_menu();
        let labels: Vec<String> = (0..unsafe { GetMenuItemCount(menu) })
            .map(|i| {
                let mut buf = [0u16; 64];
                unsafe { GetMenuStringW(menu, i as u32, buf.as_mut_ptr(), 64, MF_BYPOSITION) };
                from_wide(&buf)
            })
            .collect();
        unsafe { DestroyMenu(menu) };
        assert_eq!(
            labels,
            ["Register", "Check Runbooks", "Migrate Now", "About", "Exit"]
        );
        // No service here: the tray waits for one, its icon in the notification area.
        let tray = std::thread::spawn(|| run(Arc::new(SystemClock)));
        let class = wide(CLASS);
        let mut hwnd = null_mut();
        for _ in 0..1_000_000 {
            hwnd = unsafe { FindWindowW(class.as_ptr(), null()) };
            if !hwnd.is_null() || tray.is_finished() {
                break;
            }
            std::thread::yield_now();
        }
        assert!(!hwnd.is_null(), "the tray's window appears");
        unsafe { PostMessageW(hwnd, WM_COMMAND, EXIT, 0) };
        tray.join()
            .expect("the tray's thread")
            .expect("the icon was added and Exit ended the tray");
        assert!(unsafe { FindWindowW(class.as_ptr(), null()) }.is_null());
    }
}
