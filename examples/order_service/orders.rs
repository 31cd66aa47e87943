//! What an order is, and what a request to place one must hold.

use core_sdk::auth::rbac::Resource;
use core_sdk::error::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::status::OrderStatus;
use core_sdk::web::FIELD;

/// Most lines one order may have.
const MAX_ITEMS: usize = 100;
/// Most units of one line.
const MAX_QUANTITY: i64 = 10_000;
/// Highest price of one unit, in cents (one million in the currency).
const MAX_UNIT_PRICE_CENTS: i64 = 100_000_000;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderItem {
    pub(crate) sku: String,
    pub(crate) quantity: i64,
    pub(crate) unit_price_cents: i64,
}

/// `POST /api/v1/orders` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrder {
    pub(crate) items: Vec<OrderItem>,
    /// ISO 4217, three capital letters.
    pub(crate) currency: String,
}

impl NewOrder {
    /// Checks every field, naming the first bad one (`items[2].quantity`).
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |field: String, why: &str| Err(invalid_field(&field, why));
        if self.items.is_empty() {
            return invalid("items".into(), "an order needs at least one item");
        }
        if self.items.len() > MAX_ITEMS {
            return invalid("items".into(), &format!("at most {MAX_ITEMS} items"));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return invalid("currency".into(), "three capital letters, such as EUR");
        }
        for (index, item) in self.items.iter().enumerate() {
            let sku = item.sku.trim();
            if sku.is_empty() || sku.len() > 64 {
                return invalid(format!("items[{index}].sku"), "1 to 64 characters");
            }
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                return invalid(
                    format!("items[{index}].quantity"),
                    &format!("between 1 and {MAX_QUANTITY}"),
                );
            }
            if !(0..=MAX_UNIT_PRICE_CENTS).contains(&item.unit_price_cents) {
                return invalid(
                    format!("items[{index}].unit_price_cents"),
                    &format!("between 0 and {MAX_UNIT_PRICE_CENTS}"),
                );
            }
        }
        Ok(())
    }

    /// The sum of the lines; cannot overflow within the limits `validate` checks.
    pub(crate) fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|item| item.quantity * item.unit_price_cents)
            .sum()
    }
}

/// An order as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Order {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) status: OrderStatus,
    pub(crate) items: Vec<OrderItem>,
    pub(crate) total_cents: i64,
    pub(crate) currency: String,
    /// Goes up by one with every change; `PATCH .../status` may name the
    /// version it read (`expected_version`) to refuse a lost update.
    pub(crate) version: i64,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// Oldest first; only on single-order answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) history: Option<Vec<StatusChange>>,
}

impl Resource for Order {
    fn owner(&self) -> Option<&str> {
        Some(&self.user_id)
    }
}

/// One row of an order's status history.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StatusChange {
    pub(crate) from_status: Option<OrderStatus>,
    pub(crate) to_status: OrderStatus,
    pub(crate) changed_by: String,
    pub(crate) reason: Option<String>,
    pub(crate) changed_at: String,
}

/// `PATCH /api/v1/orders/{id}/status` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusRequest {
    pub(crate) status: String,
    /// The version the caller last read; the change is refused (409) if the
    /// order has changed since.
    pub(crate) expected_version: Option<i64>,
    /// Why, for the history (a cancellation's reason, a tracking number).
    pub(crate) reason: Option<String>,
}

impl StatusRequest {
    /// The target status, and the reason checked for length.
    pub(crate) fn validate(&self) -> Result<OrderStatus> {
        if let Some(reason) = &self.reason
            && reason.chars().count() > 500
        {
            return Err(invalid_field("reason", "at most 500 characters"));
        }
        OrderStatus::parse(&self.status, "status")
    }
}

/// 422 naming `field` (core-web's error body).
pub(crate) fn invalid_field(field: &str, why: &str) -> Error {
    Error::invalid_input(format!("{field}: {why}")).with_context(FIELD, field)
}

/// Milliseconds since the epoch as RFC 3339, as every timestamp in the API.
pub(crate) fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
