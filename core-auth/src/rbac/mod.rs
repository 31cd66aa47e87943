//! Role-based access control: roles grant permissions, roles inherit roles.
//!
//! Roles are defined in configuration ([`RbacSettings`]) and resolved once,
//! when [`Rbac`] is built: inheritance is flattened, unknown parents and
//! cycles are configuration errors, and every permission is parsed. A
//! principal holds a permission when one of its roles, or one of its scopes,
//! grants it.

mod permission;

pub use permission::Permission;

use std::collections::{BTreeMap, HashMap};

use core_error::{Error, Result};
use serde::Deserialize;

use crate::Principal;

/// The `auth.rbac` settings section: every role by name.
///
/// ```
/// use core_auth::rbac::{Rbac, RbacSettings};
/// use core_auth::Principal;
///
/// let settings: RbacSettings = serde_json::from_str(r#"{"roles": {
///     "viewer": {"permissions": ["orders:read"]},
///     "clerk":  {"inherits": ["viewer"], "permissions": ["orders:create"]},
///     "admin":  {"permissions": ["*"]}
/// }}"#).unwrap();
/// let rbac = Rbac::from_settings(&settings).unwrap();
/// let clerk = Principal::new("u1").with_roles(["clerk"]);
/// assert!(rbac.has_permission(&clerk, "orders:read"));
/// assert!(!rbac.has_permission(&clerk, "orders:delete"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RbacSettings {
    /// Roles by name.
    pub roles: BTreeMap<String, RoleSettings>,
}

/// One role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleSettings {
    /// Roles whose permissions this one also has.
    pub inherits: Vec<String>,
    /// Permissions and patterns (`orders:*`) this role grants.
    pub permissions: Vec<String>,
}

/// Something a permission check can be about; the resource-level hook.
///
/// ```
/// use core_auth::rbac::Resource;
///
/// struct Order { customer: String }
/// impl Resource for Order {
///     fn owner(&self) -> Option<&str> { Some(&self.customer) }
/// }
/// ```
pub trait Resource {
    /// The subject that owns this resource, if any. Its owner may act on it
    /// without holding the permission.
    fn owner(&self) -> Option<&str>;
}

/// Resolved roles, ready to answer permission checks.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    roles: HashMap<String, Vec<Permission>>,
}

impl Rbac {
    /// Resolves `settings`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput), naming the role,
    /// for an invalid permission, a parent role that does not exist, or an
    /// inheritance cycle.
    pub fn from_settings(settings: &RbacSettings) -> Result<Rbac> {
        let mut roles = HashMap::with_capacity(settings.roles.len());
        for name in settings.roles.keys() {
            let mut granted = Vec::new();
            collect(settings, name, &mut Vec::new(), &mut granted)?;
            granted.dedup();
            roles.insert(name.clone(), granted);
        }
        Ok(Rbac { roles })
    }

    /// Every permission pattern `role` grants, inherited ones included.
    pub fn permissions_of(&self, role: &str) -> Option<&[Permission]> {
        self.roles.get(role).map(Vec::as_slice)
    }

    /// Whether `principal` holds `permission` through a role or a scope.
    ///
    /// An invalid `permission` is never held; unknown roles grant nothing;
    /// invalid scopes are ignored.
    pub fn has_permission(&self, principal: &Principal, permission: &str) -> bool {
        let Ok(wanted) = Permission::parse(permission) else {
            return false;
        };
        let by_role = principal
            .roles
            .iter()
            .filter_map(|role| self.roles.get(role))
            .flatten()
            .any(|granted| granted.grants(&wanted));
        by_role
            || principal
                .scopes
                .iter()
                .filter_map(|scope| Permission::parse(scope).ok())
                .any(|granted| granted.grants(&wanted))
    }

    /// `Ok` when `principal` holds `permission`.
    ///
    /// # Errors
    ///
    /// [`PermissionDenied`](core_error::ErrorKind::PermissionDenied) naming
    /// the permission.
    pub fn require(&self, principal: &Principal, permission: &str) -> Result<()> {
        if self.has_permission(principal, permission) {
            return Ok(());
        }
        Err(
            Error::permission_denied(format!("the permission {permission:?} is required"))
                .with_operation("auth.require_permission")
                .with_context("permission", permission),
        )
    }

    /// `Ok` when `principal` owns `resource` or holds `permission`.
    ///
    /// ```
    /// use core_auth::rbac::{Rbac, RbacSettings, Resource};
    /// use core_auth::Principal;
    ///
    /// struct Order { customer: String }
    /// impl Resource for Order {
    ///     fn owner(&self) -> Option<&str> { Some(&self.customer) }
    /// }
    ///
    /// let rbac = Rbac::from_settings(&RbacSettings::default()).unwrap();
    /// let order = Order { customer: "ada".into() };
    /// assert!(rbac.authorize(&Principal::new("ada"), "orders:cancel", &order).is_ok());
    /// assert!(rbac.authorize(&Principal::new("bob"), "orders:cancel", &order).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`require`](Rbac::require).
    pub fn authorize<R: Resource + ?Sized>(
        &self,
        principal: &Principal,
        permission: &str,
        resource: &R,
    ) -> Result<()> {
        if resource
            .owner()
            .is_some_and(|owner| !owner.is_empty() && owner == principal.subject)
        {
            return Ok(());
        }
        self.require(principal, permission)
    }
}

/// Adds the permissions of `name` and its ancestors to `granted`; `path`
/// is the chain of roles being resolved, to find cycles.
fn collect(
    settings: &RbacSettings,
    name: &str,
    path: &mut Vec<String>,
    granted: &mut Vec<Permission>,
) -> Result<()> {
    let bad_role = |why: String| {
        Error::invalid_input(why)
            .with_operation("auth.load_roles")
            .with_key(format!("auth.rbac.roles.{name}"))
    };
    if path.iter().any(|seen| seen == name) {
        path.push(name.to_string());
        return Err(bad_role(format!(
            "roles inherit in a cycle: {}",
            path.join(" -> ")
        )));
    }
    let role = settings.roles.get(name).ok_or_else(|| {
        bad_role(format!(
            "the role {:?} inherits from {name:?}, which is not defined",
            path.last().map(String::as_str).unwrap_or_default()
        ))
    })?;
    for text in &role.permissions {
        let permission = Permission::parse(text)
            .map_err(|err| bad_role(format!("role {name:?}: {}", err.message())))?;
        if !granted.contains(&permission) {
            granted.push(permission);
        }
    }
    path.push(name.to_string());
    for parent in &role.inherits {
        collect(settings, parent, path, granted)?;
    }
    path.pop();
    Ok(())
}
