#pragma once
// The demo client of GET /demo: src/api/demo/index.html, app.js and style.css, embedded into the
// library at build time (CMakeLists.txt generates demo_page.cpp from demo_page.cpp.in). Served as is;
// the page talks to the public API of the server that served it.
#include <string_view>

namespace chat::api {

// Each file's exact bytes (UTF-8).
std::string_view demo_html();
std::string_view demo_js();
std::string_view demo_css();

}  // namespace chat::api
