-- Users and access (docs/security.md): the application's access mode and secrets, chat members, user
-- revocations, and who created a chat or sent a message. Keys lead with the application, as everywhere.

ALTER TABLE applications
    ADD COLUMN IF NOT EXISTS access ENUM('open', 'restricted') NOT NULL DEFAULT 'open';

-- Secrets are stored only as their SHA-256 (a secret is 64 random bytes, so a hash cannot be reversed
-- by guessing); `id` is their public handle. A revoked secret's row is deleted.
CREATE TABLE IF NOT EXISTS app_secrets (
    application_id BIGINT UNSIGNED NOT NULL,
    id             VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    hash           BINARY(32) NOT NULL,
    created_at     DATETIME(3) NOT NULL,
    last_used_at   DATETIME(3) NULL,
    PRIMARY KEY (application_id, id)
) ENGINE = InnoDB;

-- Who may reach a chat in a restricted application. A removal keeps its row (member = 0), so that the
-- worker's late insert of a chat's creator never brings a removed member back.
CREATE TABLE IF NOT EXISTS chat_members (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    user_id        VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    member         TINYINT(1) NOT NULL,
    added_at       DATETIME(3) NOT NULL,
    updated_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, chat_number, user_id),
    KEY by_user (application_id, user_id, chat_number)
) ENGINE = InnoDB;

-- A user's tokens issued before `revoked_before` are refused.
CREATE TABLE IF NOT EXISTS user_revocations (
    application_id BIGINT UNSIGNED NOT NULL,
    user_id        VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    revoked_before DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, user_id)
) ENGINE = InnoDB;

-- The user who created a chat (its first member) and the sender of a message; NULL without one.
ALTER TABLE chats
    ADD COLUMN IF NOT EXISTS creator VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS sender VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
