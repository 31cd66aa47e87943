//! Orders in SQL. Every change writes the order, its history row and its
//! outbox event in one transaction, so the three agree whatever fails.

use core_sdk::db::outbox::Outbox;
use core_sdk::db::sql::{IsolationLevel, SqlDatabase, TxOptions};
use core_sdk::error::{Error, Result};
use core_sdk::mq::Message;
use serde::Deserialize;
use uuid::Uuid;

use crate::events::{ORDER_CREATED, ORDER_STATUS_CHANGED, OrderEvent};
use crate::orders::{NewOrder, Order, OrderItem, StatusChange, now_millis, rfc3339};
use crate::status::OrderStatus;
use core_sdk::db::sql::EmbeddedMigration;

/// The schema of orders and their history (versions
/// 1_000_000_000+ are the order service's).
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[EmbeddedMigration {
    version: 1_000_000_001,
    description: "orders",
    sqlite: include_str!("migrations/sqlite/0001_orders.sql"),
    postgres: include_str!("migrations/postgres/0001_orders.sql"),
    mysql: include_str!("migrations/mysql/0001_orders.sql"),
}];

const ORDER_COLUMNS: &str =
    "id, user_id, status, items, total_cents, currency, version, created_at_ms, updated_at_ms";

/// Most orders one list answer holds.
pub(crate) const MAX_PAGE: u32 = 500;

#[derive(Debug, Deserialize)]
struct OrderRow {
    id: String,
    user_id: String,
    status: OrderStatus,
    items: String,
    total_cents: i64,
    currency: String,
    version: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl OrderRow {
    fn into_order(self) -> Result<Order> {
        let items: Vec<OrderItem> = serde_json::from_str(&self.items).map_err(|err| {
            Error::internal("a stored order has unreadable items")
                .with_key(format!("order:{}", self.id))
                .with_source(err)
        })?;
        Ok(Order {
            id: self.id,
            user_id: self.user_id,
            status: self.status,
            items,
            total_cents: self.total_cents,
            currency: self.currency,
            version: self.version,
            created_at: rfc3339(self.created_at_ms),
            updated_at: rfc3339(self.updated_at_ms),
            history: None,
        })
    }
}

#[derive(Debug, Deserialize)]
struct HistoryRow {
    from_status: Option<OrderStatus>,
    to_status: OrderStatus,
    changed_by: String,
    reason: Option<String>,
    changed_at_ms: i64,
}

/// Orders, their history and their events.
#[derive(Debug, Clone)]
pub(crate) struct OrderStore {
    db: SqlDatabase,
    outbox: Outbox,
    /// Where the events go.
    topic: String,
}

/// Read committed on every engine (the guarded update below needs no
/// more); on SQLite it also takes the write lock at BEGIN, so concurrent
/// writers wait instead of failing to upgrade a read lock.
fn write_options() -> TxOptions {
    TxOptions::default().isolation(IsolationLevel::ReadCommitted)
}

impl OrderStore {
    /// A store writing to `db`, with each change's event in `outbox`
    /// for `topic`.
    pub(crate) fn new(db: SqlDatabase, outbox: Outbox, topic: String) -> OrderStore {
        OrderStore { db, outbox, topic }
    }

    /// Places `order` for `user_id` (already validated).
    pub(crate) async fn create(&self, user_id: &str, order: &NewOrder) -> Result<Order> {
        let id = Uuid::now_v7().to_string();
        let now = now_millis();
        let total_cents = order.total_cents();
        let items = serde_json::to_string(&order.items)
            .map_err(|err| Error::internal("order items could not be encoded").with_source(err))?;
        let event = OrderEvent {
            event_type: ORDER_CREATED.to_string(),
            order_id: id.clone(),
            user_id: user_id.to_string(),
            from_status: None,
            to_status: OrderStatus::Created.to_string(),
            version: 1,
            total_cents,
            currency: order.currency.clone(),
            occurred_at: rfc3339(now),
        };
        let mut tx = self.db.begin_with(&write_options()).await?;
        tx.query(
            "INSERT INTO orders (id, user_id, status, items, total_cents, currency, version, \
             created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(id.as_str())
        .bind(user_id)
        .bind(OrderStatus::Created.as_str())
        .bind(items.as_str())
        .bind(total_cents)
        .bind(order.currency.as_str())
        .bind(now)
        .bind(now)
        .execute()
        .await?;
        tx.query(
            "INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, \
             reason, changed_at_ms) VALUES (?, NULL, ?, ?, NULL, ?)",
        )
        .bind(id.as_str())
        .bind(OrderStatus::Created.as_str())
        .bind(user_id)
        .bind(now)
        .execute()
        .await?;
        self.outbox
            .enqueue(&mut tx, &event_message(&self.topic, &event)?)
            .await?;
        tx.commit().await?;
        self.outbox.committed();
        Ok(Order {
            id,
            user_id: user_id.to_string(),
            status: OrderStatus::Created,
            items: order.items.clone(),
            total_cents,
            currency: order.currency.clone(),
            version: 1,
            created_at: rfc3339(now),
            updated_at: rfc3339(now),
            history: None,
        })
    }

    /// The order `id` with its history; `NotFound` when there is none.
    pub(crate) async fn get(&self, id: &str) -> Result<Order> {
        let select = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?");
        let row: Option<OrderRow> = self
            .db
            .query(&select)
            .bind(id)
            .on_primary()
            .fetch_optional_as()
            .await?;
        let mut order = row.ok_or_else(|| not_found(id))?.into_order()?;
        let history: Vec<HistoryRow> = self
            .db
            .query(
                "SELECT from_status, to_status, changed_by, reason, changed_at_ms \
                 FROM order_status_history WHERE order_id = ? ORDER BY seq",
            )
            .bind(id)
            .on_primary()
            .fetch_all_as()
            .await?;
        order.history = Some(
            history
                .into_iter()
                .map(|row| StatusChange {
                    from_status: row.from_status,
                    to_status: row.to_status,
                    changed_by: row.changed_by,
                    reason: row.reason,
                    changed_at: rfc3339(row.changed_at_ms),
                })
                .collect(),
        );
        Ok(order)
    }

    /// The newest `limit` orders, of `user_id` or of everyone.
    pub(crate) async fn list(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<Order>> {
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let rows: Vec<OrderRow> = match user_id {
            Some(user_id) => {
                let select = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? \
                     ORDER BY created_at_ms DESC, id DESC LIMIT ?"
                );
                self.db
                    .query(&select)
                    .bind(user_id)
                    .bind(limit)
                    .fetch_all_as()
                    .await?
            }
            None => {
                let select = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders ORDER BY created_at_ms DESC, id DESC LIMIT ?"
                );
                self.db.query(&select).bind(limit).fetch_all_as().await?
            }
        };
        rows.into_iter().map(OrderRow::into_order).collect()
    }

