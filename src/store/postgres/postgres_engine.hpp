#pragma once

#include <memory>
#include <string>

#include "store/engine.hpp"
#include "store/open_store.hpp"

namespace invited::store::postgres {

// The PostgreSQL engine for the database `url` (a libpq URI, postgresql:// or postgres://):
// several processes may serve one database at once (no serve claim); migrations run under
// pg_advisory_lock in whichever process opens or migrates it first. Uses settings.pool_size and
// settings.timeout_ms.
std::unique_ptr<Engine> make_engine(std::string url, const StoreSettings& settings);

}  // namespace invited::store::postgres
