//! Every corpus string: accepted ones round-trip through binary and SDDL; invalid ones are
//! refused with an offset inside the string.

use secdesc::{Error, SecurityDescriptor, Sid};

const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

fn corpus() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut lines = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().map_or(false, |e| e == "sddl"))
    {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if !line.is_empty() && !line.starts_with('#') {
                lines.push((name.clone(), line.to_string()));
            }
        }
    }
    assert!(lines.len() > 80, "the corpus is missing");
    lines
}

#[test]
fn valid_strings_round_trip_and_invalid_ones_say_where() {
    let domain: Sid = DOMAIN.parse().unwrap();
    for (file, text) in corpus() {
        let parsed = SecurityDescriptor::from_sddl(&text, Some(&domain));
        if file == "invalid.sddl" {
            match parsed {
                Err(Error::Sddl { offset, .. }) => assert!(offset <= text.len(), "{}", text),
                other => panic!("{} was not refused: {:?}", text, other),
            }
            continue;
        }
        let sd = parsed.unwrap_or_else(|e| panic!("{}: {}: {}", file, text, e));
        let bytes = sd.try_to_bytes().unwrap();
        let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(back, sd, "{}", text);
        assert_eq!(back.to_bytes(), bytes, "{}", text);
        let sddl = sd
            .try_to_sddl(&secdesc::Domains::single(Some(&domain)))
            .unwrap();
        let again = SecurityDescriptor::from_sddl(&sddl, Some(&domain)).unwrap();
        assert_eq!(again, sd, "{} -> {}", text, sddl);
        assert_eq!(again.to_sddl(Some(&domain)), sddl);
    }
}
