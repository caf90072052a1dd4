#include "core/spawn.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace chat::core {

void log_escape::operator()(std::exception_ptr e) const {
    if (!e) return;
    metrics::escaped_exception(where);
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        spdlog::critical("{}: exception escaped: {}", where, x.what());
    } catch (...) {
        spdlog::critical("{}: non-standard exception escaped", where);
    }
}

}  // namespace chat::core
