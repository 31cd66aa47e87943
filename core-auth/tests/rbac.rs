//! Roles from configuration: inheritance, wildcards, scopes, the owner hook,
//! and configuration errors.

use core_auth::rbac::{Rbac, RbacSettings, Resource};
use core_auth::{ErrorKind, Principal};

fn rbac() -> Rbac {
    let settings: RbacSettings = serde_json::from_str(
        r#"{"roles": {
            "viewer":  {"permissions": ["orders:read", "invoices:read"]},
            "clerk":   {"inherits": ["viewer"], "permissions": ["orders:create"]},
            "manager": {"inherits": ["clerk"], "permissions": ["orders:*"]},
            "auditor": {"permissions": ["*:read"]},
            "admin":   {"permissions": ["*"]}
        }}"#,
    )
    .unwrap();
    Rbac::from_settings(&settings).unwrap()
}

fn as_role(role: &str) -> Principal {
    Principal::new("user-1").with_roles([role])
}

#[test]
fn inheritance_is_transitive() {
    let rbac = rbac();
    let manager = as_role("manager");
    assert!(
        rbac.has_permission(&manager, "invoices:read"),
        "from viewer, two levels up"
    );
    assert!(rbac.has_permission(&manager, "orders:create"), "from clerk");
    let clerk = as_role("clerk");
    assert!(rbac.has_permission(&clerk, "orders:read"));
    assert!(!rbac.has_permission(&clerk, "orders:delete"));
    assert!(
        !rbac.has_permission(&as_role("viewer"), "orders:create"),
        "no downward inheritance"
    );
    assert_eq!(rbac.permissions_of("clerk").unwrap().len(), 3);
}

#[test]
fn wildcards_match_by_segment() {
    let rbac = rbac();
    let manager = as_role("manager");
    assert!(rbac.has_permission(&manager, "orders:delete"));
    assert!(
        rbac.has_permission(&manager, "orders:items:refund"),
        "a trailing * spans segments"
    );
    assert!(
        !rbac.has_permission(&manager, "orders"),
        "orders:* needs a segment after orders"
    );
    assert!(!rbac.has_permission(&manager, "ordersx:read"));
    let auditor = as_role("auditor");
    assert!(rbac.has_permission(&auditor, "payroll:read"));
    assert!(!rbac.has_permission(&auditor, "payroll:write"));
    assert!(
        !rbac.has_permission(&auditor, "payroll:read:all"),
        "a middle * is one segment"
    );
    assert!(rbac.has_permission(&as_role("admin"), "anything:at:all"));
}

#[test]
fn scopes_grant_and_unknown_roles_grant_nothing() {
    let rbac = rbac();
    let scoped = Principal::new("svc").with_scopes(["reports:*"]);
    assert!(rbac.has_permission(&scoped, "reports:export"));
    assert!(!rbac.has_permission(&scoped, "orders:read"));
    assert!(!rbac.has_permission(&as_role("ghost"), "orders:read"));
    assert!(
        !rbac.has_permission(&as_role("admin"), "bad permission!"),
        "invalid is never held"
    );
}

#[test]
fn require_denies_with_permission_denied_naming_the_permission() {
    let rbac = rbac();
    assert!(rbac.require(&as_role("clerk"), "orders:create").is_ok());
    let err = rbac
        .require(&as_role("clerk"), "orders:delete")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.http_status(), 403);
    assert_eq!(err.context_value("permission"), Some("orders:delete"));
}

struct Order {
    customer: String,
}

impl Resource for Order {
    fn owner(&self) -> Option<&str> {
        Some(&self.customer)
    }
}

#[test]
fn the_owner_or_a_permission_holder_is_authorized() {
    let rbac = rbac();
    let order = Order {
        customer: "ada".into(),
    };
    assert!(
        rbac.authorize(&Principal::new("ada"), "orders:cancel", &order)
            .is_ok()
    );
    assert!(
        rbac.authorize(
            &Principal::new("bob").with_roles(["manager"]),
            "orders:cancel",
            &order
        )
        .is_ok()
    );
    let err = rbac
        .authorize(
            &Principal::new("bob").with_roles(["viewer"]),
            "orders:cancel",
            &order,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let unowned = Order {
        customer: String::new(),
    };
    assert!(
        rbac.authorize(&Principal::new(""), "orders:cancel", &unowned)
            .is_err(),
        "empty owner matches no one"
    );
}

#[test]
fn bad_role_configuration_is_refused_with_the_culprit() {
    let cases = [
        (
            r#"{"roles": {"a": {"inherits": ["b"]}, "b": {"inherits": ["a"]}}}"#,
            "cycle",
        ),
        (r#"{"roles": {"a": {"inherits": ["a"]}}}"#, "cycle"),
        (
            r#"{"roles": {"a": {"inherits": ["missing"]}}}"#,
            "\"missing\", which is not defined",
        ),
        (
            r#"{"roles": {"a": {"permissions": ["orders:re*d"]}}}"#,
            "orders:re*d",
        ),
        (
            r#"{"roles": {"a": {"permissions": ["orders::read"]}}}"#,
            "empty",
        ),
    ];
    for (json, reason) in cases {
        let settings: RbacSettings = serde_json::from_str(json).unwrap();
        let err = Rbac::from_settings(&settings).expect_err(json);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains(reason), "{json}: {err}");
    }
    assert!(
        serde_json::from_str::<RbacSettings>(r#"{"roles": {"a": {"permisions": []}}}"#).is_err()
    );
}
