#pragma once

#include <string>
#include <string_view>

namespace invited::store::postgres {

// Whether `url` is a libpq connection URI: it starts with postgresql:// or postgres://.
bool is_connection_url(std::string_view url);

// `url` fit for a log line: the password of a postgresql:// or postgres:// URI
// (scheme://user:PASSWORD@host...) and the value of every `password=` parameter (URI query or
// keyword/value string) are replaced by "***". Everything else is kept, so the line still says
// which host, port, database and sslmode were used.
std::string mask_password(std::string_view url);

}  // namespace invited::store::postgres
