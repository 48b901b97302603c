//! WMI namespaces' descriptors through `__SystemSecurity`. Wine's WMI has neither `__NAMESPACE`
//! nor `__SystemSecurity`: each call fails naming what it lacks. On Windows the namespaces are
//! walked and `root\cimv2`'s descriptor is read and written back unchanged.

use agent::SecurityParts;

use super::{under_wine, wmi_security};

#[test]
fn namespace_descriptors_go_through_system_security_or_fail_naming_it() {
    let listed = wmi_security::namespaces("root");
    let read = wmi_security::descriptor("root\\cimv2");
    if under_wine() {
        let e = listed.unwrap_err().to_string();
        assert!(e.contains("__NAMESPACE"), "{}", e);
        let e = read.unwrap_err().to_string();
        assert!(
            e.contains("__SystemSecurity.GetSD") && e.contains("root\\cimv2"),
            "{}",
            e
        );
        let e = wmi_security::set_descriptor("root\\cimv2", &[], SecurityParts::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("__SystemSecurity.GetSD"), "{}", e);
        return;
    }
    let listed = listed.unwrap();
    assert_eq!(listed.first().map(String::as_str), Some("root"));
    assert!(
        listed.iter().any(|n| n.eq_ignore_ascii_case("root\\cimv2")),
        "{:?}",
        listed
    );
    let sd = read.unwrap();
    let parts = SecurityParts {
        dacl: true,
        ..Default::default()
    };
    wmi_security::set_descriptor("root\\cimv2", &sd, parts).unwrap();
}
