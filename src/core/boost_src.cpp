// Debian ships Boost.JSON and Boost.URL as headers only; compile their sources once, here.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
