//! The dialogs as Win32 windows: a bold heading, the message in a static control, its links as
//! blue clickable lines, the snooze list, the credential fields, the buttons, and the QR code
//! painted module by module. Modeless, so the tray keeps polling the service while one is open;
//! what the user pressed is collected by [`take_choices`].

use std::cell::RefCell;
use std::ptr::{null, null_mut};

use agent::Result;
use model::schedule::Snooze;
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, RECT, WPARAM};
use windows_sys::Win32::Graphics::Gdi::*;
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Shell::ShellExecuteW;
use windows_sys::Win32::UI::WindowsAndMessaging::*;

use super::content::{Choice, DialogContent};
use super::qr;
use crate::pipe::credentials::{Password, Typed};
use crate::win::{from_wide, last_error, wide};

/// The window class of every dialog.
pub const CLASS: &str = "RehomeDialog";
const WIDTH: i32 = 600;
const MARGIN: i32 = 24;
const MODULE: i32 = 4;
const QUIET: i32 = 4;
const BUTTON_W: i32 = 130;
const BUTTON_H: i32 = 32;
/// Control ids: the heading, the message, the snooze list, the user name and password, buttons,
/// links.
const ID_HEADING: i32 = 99;
/// The message.
pub const ID_MESSAGE: i32 = 100;
/// The snooze list.
pub const ID_SNOOZE: i32 = 101;
const ID_USER: i32 = 102;
const ID_PASSWORD: i32 = 103;
const ID_BUTTON: i32 = 200;
const ID_LINK: i32 = 300;
// Static control styles (winuser.h), kept here rather than pulling in a whole feature for two.
const SS_NOPREFIX: u32 = 0x80;
const SS_NOTIFY: u32 = 0x100;

/// What the user pressed in a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    /// The dialog's window.
    pub window: HWND,
    /// The button.
    pub choice: Choice,
    /// The snooze length selected, for [`Choice::Snooze`].
    pub snooze: Option<Snooze>,
    /// What was typed into the user name and password boxes, for [`Choice::SignIn`].
    pub typed: Option<Typed>,
}

struct State {
    content: DialogContent,
    qr: Option<Vec<Vec<bool>>>,
    qr_at: (i32, i32),
    font: HFONT,
    bold: HFONT,
}

thread_local! {
    static PICKED: RefCell<Vec<Picked>> = RefCell::new(Vec::new());
}

