//! The audit trail: who did what, when, and how it ended.
//!
//! An audit event is an ordinary `tracing` event with target [`AUDIT_TARGET`];
//! with [`AuditSettings::enabled`](crate::AuditSettings::enabled) it goes only
//! to the audit file (JSON, its own retention, a queue that blocks rather than
//! drop), otherwise to the ordinary outputs whatever their level — and then
//! too it waits for room in their queues rather than follow a `drop`
//! overflow policy. The timestamp of the line is the "when"; the fields bound
//! with [`LogContext`](crate::LogContext) (`request_id`, `trace_id`, ...) go
//! with it under `context`.

use std::fmt;

/// The target that marks an event as an audit event.
pub const AUDIT_TARGET: &str = "audit";

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It was carried out.
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused for lack of permission.
    Denied,
}

impl AuditOutcome {
    /// The value written in the `outcome` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit trail.
///
/// ```
/// use core_log::{AuditEvent, AuditOutcome};
///
/// AuditEvent::new("alice", "user.delete", AuditOutcome::Success)
///     .resource("user:42")
///     .record();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent<'a> {
    actor: &'a str,
    action: &'a str,
    outcome: AuditOutcome,
    resource: Option<&'a str>,
    reason: Option<&'a str>,
}

impl<'a> AuditEvent<'a> {
    /// `actor` (who) did `action` (what), which ended in `outcome`.
    pub fn new(actor: &'a str, action: &'a str, outcome: AuditOutcome) -> AuditEvent<'a> {
        AuditEvent {
            actor,
            action,
            outcome,
            resource: None,
            reason: None,
        }
    }

    /// What the action was done to, such as `user:42`.
    #[must_use]
    pub fn resource(mut self, resource: &'a str) -> AuditEvent<'a> {
        self.resource = Some(resource);
        self
    }

    /// Why it was denied or failed; never put a secret here.
    #[must_use]
    pub fn reason(mut self, reason: &'a str) -> AuditEvent<'a> {
        self.reason = Some(reason);
        self
    }

    /// Writes the event to the audit trail.
    pub fn record(&self) {
        tracing::info!(
            target: AUDIT_TARGET,
            actor = self.actor,
            action = self.action,
            outcome = self.outcome.as_str(),
            resource = self.resource,
            reason = self.reason,
            "{} {}: {}",
            self.actor,
            self.action,
            self.outcome
        );
    }
}
