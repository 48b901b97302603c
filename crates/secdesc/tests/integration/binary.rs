//! Binary forms Windows produces that a careless writer would not give back byte for byte.

use secdesc::cli::hex_decode;
use secdesc::SecurityDescriptor;

fn round_trips(hex: &str) -> SecurityDescriptor {
    let bytes = hex_decode(hex).unwrap();
    let sd = SecurityDescriptor::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {}", hex, e));
    assert_eq!(sd.to_bytes(), bytes);
    sd
}

#[test]
fn windows_order_sacl_dacl_owner_group_is_kept() {
    // O:BAG:SYD:(A;;FA;;;WD) laid out as MakeSelfRelativeSD does: DACL first, then owner, group.
    let sd = round_trips(concat!(
        "01000480", "30000000", "40000000", "00000000", "14000000", "02001c00", "01000000",
        "00001400", "ff011f00", "01010000", "00000001", "00000000", "01020000", "00000005",
        "20000000", "20020000", "01010000", "00000005", "12000000",
    ));
    assert_eq!(sd.to_sddl(None), "O:BAG:SYD:(A;;FA;;;WD)");
    let mut changed = sd.clone();
    changed.owner = Some("S-1-5-21-1-2-3-1001".parse().unwrap());
    let again = SecurityDescriptor::from_bytes(&changed.to_bytes()).unwrap();
    assert_eq!(again, changed);
}

#[test]
fn acl_free_space_and_ace_trailing_bytes_are_kept() {
    // A DACL declared 8 bytes larger than its one ACE, whose size is 4 bytes larger than its SID.
    let sd = round_trips(concat!(
        "01000480", "00000000", "00000000", "00000000", "14000000", "02002800", "01000000",
        "00001800", "ff011f00", "01010000", "00000001", "00000000", "aabbccdd", "00000000",
        "00000000",
    ));
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.slack, [0; 8]);
    assert_eq!(dacl.aces[0].data, [0xaa, 0xbb, 0xcc, 0xdd]);
    assert_eq!(sd.to_sddl(None), "D:(A;;FA;;;WD)");
    assert!(sd.try_to_sddl(&Default::default()).is_err());
}

#[test]
fn padding_between_parts_and_after_the_last_is_kept() {
    round_trips(concat!(
        "01000080", "18000000", "00000000", "00000000", "00000000", "00000000", "01010000",
        "00000001", "00000000", "ffff",
    ));
}

#[test]
fn malformed_binaries_are_errors() {
    for bad in [
        "",
        "0100048000000000000000000000000014000000",
        "02000480000000000000000000000000",
        // Owner overlapping the header.
        "0100008004000000000000000000000000000000",
        // ACL claiming more ACEs than it holds.
        "01000480000000000000000000000000140000000200080001000000",
        // ACE size past the ACL.
        "010004800000000000000000000000001400000002001400010000000000ff00ff011f00",
        // Unknown ACE type.
        "01000480000000000000000000000000140000000200140001000000160014000000000001010000000000010000000000",
    ] {
        assert!(SecurityDescriptor::from_bytes(&hex_decode(bad).unwrap()).is_err(), "{}", bad);
    }
}
