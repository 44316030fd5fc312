#pragma once

#include <memory>
#include <string>

#include "store/engine.hpp"
#include "store/open_store.hpp"

namespace invited::store::sqlite {

// The SQLite engine for the file at `path` (relative to the working directory, or absolute):
// the file and its folder are created on first use; one `invited serve` per file (ServeLock);
// migrations run in the process that opens or migrates it. Uses settings.readers and
// settings.wal_restart_bytes.
std::unique_ptr<Engine> make_engine(std::string path, const StoreSettings& settings);

}  // namespace invited::store::sqlite
