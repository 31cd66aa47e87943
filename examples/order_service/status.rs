//! The order state machine: created → paid → shipped → delivered, and
//! cancelled from created or paid.

use std::fmt;

use core_sdk::error::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::orders::invalid_field;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OrderStatus {
    Created,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// Every status, in the order of the machine.
    pub(crate) const ALL: [OrderStatus; 5] = [
        OrderStatus::Created,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The name the API and the database use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `text`, or an error naming `field` and the valid names.
    pub(crate) fn parse(text: &str, field: &str) -> Result<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                invalid_field(
                    field,
                    &format!(
                        "{text:?} is not a status; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// Whether an order may go from `self` to `next`. Cancelling is allowed
    /// until the parcel has left.
    pub(crate) fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::{Cancelled, Created, Delivered, Paid, Shipped};
        matches!(
            (self, next),
            (Created, Paid) | (Paid, Shipped) | (Shipped, Delivered) | (Created | Paid, Cancelled)
        )
    }

    /// `Ok` when `self → next` is a transition of the machine; a `Conflict`
    /// naming both ends otherwise.
    pub(crate) fn check_transition(self, next: OrderStatus) -> Result<()> {
        if self.can_become(next) {
            return Ok(());
        }
        Err(
            Error::conflict(format!("an order cannot go from {self} to {next}"))
                .with_context("from", self)
                .with_context("to", next),
        )
    }

    /// Shipping and delivery are done by the warehouse, not by the customer.
    pub(crate) fn is_fulfilment(self) -> bool {
        matches!(self, OrderStatus::Shipped | OrderStatus::Delivered)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
