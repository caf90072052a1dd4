#include "store/mysql.hpp"

#include <errmsg.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "store/failure.hpp"

namespace chat::store {

std::uint64_t to_u64(const std::optional<std::string>& v) {
    std::uint64_t out = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), out);
    return out;
}

namespace {
// True when the server closed this idle connection (restart, wait_timeout): reconnect before sending,
// so that no statement is ever sent on a dead connection and none needs a blind retry.
bool peer_closed(MYSQL* m) {
    char byte;
    ssize_t n = ::recv(mysql_get_socket(m), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}
}  // namespace

core::result<void> mysql_connection::ensure_connected() {
    if (db_ && !peer_closed(db_.get())) return {};
    db_.reset();
    MYSQL* m = mysql_init(nullptr);
    if (m == nullptr) return unavailable("mysql", storage_unavailable, "out of memory");
    unsigned timeout = 5;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    unsigned rw_timeout = 30;
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m, cfg_.host.c_str(), cfg_.user.c_str(), cfg_.password.c_str(),
                           cfg_.database.c_str(), static_cast<unsigned>(cfg_.port), nullptr, 0) == nullptr) {
        std::string why = mysql_error(m);
        mysql_close(m);
        return unavailable("mysql", storage_unavailable, "cannot connect: " + why);
    }
    db_.reset(m);
    // UTC everywhere: DATETIME values are written and read as UTC.
    if (mysql_query(
            m, "SET time_zone = '+00:00', SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'") !=
        0) {
        std::string why = mysql_error(m);
        db_.reset();
        return unavailable("mysql", storage_unavailable, "session setup failed: " + why);
    }
    return {};
}

core::result<void> mysql_connection::run(std::string_view sql) {
    // One retry on a dropped connection, but only when the statement cannot have been applied:
    // a server that went away before answering is reconnected and the statement sent again.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (auto ok = ensure_connected(); !ok) return ok.error();
        if (mysql_real_query(db_.get(), sql.data(), static_cast<unsigned long>(sql.size())) == 0) {
            last_errno_ = 0;
            return {};
        }
        last_errno_ = mysql_errno(db_.get());
        std::string why = mysql_error(db_.get());
        bool gone = last_errno_ == CR_SERVER_GONE_ERROR || last_errno_ == CR_SERVER_LOST ||
                    last_errno_ == CR_CONNECTION_ERROR || last_errno_ >= 2000;
        if (gone) {
            db_.reset();
            // Retry only if the connection was stale before we sent anything (GONE); a LOST statement
            // may have run, so report it instead.
            if (last_errno_ == CR_SERVER_GONE_ERROR && attempt == 0) continue;
            return unavailable("mysql", storage_unavailable,
                               fmt::format("error {}: {}", last_errno_, clip(why)));
        }
        // Server-side conditions that pass (shutdown, restart, too many connections, lock waits,
        // deadlocks, read-only during a failover, a killed connection) are outages to retry, not bugs:
        // the worker must not isolate and dead-letter a batch because the server was restarting.
        static constexpr unsigned transient[] = {1040, 1053, 1203, 1205, 1213, 1290, 1317, 1836, 1927};
        if (std::find(std::begin(transient), std::end(transient), last_errno_) != std::end(transient)) {
            if (last_errno_ == 1053 || last_errno_ == 1927) db_.reset();
            return unavailable("mysql", storage_unavailable,
                               fmt::format("error {}: {}", last_errno_, clip(why)));
        }
        return internal("mysql", fmt::format("error {}: {}", last_errno_, clip(why)));
    }
    return unavailable("mysql", storage_unavailable, "connection lost");
}

core::result<std::vector<row>> mysql_connection::query(std::string_view sql) {
    if (auto ok = run(sql); !ok) return ok.error();
    MYSQL_RES* res = mysql_store_result(db_.get());
    std::vector<row> rows;
    if (res == nullptr) {
        if (mysql_field_count(db_.get()) != 0) {
            std::string why = mysql_error(db_.get());
            db_.reset();
            return unavailable("mysql", storage_unavailable, "reading result: " + clip(why));
        }
        return rows;
    }
    unsigned n = mysql_num_fields(res);
    rows.reserve(mysql_num_rows(res));
    while (MYSQL_ROW r = mysql_fetch_row(res)) {
        unsigned long* lengths = mysql_fetch_lengths(res);
        row out;
        out.reserve(n);
        for (unsigned i = 0; i < n; ++i) {
            if (r[i] == nullptr)
                out.emplace_back(std::nullopt);
            else
                out.emplace_back(std::string(r[i], lengths[i]));
        }
        rows.push_back(std::move(out));
    }
    mysql_free_result(res);
    return rows;
}

core::result<std::uint64_t> mysql_connection::execute(std::string_view sql) {
    if (auto ok = run(sql); !ok) return ok.error();
    return static_cast<std::uint64_t>(mysql_affected_rows(db_.get()));
}

std::uint64_t mysql_connection::last_insert_id() const {
    return db_ ? mysql_insert_id(db_.get()) : 0;
}

core::result<std::string> mysql_connection::quote(std::string_view text) {
    if (auto ok = ensure_connected(); !ok) return ok.error();
    std::string out(text.size() * 2 + 3, '\0');
    out[0] = '\'';
    unsigned long n = mysql_real_escape_string(db_.get(), out.data() + 1, text.data(),
                                               static_cast<unsigned long>(text.size()));
    out.resize(n + 1);
    out.push_back('\'');
    return out;
}

transaction::~transaction() {
    if (open_) (void)db_.execute("ROLLBACK");
}

core::result<void> transaction::begin() {
    auto r = db_.execute("START TRANSACTION");
    if (!r) return r.error();
    open_ = true;
    return {};
}

core::result<void> transaction::commit() {
    auto r = db_.execute("COMMIT");
    open_ = false;
    if (!r) return r.error();
    return {};
}

}  // namespace chat::store
