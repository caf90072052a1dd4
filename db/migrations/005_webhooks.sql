-- Signed webhooks (docs/webhooks.md): endpoints an application registers, and the outbox of what is
-- to be delivered to each, written in the same transaction as the change that caused the event.

-- An endpoint. `id` is internal (clients see public_id, "wh_…"). The signing secret ("whsec_…") must be
-- kept readable to sign with; after a rotation the previous one signs beside it until previous_until.
CREATE TABLE IF NOT EXISTS webhooks (
    application_id  BIGINT UNSIGNED NOT NULL,
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    url             VARCHAR(2048) NOT NULL,
    events          VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- kinds, comma-separated, or '*'
    signing_secret  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    previous_secret VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    previous_until  DATETIME(3) NULL,
    enabled         TINYINT(1) NOT NULL DEFAULT 1,
    disabled_reason VARCHAR(512) NULL,
    disabled_at     DATETIME(3) NULL,
    created_at      DATETIME(3) NOT NULL,
    updated_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, id),
    UNIQUE KEY by_id (id),
    UNIQUE KEY by_public_id (public_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One event to deliver to one endpoint. seq is the order of recording: the events of one chat
-- (chat_number; 0 for application-wide ones) reach an endpoint in seq order, one at a time.
-- message_id is the webhook-id header, the same across retries and replays; (webhook_id, message_id)
-- is unique, so a redelivered queue event records nothing twice. A delivery is first due a moment
-- after it is recorded, so an earlier event of the chat that another worker is committing at the same
-- time is seen first.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    application_id  BIGINT UNSIGNED NOT NULL,
    webhook_id      BIGINT UNSIGNED NOT NULL,
    seq             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    message_id      VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event           VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    chat_number     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    payload         MEDIUMTEXT NOT NULL,
    created_at      DATETIME(3) NOT NULL,  -- when the event happened (the retry window counts from it)
    status          ENUM('pending', 'delivered', 'failed') NOT NULL DEFAULT 'pending',
    attempts        INT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(3) NOT NULL,
    pending_since   DATETIME(3) NOT NULL,  -- recorded, replayed or re-enabled: the retry window counts from it
    lease_until     DATETIME(3) NULL,      -- a sender holds it until then
    lease_owner     CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL,  -- which sender
    last_status     INT NULL,              -- the last attempt's HTTP status (NULL: no answer)
    last_error      VARCHAR(255) NULL,
    delivered_at    DATETIME(3) NULL,
    PRIMARY KEY (application_id, webhook_id, seq),
    UNIQUE KEY by_seq (seq),
    UNIQUE KEY by_message (webhook_id, message_id),
    KEY due (status, next_attempt_at),
    KEY by_chat (webhook_id, chat_number, status, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every attempt, for GET …/webhooks/{id}/deliveries.
CREATE TABLE IF NOT EXISTS webhook_attempts (
    application_id BIGINT UNSIGNED NOT NULL,
    webhook_id     BIGINT UNSIGNED NOT NULL,
    seq            BIGINT UNSIGNED NOT NULL,  -- the delivery
    attempt        INT UNSIGNED NOT NULL,
    at             DATETIME(3) NOT NULL,
    duration_ms    INT UNSIGNED NOT NULL,
    status_code    INT NULL,
    error          VARCHAR(255) NULL,
    PRIMARY KEY (application_id, webhook_id, seq, attempt)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
