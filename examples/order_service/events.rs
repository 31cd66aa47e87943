//! The order events: the contract between the order service, which writes
//! them to its outbox, and the notification worker, which consumes them.
//!
//! Statuses travel as plain strings so a consumer never dead-letters an
//! event only because the producer learned a new status.

use serde::{Deserialize, Serialize};

/// An order was placed.
pub(crate) const ORDER_CREATED: &str = "order.created";
/// An order moved to another status.
pub(crate) const ORDER_STATUS_CHANGED: &str = "order.status_changed";
/// Every event type a consumer of this version understands.
pub(crate) const EVENT_TYPES: [&str; 2] = [ORDER_CREATED, ORDER_STATUS_CHANGED];

/// One change of one order, carried by a JSON message keyed by the order
/// id (the order service's `store.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrderEvent {
    /// [`ORDER_CREATED`] or [`ORDER_STATUS_CHANGED`].
    pub(crate) event_type: String,
    pub(crate) order_id: String,
    /// The customer the order belongs to.
    pub(crate) user_id: String,
    /// The status before the change; `None` for a new order.
    pub(crate) from_status: Option<String>,
    pub(crate) to_status: String,
    /// The order's version after the change: consumers can tell the order
    /// of two events of one order by it.
    pub(crate) version: i64,
    pub(crate) total_cents: i64,
    pub(crate) currency: String,
    /// RFC 3339.
    pub(crate) occurred_at: String,
}
