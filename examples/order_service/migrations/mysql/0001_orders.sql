-- Orders and their status history (MySQL, MariaDB); the outbox table is the SDK's (`Outbox::install`).
CREATE TABLE orders (
    id VARCHAR(36) PRIMARY KEY,
    user_id VARCHAR(128) NOT NULL,
    status VARCHAR(16) NOT NULL,
    items TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    version BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    INDEX orders_by_user (user_id, created_at_ms)
);

CREATE TABLE order_status_history (
    seq BIGINT AUTO_INCREMENT PRIMARY KEY,
    order_id VARCHAR(36) NOT NULL,
    from_status VARCHAR(16),
    to_status VARCHAR(16) NOT NULL,
    changed_by VARCHAR(128) NOT NULL,
    reason TEXT,
    changed_at_ms BIGINT NOT NULL,
    INDEX order_status_history_by_order (order_id, seq),
    FOREIGN KEY (order_id) REFERENCES orders (id)
);
