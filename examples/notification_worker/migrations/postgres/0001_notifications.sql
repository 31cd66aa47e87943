-- One row per notification; the unique message id is the dedup store (PostgreSQL).
CREATE TABLE notifications (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id VARCHAR(36) NOT NULL UNIQUE,
    order_id VARCHAR(36) NOT NULL,
    user_id VARCHAR(128) NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    body TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX notifications_by_order ON notifications (order_id, seq);
