#pragma once
// A blocking MariaDB Connector/C connection, owned by one thread at a time. Reconnects lazily after
// the server went away; statements are text with values escaped by escape()/quote().
#include <mysql.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace chat::store {

using row = std::vector<std::optional<std::string>>;

class mysql_connection {
  public:
    explicit mysql_connection(core::mysql_config cfg) : cfg_(std::move(cfg)) {}
    mysql_connection(const mysql_connection&) = delete;
    mysql_connection& operator=(const mysql_connection&) = delete;

    // A statement returning rows.
    core::result<std::vector<row>> query(std::string_view sql);
    // A statement returning no rows; yields the number of affected rows.
    core::result<std::uint64_t> execute(std::string_view sql);
    std::uint64_t last_insert_id() const;
    // 'text' quoted and escaped for the connection's character set.
    core::result<std::string> quote(std::string_view text);
    // Last server error number (0 when none), to tell e.g. duplicate keys from outages.
    unsigned last_errno() const { return last_errno_; }
    void disconnect() { db_.reset(); }

  private:
    core::result<void> ensure_connected();
    core::result<void> run(std::string_view sql);

    core::mysql_config cfg_;
    std::unique_ptr<MYSQL, void (*)(MYSQL*)> db_{nullptr, mysql_close};
    unsigned last_errno_ = 0;
};

// A transaction on `db` that rolls back unless committed, so an error return never leaves one open.
class transaction {
  public:
    explicit transaction(mysql_connection& db) : db_(db) {}
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    core::result<void> begin();
    core::result<void> commit();

  private:
    mysql_connection& db_;
    bool open_ = false;
};

std::uint64_t to_u64(const std::optional<std::string>& v);

}  // namespace chat::store