/// What was pressed since the last call, in order.
pub fn take_choices() -> Vec<Picked> {
    PICKED.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

fn message_font(bold: bool) -> HFONT {
    unsafe {
        let mut metrics: NONCLIENTMETRICSW = std::mem::zeroed();
        metrics.cbSize = std::mem::size_of::<NONCLIENTMETRICSW>() as u32;
        SystemParametersInfoW(
            SPI_GETNONCLIENTMETRICS,
            metrics.cbSize,
            &mut metrics as *mut _ as _,
            0,
        );
        let mut font = metrics.lfMessageFont;
        // A little larger than the system's message font: these are read, not skimmed.
        font.lfHeight = if bold { -20 } else { -15 };
        if bold {
            font.lfWeight = 700;
        }
        CreateFontIndirectW(&font)
    }
}

fn text_height(font: HFONT, text: &str, width: i32) -> i32 {
    unsafe {
        let dc = GetDC(null_mut());
        let old = SelectObject(dc, font as _);
        let mut rect = RECT {
            left: 0,
            top: 0,
            right: width,
            bottom: 0,
        };
        let w: Vec<u16> = text.encode_utf16().collect();
        DrawTextW(
            dc,
            w.as_ptr(),
            w.len() as i32,
            &mut rect,
            DT_CALCRECT | DT_WORDBREAK | DT_NOPREFIX,
        );
        SelectObject(dc, old);
        ReleaseDC(null_mut(), dc);
        rect.bottom - rect.top
    }
}

/// Registers the window class `name` with `proc`; a dialog's has the information icon, an arrow
/// cursor and a white background. Registered once per process: a second registration fails
/// harmlessly.
pub(super) fn register_class(name: &str, proc: WNDPROC, dialog: bool) {
    let class = wide(name);
    unsafe {
        let (icon, cursor, background) = if dialog {
            (
                LoadIconW(null_mut(), IDI_INFORMATION),
                LoadCursorW(null_mut(), IDC_ARROW),
                GetStockObject(WHITE_BRUSH) as _,
            )
        } else {
            (null_mut(), null_mut(), null_mut())
        };
        let wc = WNDCLASSW {
            style: if dialog { CS_HREDRAW | CS_VREDRAW } else { 0 },
            lpfnWndProc: proc,
            cbClsExtra: 0,
            cbWndExtra: 0,
            hInstance: GetModuleHandleW(null()),
            hIcon: icon,
            hCursor: cursor,
            hbrBackground: background,
            lpszMenuName: null(),
            lpszClassName: class.as_ptr(),
        };
        RegisterClassW(&wc);
    }
}

/// A top-level window of the registered class `class`.
pub(super) fn top_level(
    class: &str,
    title: &str,
    (ex_style, style): (u32, u32),
    (x, y, w, h): (i32, i32, i32, i32),
) -> Result<HWND> {
    let (wclass, wtitle) = (wide(class), wide(title));
    let hwnd = unsafe {
        CreateWindowExW(
            ex_style,
            wclass.as_ptr(),
            wtitle.as_ptr(),
            style,
            x,
            y,
            w,
            h,
            null_mut(),
            null_mut(),
            GetModuleHandleW(null()),
            null(),
        )
    };
    if hwnd.is_null() {
        return Err(last_error("CreateWindowExW", class));
    }
    Ok(hwnd)
}

fn child(
    parent: HWND,
    class: &str,
    text: &str,
    style: u32,
    id: i32,
    rect: (i32, i32, i32, i32),
    font: HFONT,
) -> HWND {
    let (wclass, wtext) = (wide(class), wide(text));
    unsafe {
        let hwnd = CreateWindowExW(
            0,
            wclass.as_ptr(),
            wtext.as_ptr(),
            WS_CHILD | WS_VISIBLE | style,
            rect.0,
            rect.1,
            rect.2,
            rect.3,
            parent,
            id as usize as HMENU,
            GetModuleHandleW(null()),
            null(),
        );
        SendMessageW(hwnd, WM_SETFONT, font as usize, 1);
        hwnd
    }
}

/// Opens `content` as a modeless dialog centred on the screen, and returns its window.
pub fn open(content: &DialogContent) -> Result<HWND> {
    register_class(CLASS, Some(window_proc), true);
    let font = message_font(false);
    let bold = message_font(true);
    let qr = content.qr_url.as_deref().and_then(qr::modules);
    let qr_side = qr
        .as_ref()
        .map(|m| (m.len() as i32 + 2 * QUIET) * MODULE)
        .unwrap_or(0);
    let text_w = WIDTH - 2 * MARGIN - if qr_side > 0 { qr_side + MARGIN } else { 0 };
    let heading_h = text_height(bold, &content.title, text_w);
    let message_h = text_height(font, &content.message, text_w);
    let line_h = text_height(font, "Ag", text_w);
    let mut y = MARGIN + heading_h + 12 + message_h + 12;
    let links_y = y;
    for link in &content.links {
        y += text_height(font, &format!("{}: {}", link.text, link.href), text_w) + 4;
    }
    let fields_y = y + 8;
    if content.credentials.is_some() {
        y = fields_y + 2 * (line_h + 8 + 28);
    }
    let snooze_y = y + 8;
    if content.snooze.is_some() {
        y = snooze_y + line_h + 6 + 30;
    }
    let body_bottom = (y + 8).max(MARGIN + qr_side);
    let buttons_y = body_bottom + 16;
    let client_h = if content.buttons.is_empty() {
        body_bottom + MARGIN
    } else {
        buttons_y + BUTTON_H + MARGIN
    };

    let closable = !content.on_top && content.snooze.is_none();
    let style = WS_POPUP | WS_CAPTION | if closable { WS_SYSMENU } else { 0 };
    let ex_style = WS_EX_DLGMODALFRAME | if content.on_top { WS_EX_TOPMOST } else { 0 };
    let mut frame = RECT {
        left: 0,
        top: 0,
        right: WIDTH,
        bottom: client_h,
    };
    unsafe { AdjustWindowRectEx(&mut frame, style, 0, ex_style) };
    let (w, h) = (frame.right - frame.left, frame.bottom - frame.top);
    let (screen_w, screen_h) =
        unsafe { (GetSystemMetrics(SM_CXSCREEN), GetSystemMetrics(SM_CYSCREEN)) };
    let state = Box::new(State {
        content: content.clone(),
        qr,
        qr_at: (WIDTH - MARGIN - qr_side, MARGIN),
        font,
        bold,
    });
    let hwnd = top_level(
        CLASS,
        &content.title,
        (ex_style, style),
        ((screen_w - w) / 2, (screen_h - h) / 3, w, h),
    )?;
    unsafe { SetWindowLongPtrW(hwnd, GWLP_USERDATA, Box::into_raw(state) as isize) };

    child(
        hwnd,
        "STATIC",
        &content.title,
        SS_NOPREFIX,
        ID_HEADING,
        (MARGIN, MARGIN, text_w, heading_h),
        bold,
    );
    child(
        hwnd,
        "STATIC",
        &content.message,
        SS_NOPREFIX,
        ID_MESSAGE,
        (MARGIN, MARGIN + heading_h + 12, text_w, message_h),
        font,
    );
    let mut ly = links_y;
    for (i, link) in content.links.iter().enumerate() {
        let text = format!("{}: {}", link.text, link.href);
        let lh = text_height(font, &text, text_w);
        child(
            hwnd,
            "STATIC",
            &text,
            SS_NOPREFIX | SS_NOTIFY,
            ID_LINK + i as i32,
            (MARGIN, ly, text_w, lh),
            font,
        );
        ly += lh + 4;
    }
    if let Some((user, password)) = &content.credentials {
        let mut fy = fields_y;
        for (label, id, extra) in [
            (user, ID_USER, 0),
            (password, ID_PASSWORD, ES_PASSWORD as u32),
        ] {
            child(
                hwnd,
                "STATIC",
                label,
                SS_NOPREFIX,
                0,
                (MARGIN, fy, text_w, line_h),
                font,
            );
            fy += line_h + 4;
            child(
                hwnd,
                "EDIT",
                "",
                WS_BORDER | WS_TABSTOP | ES_AUTOHSCROLL as u32 | extra,
                id,
                (MARGIN, fy, text_w.min(320), 26),
                font,
            );
            fy += 28 + 4;
        }
    }
    if let Some((label, choices)) = &content.snooze {
        child(
            hwnd,
            "STATIC",
            label,
            SS_NOPREFIX,
            0,
            (MARGIN, snooze_y, text_w, line_h),
            font,
        );
        let combo = child(
            hwnd,
            "COMBOBOX",
            "",
            CBS_DROPDOWNLIST as u32 | WS_VSCROLL | WS_TABSTOP,
            ID_SNOOZE,
            (MARGIN, snooze_y + line_h + 6, 200, 240),
            font,
        );
        for (_, text) in choices {
            let w = wide(text);
            unsafe { SendMessageW(combo, CB_ADDSTRING, 0, w.as_ptr() as LPARAM) };
        }
        // One hour: long enough to finish a thought, short enough not to forget.
        unsafe { SendMessageW(combo, CB_SETCURSEL, 3, 0) };
    }
    let mut bx = WIDTH - MARGIN - BUTTON_W;
    for (i, (_, label)) in content.buttons.iter().enumerate().rev() {
        let style = WS_TABSTOP
            | if i == 0 {
                BS_DEFPUSHBUTTON as u32
            } else {
                BS_PUSHBUTTON as u32
            };
        child(
            hwnd,
            "BUTTON",
            label,
            style,
            ID_BUTTON + i as i32,
            (bx, buttons_y, BUTTON_W, BUTTON_H),
            font,
        );
        bx -= BUTTON_W + 10;
    }
    unsafe {
        ShowWindow(hwnd, SW_SHOWNORMAL);
        UpdateWindow(hwnd);
    }
    Ok(hwnd)
}

/// Replaces the message of an open dialog (the countdown's minutes).
pub fn set_message(hwnd: HWND, text: &str) {
    let w = wide(text);
    unsafe {
        let message = GetDlgItem(hwnd, ID_MESSAGE);
        let mut old = vec![0u16; 4096];
        GetWindowTextW(message, old.as_mut_ptr(), old.len() as i32);
        if from_wide(&old) != text {
            SetWindowTextW(message, w.as_ptr());
        }
    }
}

/// Closes a dialog whatever its buttons.
pub fn close(hwnd: HWND) {
    unsafe {
        DestroyWindow(hwnd);
    }
}

unsafe fn state<'a>(hwnd: HWND) -> Option<&'a mut State> {
    (GetWindowLongPtrW(hwnd, GWLP_USERDATA) as *mut State).as_mut()
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        WM_COMMAND => {
            let id = (wparam & 0xffff) as i32;
            let notification = ((wparam >> 16) & 0xffff) as u32;
            let st = match state(hwnd) {
                Some(s) => s,
                None => return 0,
            };
            if (ID_BUTTON..ID_BUTTON + 10).contains(&id) {
                if let Some((choice, _)) = st.content.buttons.get((id - ID_BUTTON) as usize) {
                    let snooze = st.content.snooze.as_ref().and_then(|(_, choices)| {
                        let combo = GetDlgItem(hwnd, ID_SNOOZE);
                        let at = SendMessageW(combo, CB_GETCURSEL, 0, 0);
                        choices.get(at as usize).map(|(s, _)| *s)
                    });
                    let typed = if *choice == Choice::SignIn && st.content.credentials.is_some() {
                        Some(typed_credentials(hwnd))
                    } else {
                        None
                    };
                    PICKED.with(|p| {
                        p.borrow_mut().push(Picked {
                            window: hwnd,
                            choice: *choice,
                            snooze,
                            typed,
                        })
                    });
                }
            } else if (ID_LINK..ID_LINK + 50).contains(&id) && notification == STN_CLICKED as u32 {
                if let Some(link) = st.content.links.get((id - ID_LINK) as usize) {
                    let (open, href) = (wide("open"), wide(&link.href));
                    ShellExecuteW(
                        hwnd,
                        open.as_ptr(),
                        href.as_ptr(),
                        null(),
                        null(),
                        SW_SHOWNORMAL,
                    );
                }
            }
            0
        }
        WM_CTLCOLORSTATIC => {
            let dc = wparam as HDC;
            let id = GetDlgCtrlID(lparam as HWND);
            SetBkMode(dc, TRANSPARENT as _);
            if id >= ID_LINK {
                SetTextColor(dc, 0x00C0_5A00);
            } else if id == ID_HEADING {
                SetTextColor(dc, 0x0060_3000);
            } else {
                SetTextColor(dc, 0x0020_2020);
            }
            GetStockObject(WHITE_BRUSH) as LRESULT
        }
        WM_PAINT => {
            let mut ps: PAINTSTRUCT = std::mem::zeroed();
            let dc = BeginPaint(hwnd, &mut ps);
            if let Some(st) = state(hwnd) {
                if let Some(modules) = &st.qr {
                    let (x0, y0) = st.qr_at;
                    let black = GetStockObject(BLACK_BRUSH) as HBRUSH;
                    for (y, row) in modules.iter().enumerate() {
                        for (x, dark) in row.iter().enumerate() {
                            if *dark {
                                let left = x0 + (QUIET + x as i32) * MODULE;
                                let top = y0 + (QUIET + y as i32) * MODULE;
                                let r = RECT {
                                    left,
                                    top,
                                    right: left + MODULE,
                                    bottom: top + MODULE,
                                };
                                FillRect(dc, &r, black);
                            }
                        }
                    }
                }
            }
            EndPaint(hwnd, &ps);
            0
        }
        WM_CLOSE => {
            // The countdown, the run and Migration Available cannot be closed: only their buttons
            // answer them.
            if let Some(st) = state(hwnd) {
                if let Some((choice, _)) = st
                    .content
                    .buttons
                    .iter()
                    .find(|(c, _)| matches!(c, Choice::Ok | Choice::Cancel))
                {
                    PICKED.with(|p| {
                        p.borrow_mut().push(Picked {
                            window: hwnd,
                            choice: *choice,
                            snooze: None,
                            typed: None,
                        })
                    });
                }
            }
            0
        }
        WM_DESTROY => {
            let raw = SetWindowLongPtrW(hwnd, GWLP_USERDATA, 0) as *mut State;
            if !raw.is_null() {
                let st = Box::from_raw(raw);
                DeleteObject(st.font as _);
                DeleteObject(st.bold as _);
            }
            0
        }
        _ => DefWindowProcW(hwnd, msg, wparam, lparam),
    }
}

