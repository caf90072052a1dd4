#include "store/access_repository.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace chat::store {

using core::sql_datetime;

namespace {

std::int64_t ms(const std::optional<std::string>& v) {
    return v ? core::parse_sql_datetime(*v) : 0;
}

// 64 hex digits back to a digest; false when the text is not that.
bool from_hex(const std::string& text, core::digest& out) {
    if (text.size() != out.size() * 2) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return true;
}

std::string insert_secret_sql(std::uint64_t app_id, const domain::secret_record& s) {
    // The id is ours (make_secret_id: base64url), the hash hex: nothing to escape.
    return fmt::format(
        "INSERT INTO app_secrets (application_id, id, hash, created_at) VALUES ({}, '{}', UNHEX('{}'), '{}')",
        app_id, s.id, core::to_hex(s.hash), sql_datetime(s.created_at_ms));
}

}  // namespace

core::result<std::optional<domain::app_access>> load_app_access(mysql_connection& db,
                                                                const std::string& token) {
    auto t = db.quote(token);
    if (!t) return t.error();
    auto rows = db.query(fmt::format(
        "SELECT a.id, a.access, s.id, HEX(s.hash), s.created_at FROM applications a "
        "LEFT JOIN app_secrets s ON s.application_id = a.id WHERE a.token = {} ORDER BY s.created_at, s.id",
        *t));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<domain::app_access>{};
    domain::app_access app;
    app.app_id = to_u64(rows->front()[0]);
    app.token = token;
    app.mode =
        domain::parse_access_mode(rows->front()[1].value_or("")).value_or(domain::access_mode::restricted);
    for (const auto& r : *rows) {
        if (!r[2]) continue;  // an application without secrets (created before they existed)
        domain::secret_record s;
        s.id = *r[2];
        if (!from_hex(r[3].value_or(""), s.hash)) continue;
        s.created_at_ms = ms(r[4]);
        app.secrets.push_back(std::move(s));
    }
    return std::optional<domain::app_access>{std::move(app)};
}

core::result<std::uint64_t> insert_app_with_secret(mysql_connection& db, const std::string& token,
                                                   const std::string& name, std::int64_t now_ms,
                                                   const domain::secret_record& secret) {
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    auto id = insert_app(db, token, name, now_ms);
    if (!id) return id.error();
    if (auto ok = db.execute(insert_secret_sql(*id, secret)); !ok) return ok.error();
    if (auto ok = tx.commit(); !ok) return ok.error();
    return id;
}

core::result<void> insert_secret(mysql_connection& db, std::uint64_t app_id,
                                 const domain::secret_record& secret) {
    auto r = db.execute(insert_secret_sql(app_id, secret));
    if (!r) return r.error();
    return {};
}

core::result<secret_deletion> delete_secret(mysql_connection& db, std::uint64_t app_id,
                                            const std::string& id) {
    auto quoted = db.quote(id);
    if (!quoted) return quoted.error();
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    // Locks the application's secrets, so two deletions at once cannot leave it with none.
    auto rows =
        db.query(fmt::format("SELECT id FROM app_secrets WHERE application_id = {} FOR UPDATE", app_id));
    if (!rows) return rows.error();
    bool found = false;
    for (const auto& r : *rows) found = found || r[0] == id;
    if (!found) return secret_deletion::not_found;
    if (rows->size() == 1) return secret_deletion::last_secret;
    auto r = db.execute(
        fmt::format("DELETE FROM app_secrets WHERE application_id = {} AND id = {}", app_id, *quoted));
    if (!r) return r.error();
    if (auto ok = tx.commit(); !ok) return ok.error();
    return secret_deletion::deleted;
}

core::result<std::vector<secret_listing>> list_secrets(mysql_connection& db, std::uint64_t app_id) {
    auto rows =
        db.query(fmt::format("SELECT id, created_at, last_used_at FROM app_secrets WHERE application_id = {} "
                             "ORDER BY created_at, id",
                             app_id));
    if (!rows) return rows.error();
    std::vector<secret_listing> out;
    for (const auto& r : *rows) {
        secret_listing s{r[0].value_or(""), ms(r[1]), std::nullopt};
        if (r[2]) s.last_used_at_ms = ms(r[2]);
        out.push_back(std::move(s));
    }
    return out;
}

core::result<void> record_secret_uses(mysql_connection& db, const std::vector<secret_use>& uses) {
    for (const auto& u : uses) {
        auto id = db.quote(u.id);
        if (!id) return id.error();
        auto r = db.execute(fmt::format(
            "UPDATE app_secrets SET last_used_at = GREATEST(COALESCE(last_used_at, '{0}'), '{0}') "
            "WHERE application_id = {1} AND id = {2}",
            sql_datetime(u.at_ms), u.app_id, *id));
        if (!r) return r.error();
    }
    return {};
}

