#pragma once
#include <string>

namespace chat::core {

// 128 bits from the kernel CSPRNG (getrandom), base64url without padding: 22 characters.
// Used for application tokens, which are the only credential a device holds.
std::string make_token();
// 128 random bits as 32 lowercase hex characters: the creation id of a queued event.
std::string make_creation_id();

}  // namespace chat::core
