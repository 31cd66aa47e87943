-- Orders and their status history (PostgreSQL); the outbox table is the SDK's (`Outbox::install`).
CREATE TABLE orders (
    id VARCHAR(36) PRIMARY KEY,
    user_id VARCHAR(128) NOT NULL,
    status VARCHAR(16) NOT NULL,
    items TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    version BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at_ms);

CREATE TABLE order_status_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id VARCHAR(36) NOT NULL REFERENCES orders (id),
    from_status VARCHAR(16),
    to_status VARCHAR(16) NOT NULL,
    changed_by VARCHAR(128) NOT NULL,
    reason TEXT,
    changed_at_ms BIGINT NOT NULL
);
CREATE INDEX order_status_history_by_order ON order_status_history (order_id, seq);
