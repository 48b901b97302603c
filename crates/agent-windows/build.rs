//! Gives rehome-agent.exe its version information: a VERSIONINFO resource compiled with the
//! MinGW resource compiler and linked into the executable, when building for Windows.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=res/version.rc.in");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets the version");
    let mut numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let mut next = || numbers.next().unwrap_or("0").to_string();
    let (major, minor, patch) = (next(), next(), next());
    let template = std::fs::read_to_string("res/version.rc.in").expect("res/version.rc.in");
    let rc = template
        .replace("@MAJOR@", &major)
        .replace("@MINOR@", &minor)
        .replace("@PATCH@", &patch)
        .replace("@VERSION@", &version);
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rc_path = out.join("version.rc");
    let obj = out.join("version.o");
    std::fs::write(&rc_path, rc).expect("writing version.rc");
    let windres = env::var("WINDRES").unwrap_or_else(|_| "x86_64-w64-mingw32-windres".to_string());
    let status = Command::new(&windres)
        .arg("-O")
        .arg("coff")
        .arg("-i")
        .arg(&rc_path)
        .arg("-o")
        .arg(&obj)
        .status();
    match status {
        Ok(s) if s.success() => {}
        // Without it the executable would lack its version: fail rather than ship that.
        other => panic!(
            "{} could not compile the version resource ({:?}); install binutils-mingw-w64-x86-64",
            windres, other
        ),
    }
    println!("cargo:rustc-link-arg-bins={}", obj.display());
}
