-- Stored messages whose search document still has to be written (the index outbox). The worker
-- stores a batch in MariaDB and acknowledges it whether or not Elasticsearch took its documents;
-- those it could not index are recorded here, in a transaction of their own right after the batch's
-- (a crash in between leaves the delivery unacknowledged, so the redelivery indexes again), and the
-- worker's index catch-up writes them from the message rows as they are then. `version` grows with
-- every record, so the catch-up deletes only what it has indexed.
CREATE TABLE IF NOT EXISTS index_outbox (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    number         BIGINT UNSIGNED NOT NULL,
    version        BIGINT UNSIGNED NOT NULL DEFAULT 1,
    queued_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, chat_number, number),
    KEY by_age (queued_at)
) ENGINE = InnoDB DEFAULT CHARSET = ascii;
