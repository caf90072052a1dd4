#pragma once
// JSON views shared by the handlers and the live streams (one shape for a message everywhere).
#include <boost/json/object.hpp>
#include <cstdint>

#include "store/repository.hpp"

namespace chat::api {

boost::json::object message_json(std::uint64_t chat_number, const store::message_row& m);

}  // namespace chat::api
