#pragma once
// The OpenAPI 3.1 description of the HTTP API: src/api/openapi.json, embedded into the library at
// build time (CMakeLists.txt generates openapi_spec.cpp from openapi_spec.cpp.in). Served as is at
// GET /openapi.json; the integration tests validate every response against it.
#include <string_view>

namespace chat::api {

// The document's exact bytes (UTF-8 JSON).
std::string_view openapi_json();

}  // namespace chat::api
