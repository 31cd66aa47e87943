-- One row per notification; the unique message id is the dedup store (MySQL, MariaDB).
CREATE TABLE notifications (
    seq BIGINT AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(36) NOT NULL UNIQUE,
    order_id VARCHAR(36) NOT NULL,
    user_id VARCHAR(128) NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    body TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    INDEX notifications_by_order (order_id, seq)
);
