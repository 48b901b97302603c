//! Command packages under Wine: a deflated zip (dynamic, fixed and stored blocks, a stored
//! entry and a folder entry) unpacked byte for byte, its `cmdline.cmd` run by Wine's `cmd.exe`
//! with its exit code and output answered, a script past its timeout stopped with the `cmd.exe`
//! it started, and the folder removed after each run. The folder's DACL is checked on Windows
//! only (Wine derives file DACLs from Unix modes).

use std::time::{Duration, Instant};

use super::command::{self, FOLDER_SDDL};
use super::{security, under_wine, unzip};

/// A zip made with Python's zipfile: `cmdline.cmd`, `tools/`, `tools/data.txt`, `small.txt`
/// and `level0.txt` deflated, `raw.txt` stored.
const PACKAGE: &[&str] = &[
    "504b03041400000008000000215ce5deeb8681000000c50000000b000000636d646c696e652e636d645d8e310e",
    "c23010047b4bfec3be201420d1c23f680efb125b71ee507cc2797e42140ae8563353ec8d435268df7b37f3843b",
    "5e14461a1896c8101287b1a27d763634aa18f29b0524112c7153d9d2a62ab4098246eebccb3d440dbce46a30d5",
    "521f918c3a5b7668383d71fecbea44a5fc1417eff66fdf4333c941a20a6ff3e8aedead504b0304140000000000",
    "0000215c00000000000000000000000006000000746f6f6c732f504b03041400000008000000215ca7f234c8d7",
    "0100001a1300000e000000746f6f6c732f646174612e74787475d83b6a1d410044d15ca03dcc12bafadfcb11e2",
    "49327ec80ebc7f8c63cf492b3bcceff63c7f7c3fae72fdfab8fe7c3daedf6fef3fdf3e1faf2fcf7f73eee77a3f",
    "b7fbb9dfcfe37e9ef7f3ba9ff7fd7cc01113ce001a48036a600db08136e006de0a6fd57585b7c25be1adf05678",
    "2bbc15de0a6f83b7c1db7423c3dbe06df036781bbc0dde066f87b7c3dbe1ed7a72e1edf076783bbc1dde0eef80",
    "77c03be01df00ebdaae01df00e7807bc03de09ef8477c23be19df04ebd9be19df04e7827bc0bde05ef8277c1bb",
    "e05df02e7d8ce05df02e7837bc1bde0def8677c3bbe1ddf06e7d7de1ddf01e780fbc07de03ef81f7c07be03df0",
    "1ee5067b43c151541c45c951d41c45d151541d45d951d41d45e15124776a49ced8626d31b7d85b0c2e1617934b",
    "cd1545572a2b53727557145e517945e915b557145f517d45f915f5571a035b722558d46051844515166558d461",
    "5188452516a5583acf1692abc6a21c8b7a2c0ab2a8c8a2248b9a2c8ab2a8ca3278ac925c611695599466519b45",
    "7116d5599467519f458196c913a5e46ab428d2a24a8b322deab428d4a2528b522d6ab52c1ea62557ae45bd1605",
    "5b546c51b245cd16455b546d51b665f33f82e42ab728dda2768be22daab728dfa27e8b022e2ab81cfe42f95ffe",
    "17504b03041400000008000000215cd192c531070000000800000009000000736d616c6c2e747874cbc854c800",
    "2100504b03041400000008000000215c6f757de4230000001e0000000a0000006c6576656c302e747874011e00",
    "e1ff6b65707420696e20612073746f726564206465666c61746520626c6f636b504b0304140000000000000021",
    "5cac24bbe00c0000000c000000070000007261772e74787473746f726564206173206973504b01021403140000",
    "0008000000215ce5deeb8681000000c50000000b0000000000000000000000800100000000636d646c696e652e",
    "636d64504b010214031400000000000000215c0000000000000000000000000600000000000000000000008001",
    "aa000000746f6f6c732f504b010214031400000008000000215ca7f234c8d70100001a1300000e000000000000",
    "00000000008001ce000000746f6f6c732f646174612e747874504b010214031400000008000000215cd192c531",
    "07000000080000000900000000000000000000008001d1020000736d616c6c2e747874504b0102140314000000",
    "08000000215c6f757de4230000001e0000000a00000000000000000000008001ff0200006c6576656c302e7478",
    "74504b010214031400000000000000215cac24bbe00c0000000c00000007000000000000000000000080014a03",
    "00007261772e747874504b050600000000060006004d0100007b0300000000",
];

/// A zip whose `cmdline.cmd` prints `waiting` and starts a second `cmd.exe` that loops for ever.
const LOOPING: &[&str] = &[
    "504b03041400000000000000215c833efe152a0000002a0000000b000000636d646c696e652e636d6440656368",
    "6f206f66660d0a6563686f2077616974696e670d0a636d64202f63206c6f6f702e636d640d0a504b0304140000",
    "0000000000215c66963bcf1d0000001d000000080000006c6f6f702e636d64406563686f206f66660d0a3a6c6f",
    "6f700d0a676f746f206c6f6f700d0a504b010214031400000000000000215c833efe152a0000002a0000000b00",
    "00000000000000000000800100000000636d646c696e652e636d64504b010214031400000000000000215c6696",
    "3bcf1d0000001d0000000800000000000000000000008001530000006c6f6f702e636d64504b05060000000002",
    "0002006f000000960000000000",
];

