#include "api/router.hpp"