/// The user name and password typed into the Cache Credentials dialog `hwnd`. The password box
/// is emptied and the UTF-16 copy read from it zeroed.
unsafe fn typed_credentials(hwnd: HWND) -> Typed {
    let read = |id: i32| {
        let mut buf = vec![0u16; 512];
        let n = GetWindowTextW(GetDlgItem(hwnd, id), buf.as_mut_ptr(), buf.len() as i32);
        let text = String::from_utf16_lossy(&buf[..n.max(0) as usize]);
        buf.iter_mut().for_each(|c| *c = 0);
        text
    };
    let typed = Typed {
        username: read(ID_USER).trim().to_string(),
        password: Password::new(read(ID_PASSWORD)),
    };
    let empty = [0u16];
    SetWindowTextW(GetDlgItem(hwnd, ID_PASSWORD), empty.as_ptr());
    typed
}

/// Clicks the dialog `hwnd`'s button `index` (left to right), as the user would: the button
/// tells the dialog (for tests and support).
pub fn click(hwnd: HWND, index: usize) {
    unsafe {
        SendMessageW(GetDlgItem(hwnd, ID_BUTTON + index as i32), BM_CLICK, 0, 0);
    }
}

/// Types `user` and `password` into the Cache Credentials dialog `hwnd`'s boxes, as the user
/// would (for tests and support).
pub fn type_credentials(hwnd: HWND, user: &str, password: &str) {
    unsafe {
        for (id, text) in [(ID_USER, user), (ID_PASSWORD, password)] {
            let w = wide(text);
            SetWindowTextW(GetDlgItem(hwnd, id), w.as_ptr());
        }
    }
}

/// The texts of `hwnd`'s child windows, in creation order (for tests and support).
pub fn child_texts(hwnd: HWND) -> Vec<String> {
    unsafe extern "system" fn collect(child: HWND, texts: LPARAM) -> i32 {
        let texts = &mut *(texts as *mut Vec<String>);
        let mut buf = vec![0u16; 4096];
        let n = GetWindowTextW(child, buf.as_mut_ptr(), buf.len() as i32);
        texts.push(String::from_utf16_lossy(&buf[..n.max(0) as usize]));
        1
    }
    let mut texts: Vec<String> = Vec::new();
    unsafe { EnumChildWindows(hwnd, Some(collect), &mut texts as *mut _ as LPARAM) };
    texts
}

/// Dispatches the messages waiting on this thread without waiting for more.
pub fn pump() {
    unsafe {
        let mut msg: MSG = std::mem::zeroed();
        while PeekMessageW(&mut msg, null_mut(), 0, 0, PM_REMOVE) != 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

#[cfg(test)]
mod tests;