fn bytes(hex: &[&str]) -> Vec<u8> {
    let text: String = hex.concat();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn data_txt() -> Vec<u8> {
    (0..200)
        .map(|i| format!("line {} of the package\r\n", i))
        .collect::<String>()
        .into_bytes()
}

fn base(name: &str) -> std::path::PathBuf {
    let base = std::env::temp_dir().join(format!("rehome-packages-{}", name));
    let _ = std::fs::remove_dir_all(&base);
    base
}

#[test]
fn a_deflated_package_unpacks_byte_for_byte() {
    let zip = bytes(PACKAGE);
    let folder = base("unpack");
    assert_eq!(unzip::unpack("test", &zip, &folder).unwrap(), 5);
    assert_eq!(
        std::fs::read(folder.join("tools").join("data.txt")).unwrap(),
        data_txt()
    );
    assert_eq!(
        std::fs::read(folder.join("small.txt")).unwrap(),
        b"hi hi hi"
    );
    assert_eq!(
        std::fs::read(folder.join("level0.txt")).unwrap(),
        b"kept in a stored deflate block"
    );
    assert_eq!(
        std::fs::read(folder.join("raw.txt")).unwrap(),
        b"stored as is"
    );
    let script = std::fs::read_to_string(folder.join("cmdline.cmd")).unwrap();
    assert!(script.starts_with("@echo off"), "{}", script);
    std::fs::remove_dir_all(&folder).unwrap();
    // A damaged byte in a deflated entry is caught by its CRC-32 or its stream, never unpacked.
    let mut damaged = zip.clone();
    let at = 30 + "cmdline.cmd".len() + 10;
    damaged[at] ^= 0x55;
    let e = unzip::unpack("test", &damaged, &folder)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot be unpacked") && e.contains("cmdline.cmd"),
        "{}",
        e
    );
}

#[test]
fn a_package_runs_with_its_exit_code_and_output_and_its_folder_goes() {
    let base = base("run");
    let outcome = command::run(
        &base,
        "ab12cd34ef56ab12cd34",
        &bytes(PACKAGE),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(outcome.exit_code, Some(7), "{}", outcome.output);
    assert!(outcome.output.contains("package ran"), "{}", outcome.output);
    assert!(outcome.output.contains("done"), "{}", outcome.output);
    assert!(!command::run_folder(&base, "ab12cd34ef56ab12cd34").exists());
}

#[test]
fn a_package_past_its_timeout_is_stopped_and_its_folder_removed() {
    let base = base("timeout");
    let started = Instant::now();
    let outcome = command::run(
        &base,
        "0123456789abcdef",
        &bytes(LOOPING),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(outcome.exit_code, None, "{}", outcome.output);
    assert!(outcome.output.contains("waiting"), "{}", outcome.output);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(!command::run_folder(&base, "0123456789abcdef").exists());
}

#[test]
fn a_package_without_cmdline_cmd_is_refused_before_anything_runs() {
    let mut zip = bytes(LOOPING);
    // Renamed in the local headers and the central directory: `cmdline.cmx`.
    for i in 0..zip.len() - 11 {
        if &zip[i..i + 11] == b"cmdline.cmd" {
            zip[i + 10] = b'x';
        }
    }
    let base = base("refused");
    let e = command::run(&base, "fedcba9876543210", &zip, Duration::from_secs(2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no cmdline.cmd"), "{}", e);
    assert!(!command::run_folder(&base, "fedcba9876543210").exists());
}

#[test]
fn the_output_is_bounded_to_its_head_and_tail() {
    let long: Vec<u8> = std::iter::repeat(b'a')
        .take(10)
        .chain(std::iter::repeat(b'b').take(100))
        .chain(std::iter::repeat(b'c').take(10))
        .collect();
    let text = command::bounded(&long, 10);
    assert!(
        text.starts_with("aaaaaaaaaa\n… 100 bytes left out …\n"),
        "{}",
        text
    );
    assert!(text.ends_with("cccccccccc"), "{}", text);
    assert_eq!(command::bounded(b"short", 10), "short");
}

#[test]
fn the_package_folder_admits_only_system_and_administrators() {
    if under_wine() {
        // Wine derives file DACLs from Unix modes: verified on Windows only.
        return;
    }
    let base = base("acl");
    let folder = command::run_folder(&base, "00ff00ff00ff00ff");
    std::fs::create_dir_all(&base).unwrap();
    let _ = std::fs::remove_dir_all(&folder);
    command::private_folder(&folder).unwrap();
    let descriptor = security::file_descriptor(&folder.to_string_lossy(), false)
        .unwrap()
        .unwrap();
    let sddl = security::descriptor_to_sddl(&descriptor).unwrap();
    assert!(
        sddl.contains(FOLDER_SDDL.trim_start_matches("D:P")),
        "{}",
        sddl
    );
    std::fs::remove_dir_all(&base).unwrap();
}
