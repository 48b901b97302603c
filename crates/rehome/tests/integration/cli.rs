//! The command line as a person at a shell uses it.

use std::io::Read;
use std::process::{Command, Stdio};

/// `rehome openapi | head -c 10`: the reader goes away after a few bytes of a document larger than
/// a pipe holds, and the command ends without a panic or a backtrace, as other command-line tools
/// do.
#[test]
fn a_command_piped_into_a_reader_that_stops_early_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rehome"))
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rehome openapi");
    let mut first = [0u8; 10];
    child
        .stdout
        .take()
        .expect("its output")
        .read_exact(&mut first)
        .expect("the first bytes");
    // The pipe is closed here, with most of the document still to write.
    let out = child.wait_with_output().expect("its end");
    assert_eq!(&first[..1], b"{");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            // 13: SIGPIPE.
            out.status.success() || out.status.signal() == Some(13),
            "{:?}",
            out.status
        );
    }
}
