-- Schema v1. Every key leads with the application so the data can be sharded by it; no foreign keys,
-- so a message may be stored before its chat row (the queue gives no ordering between them).

CREATE TABLE IF NOT EXISTS applications (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    token       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name        VARCHAR(255) NOT NULL,
    chats_count INT UNSIGNED NOT NULL DEFAULT 0,
    created_at  DATETIME(3) NOT NULL,
    updated_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_applications_token (token)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS chats (
    application_id BIGINT UNSIGNED NOT NULL,
    number         BIGINT UNSIGNED NOT NULL,
    messages_count INT UNSIGNED NOT NULL DEFAULT 0,
    creation_id    CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at     DATETIME(3) NOT NULL,
    updated_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, number)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS messages (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    number         BIGINT UNSIGNED NOT NULL,
    body           TEXT NOT NULL,
    creation_id    CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at     DATETIME(3) NOT NULL,
    updated_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (application_id, chat_number, number)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Which count columns need a refresh. Written in the worker's batch transaction; read and cleared by
-- the count refresh job. chat_number = 0 stands for the application's chats_count. `version` grows on
-- every mark, so the job only deletes a mark it has fully accounted for.
CREATE TABLE IF NOT EXISTS count_marks (
    application_id BIGINT UNSIGNED NOT NULL,
    chat_number    BIGINT UNSIGNED NOT NULL,
    version        BIGINT UNSIGNED NOT NULL DEFAULT 1,
    PRIMARY KEY (application_id, chat_number)
) ENGINE = InnoDB DEFAULT CHARSET = ascii;
