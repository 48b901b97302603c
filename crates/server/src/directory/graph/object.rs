//! Graph objects as JSON → [`DirectoryObject`]: which properties are asked for, and how the SID
//! of a hybrid or cloud-only object is found.

use model::directory::{DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;
use secdesc::{Guid, Sid};
use serde_json::Value;

/// The three collections a Graph import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphKind {
    /// `/users`.
    Users,
    /// `/groups`.
    Groups,
    /// `/devices`.
    Devices,
}

impl GraphKind {
    /// Every kind, in the order an import reads them.
    pub const ALL: [GraphKind; 3] = [GraphKind::Users, GraphKind::Groups, GraphKind::Devices];

    /// The collection's path segment.
    pub fn path(self) -> &'static str {
        match self {
            GraphKind::Users => "users",
            GraphKind::Groups => "groups",
            GraphKind::Devices => "devices",
        }
    }

    /// The kind of object the collection holds.
    pub fn object_kind(self) -> ObjectKind {
        match self {
            GraphKind::Users => ObjectKind::User,
            GraphKind::Groups => ObjectKind::Group,
            GraphKind::Devices => ObjectKind::Computer,
        }
    }

    /// The `$select` list: only the properties rehome stores, which keeps pages small (Graph
    /// returns a default set of about a dozen user properties otherwise, and not the SIDs).
    pub fn select(self) -> &'static str {
        match self {
            GraphKind::Users => {
                "id,displayName,userPrincipalName,mail,employeeId,onPremisesSecurityIdentifier,\
                 onPremisesSamAccountName,onPremisesImmutableId,accountEnabled,givenName,surname"
            }
            GraphKind::Groups => {
                "id,displayName,mail,securityEnabled,securityIdentifier,\
                 onPremisesSecurityIdentifier,onPremisesSamAccountName"
            }
            GraphKind::Devices => {
                "id,deviceId,displayName,operatingSystem,operatingSystemVersion,trustType,\
                 onPremisesSecurityIdentifier,accountEnabled"
            }
        }
    }
}

/// The object id of a Graph JSON object, if it has a valid one.
pub fn object_id(value: &Value) -> Option<ObjectGuid> {
    value
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(ObjectGuid)
}

/// The SID Entra gives a cloud object with id `guid`: `S-1-12-1-` and its four 32-bit words.
pub fn entra_sid(guid: ObjectGuid) -> Sid {
    Sid::from_entra_object_id(&Guid::from_bytes_le(guid.0.to_bytes_le()))
}

/// Converts one object of `kind`; `None` when it has no usable id (never seen from Graph, but
/// one bad object should not stop an import).
pub fn decode(kind: GraphKind, value: &Value) -> Option<DirectoryObject> {
    let guid = object_id(value)?;
    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let sid_of = |name: &str| text(name).and_then(|s| s.parse::<Sid>().ok());
    // Every SID the object can appear under on a device: on an Entra-joined device the one
    // derived from its id (groups carry it as securityIdentifier), on an AD- or hybrid-joined
    // device the AD SID of the object it is synchronised from.
    let on_premises = sid_of("onPremisesSecurityIdentifier");
    let sid = match kind {
        GraphKind::Users => Some(entra_sid(guid)),
        GraphKind::Groups => Some(sid_of("securityIdentifier").unwrap_or_else(|| entra_sid(guid))),
        // An Entra-joined device has no SID anyone grants rights to; a hybrid one has its AD SID.
        GraphKind::Devices => on_premises.clone(),
    };
    let upn = text("userPrincipalName");
    let name = text("displayName")
        .or_else(|| upn.clone())
        .unwrap_or_else(|| guid.to_string());
    let mut object = DirectoryObject::new(guid, kind.object_kind(), name);
    object.sid = sid;
    if kind != GraphKind::Devices {
        object.on_premises_sid = on_premises;
        object.immutable_id = text("onPremisesImmutableId");
    }
    object.upn = upn;
    object.sam_account_name = text("onPremisesSamAccountName");
    object.mail = text("mail");
    object.employee_id = text("employeeId");
    object.given_name = text("givenName");
    object.surname = text("surname");
    object.enabled = value.get("accountEnabled").and_then(Value::as_bool);
    if kind == GraphKind::Devices {
        object.operating_system = text("operatingSystem");
        object.device_id = text("deviceId");
    }
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cloud_user_gets_the_sid_derived_from_its_id() {
        let user = json!({"id": "73d664e4-0886-4a73-b745-c694da45ddb4", "displayName": "Ada",
            "userPrincipalName": "ada@contoso.com", "onPremisesSecurityIdentifier": null});
        let object = decode(GraphKind::Users, &user).expect("decodes");
        assert_eq!(
            object.sid.expect("has a SID").to_string(),
            "S-1-12-1-1943430372-1249052806-2496021943-3034400218"
        );
        assert_eq!(object.upn.as_deref(), Some("ada@contoso.com"));
    }

    #[test]
    fn a_hybrid_object_has_both_sids_and_its_anchor_and_a_device_without_one_has_none() {
        let user = json!({"id": "0b4c1a2e-1111-4a73-b745-c694da45ddb4", "displayName": "Bo",
            "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1104", "onPremisesSamAccountName": "bo",
            "onPremisesImmutableId": "CqEz6HhdyUCKf1tlj7v96A=="});
        let object = decode(GraphKind::Users, &user).expect("decodes");
        assert_eq!(
            object
                .on_premises_sid
                .as_ref()
                .map(|s| s.to_string())
                .as_deref(),
            Some("S-1-5-21-1-2-3-1104")
        );
        assert_eq!(
            object.sid.as_ref().map(|s| s.to_string()).as_deref(),
            Some("S-1-12-1-189536814-1249054993-2496021943-3034400218")
        );
        assert_eq!(object.sids().len(), 2);
        assert_eq!(
            object.immutable_id.as_deref(),
            Some("CqEz6HhdyUCKf1tlj7v96A==")
        );
        assert_eq!(object.sam_account_name.as_deref(), Some("bo"));
        let device = json!({"id": "0b4c1a2e-2222-4a73-b745-c694da45ddb4", "displayName": "PC1",
            "operatingSystem": "Windows"});
        let object = decode(GraphKind::Devices, &device).expect("decodes");
        assert_eq!(object.sid, None);
        assert_eq!(object.operating_system.as_deref(), Some("Windows"));
        assert!(decode(GraphKind::Users, &json!({"id": "not-a-guid"})).is_none());
    }
}
