-- Message lifecycle (docs/architecture.md, "Deletes, edits and read state"): deletions that erase,
-- edit history, read markers, chat deletion, user erasure and retention.

-- A deleted message keeps its row as a tombstone: its number stays taken, its body is erased (''),
-- and deleted_at is set. A creation that arrives after its deletion finds the tombstone and changes
-- nothing (the delete wins whatever the order). version counts the bodies a message had (1 when
-- created); edited_at is the time of the last edit.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS deleted_at DATETIME(3) NULL,
    ADD COLUMN IF NOT EXISTS version INT UNSIGNED NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS edited_at DATETIME(3) NULL,
    ADD INDEX IF NOT EXISTS by_sender (application_id, sender),
    ADD INDEX IF NOT EXISTS by_age (application_id, created_at);

-- The bodies a message had before its current one (version 1 is the body it was created with). A
-- deletion erases them with the message.
CREATE TABLE IF NOT EXISTS message_versions (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    number         BIGINT UNSIGNED NOT NULL,
    version        INT UNSIGNED NOT NULL,
    body           TEXT NOT NULL,
    at             DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, chat_number, number, version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A deleted chat keeps its row (its number stays taken); its messages are erased by the erasure job.
ALTER TABLE chats ADD COLUMN IF NOT EXISTS deleted_at DATETIME(3) NULL;

-- Messages older than retention_days are erased by a scheduled job (NULL: kept for ever).
ALTER TABLE applications ADD COLUMN IF NOT EXISTS retention_days INT UNSIGNED NULL;

-- Read markers: the highest number each user has read in a chat (they only move forward). Redis holds
-- the live value; the worker writes it here, the copy a Redis loss is recovered from.
CREATE TABLE IF NOT EXISTS read_markers (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    user_id        VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    number         BIGINT UNSIGNED NOT NULL,
    updated_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, chat_number, user_id)
) ENGINE = InnoDB;

-- Background erasures (a chat, a user, retention): what is left to erase, in bounded batches, by one
-- worker at a time. kind: 'chat' (chat_number), 'user' (user_id).
CREATE TABLE IF NOT EXISTS erasures (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    application_id BIGINT UNSIGNED NOT NULL,
    kind           ENUM('chat', 'user') NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    user_id        VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    requested_at   DATETIME(3) NOT NULL,
    finished_at    DATETIME(3) NULL,
    erased         BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY one_per_subject (application_id, kind, chat_number, user_id),
    KEY unfinished (finished_at)
) ENGINE = InnoDB;