    /// Moves order `id` to `to` for `actor`, after `authorize` accepted the
    /// order as it stands.
    ///
    /// The history row and the event are written before the guarded
    /// update of the order itself: when that update finds the order at
    /// another version than expected (a concurrent change, or a stale
    /// `expected_version`), the whole transaction — event included — rolls
    /// back and the caller gets a `Conflict`.
    pub(crate) async fn change_status(
        &self,
        id: &str,
        change: StatusUpdate<'_>,
        authorize: impl FnOnce(&Order) -> Result<()>,
    ) -> Result<Order> {
        let mut tx = self.db.begin_with(&write_options()).await?;
        let select = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?");
        let row: Option<OrderRow> = tx.query(&select).bind(id).fetch_optional_as().await?;
        let mut order = row.ok_or_else(|| not_found(id))?.into_order()?;
        authorize(&order)?;
        let from = order.status;
        from.check_transition(change.to)?;
        let expected = change.expected_version.unwrap_or(order.version);
        let now = now_millis();
        tx.query(
            "INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, \
             reason, changed_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(change.to.as_str())
        .bind(change.actor)
        .bind(change.reason)
        .bind(now)
        .execute()
        .await?;
        let event = OrderEvent {
            event_type: ORDER_STATUS_CHANGED.to_string(),
            order_id: order.id.clone(),
            user_id: order.user_id.clone(),
            from_status: Some(from.to_string()),
            to_status: change.to.to_string(),
            version: expected + 1,
            total_cents: order.total_cents,
            currency: order.currency.clone(),
            occurred_at: rfc3339(now),
        };
        let updated = tx
            .query(
                "UPDATE orders SET status = ?, version = ?, updated_at_ms = ? \
                 WHERE id = ? AND version = ?",
            )
            .bind(change.to.as_str())
            .bind(expected + 1)
            .bind(now)
            .bind(id)
            .bind(expected)
            .execute()
            .await?;
        if updated != 1 {
            // Dropping `tx` rolls back the history row and the event too.
            return Err(Error::conflict(format!(
                "order {id} is no longer at version {expected}; read it again"
            ))
            .with_key(format!("order:{id}"))
            .with_context("expected_version", expected)
            .with_context("version", order.version));
        }
        // After the guarded update, whose row lock orders this order's
        // events: the outbox publishes one key's rows in the order written.
        self.outbox
            .enqueue(&mut tx, &event_message(&self.topic, &event)?)
            .await?;
        tx.commit().await?;
        self.outbox.committed();
        order.status = change.to;
        order.version = expected + 1;
        order.updated_at = rfc3339(now);
        Ok(order)
    }
}

/// A requested status change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusUpdate<'a> {
    pub(crate) to: OrderStatus,
    pub(crate) expected_version: Option<i64>,
    pub(crate) reason: Option<&'a str>,
    /// Who asks, for the history.
    pub(crate) actor: &'a str,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("no order {id}")).with_key(format!("order:{id}"))
}

/// The message carrying `event`: JSON, keyed by the order so one order's
/// events arrive in order, its type in a header for routing without
/// decoding the body.
fn event_message(topic: &str, event: &OrderEvent) -> Result<Message> {
    Ok(Message::json(topic, event)?
        .with_key(event.order_id.clone())
        .with_header("event-type", event.event_type.clone()))
}
