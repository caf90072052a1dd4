#pragma once
#include <cstdint>
#include <string>

namespace chat::core {

// Milliseconds since the Unix epoch, wall clock (used for created_at/updated_at).
std::int64_t now_ms();
// ISO 8601 UTC with milliseconds: 2026-11-28T03:22:28.123Z
std::string iso8601(std::int64_t epoch_ms);
// "YYYY-MM-DD HH:MM:SS.mmm" for MariaDB DATETIME(3) columns (stored as UTC).
std::string sql_datetime(std::int64_t epoch_ms);
// Parses the MariaDB DATETIME(3) text form back to epoch milliseconds (UTC); -1 when malformed.
std::int64_t parse_sql_datetime(const std::string& s);

}  // namespace chat::core
