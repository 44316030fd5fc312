#pragma once

#include <memory>
#include <string>

#include "store/service_store.hpp"

namespace invited::store {

// One database engine serving the database a URL names: what store::open and its siblings
// (store/open_store.hpp) do, done the engine's way. Made by engine_for (open_store.cpp), one
// per call; cheap to make (it opens nothing until asked).
class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::unique_ptr<ServeClaim> claim_for_serving() = 0;
  virtual std::unique_ptr<ServiceStore> open(Post post) = 0;
  virtual MigrationResult migrate() = 0;
};

}  // namespace invited::store