core::result<bool> set_access_mode(mysql_connection& db, std::uint64_t app_id, domain::access_mode mode,
                                   std::int64_t now_ms) {
    auto rows = db.query(fmt::format("SELECT id FROM applications WHERE id = {}", app_id));
    if (!rows) return rows.error();
    if (rows->empty()) return false;
    auto r = db.execute(fmt::format("UPDATE applications SET access = '{}', updated_at = '{}' WHERE id = {}",
                                    domain::name_of(mode), sql_datetime(now_ms), app_id));
    if (!r) return r.error();
    return true;
}

core::result<membership_row> find_membership(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat,
                                             const std::string& user) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto rows =
        db.query(fmt::format("SELECT (SELECT 1 FROM chats WHERE application_id = {0} AND number = {1}), "
                             "(SELECT member FROM chat_members WHERE application_id = {0} AND chat_number = "
                             "{1} AND user_id = {2})",
                             app_id, chat, *u));
    if (!rows) return rows.error();
    membership_row out;
    if (rows->empty()) return out;
    out.chat_stored = rows->front()[0].has_value();
    if (rows->front()[1]) out.member = *rows->front()[1] == "1";
    return out;
}

core::result<bool> put_member(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat,
                              const std::string& user, bool member, std::int64_t now_ms) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto at = sql_datetime(now_ms);
    // added_at is the time of the latest addition; a removal keeps it.
    auto r = db.execute(fmt::format(
        "INSERT INTO chat_members (application_id, chat_number, user_id, member, added_at, updated_at) "
        "VALUES ({0}, {1}, {2}, {3}, '{4}', '{4}') ON DUPLICATE KEY UPDATE "
        "added_at = IF(member = 0 AND VALUES(member) = 1, VALUES(added_at), added_at), "
        "updated_at = IF(member = VALUES(member), updated_at, VALUES(updated_at)), member = VALUES(member)",
        app_id, chat, *u, member ? 1 : 0, at));
    if (!r) return r.error();
    // MariaDB counts 1 for an insert, 2 for a changed row, 0 for a row left as it was.
    return *r > 0;
}

core::result<std::vector<member_row>> list_members(mysql_connection& db, std::uint64_t app_id,
                                                   std::uint64_t chat, const std::string& after_user,
                                                   int limit) {
    auto after = db.quote(after_user);
    if (!after) return after.error();
    auto rows = db.query(fmt::format(
        "SELECT user_id, added_at FROM chat_members WHERE application_id = {} AND chat_number = {} "
        "AND user_id > {} AND member = 1 ORDER BY user_id LIMIT {}",
        app_id, chat, *after, limit));
    if (!rows) return rows.error();
    std::vector<member_row> out;
    for (const auto& r : *rows) out.push_back({r[0].value_or(""), ms(r[1])});
    return out;
}

core::result<std::vector<chat_row>> list_user_chats(mysql_connection& db, std::uint64_t app_id,
                                                    const std::string& user, std::uint64_t after, int limit,
                                                    const std::optional<std::vector<std::uint64_t>>& only) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto rows = db.query(fmt::format(
        "SELECT c.number, c.messages_count, c.created_at, c.updated_at FROM chat_members m "
        "JOIN chats c ON c.application_id = m.application_id AND c.number = m.chat_number "
        "WHERE m.application_id = {} AND m.user_id = {} AND m.member = 1 AND m.chat_number > {}{} "
        "AND c.deleted_at IS NULL "
        "ORDER BY m.chat_number LIMIT {}",
        app_id, *u, after, chat_number_filter("m.chat_number", only), limit));
    if (!rows) return rows.error();
    std::vector<chat_row> out;
    for (const auto& r : *rows) out.push_back(chat_row{to_u64(r[0]), to_u64(r[1]), ms(r[2]), ms(r[3])});
    return out;
}

core::result<std::int64_t> find_revocation(mysql_connection& db, std::uint64_t app_id,
                                           const std::string& user) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto rows = db.query(
        fmt::format("SELECT revoked_before FROM user_revocations WHERE application_id = {} AND user_id = {}",
                    app_id, *u));
    if (!rows) return rows.error();
    return rows->empty() ? std::int64_t{0} : ms(rows->front()[0]);
}

core::result<void> put_revocation(mysql_connection& db, std::uint64_t app_id, const std::string& user,
                                  std::int64_t before_ms) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto r = db.execute(fmt::format(
        "INSERT INTO user_revocations (application_id, user_id, revoked_before) VALUES ({0}, {1}, '{2}') "
        "ON DUPLICATE KEY UPDATE revoked_before = GREATEST(revoked_before, VALUES(revoked_before))",
        app_id, *u, sql_datetime(before_ms)));
    if (!r) return r.error();
    return {};
}

}  // namespace chat::store
