#pragma once

#include <string>

namespace invited::store::sqlite {

// The one serving process of a database file: an exclusive flock(2) on "<database>.lock" beside
// it, held for this object's lifetime. The kernel releases it when the process exits, however it
// exits (kill -9 included), so it never needs cleaning up; the file itself stays.
//
// Only `invited serve` takes it: one writer thread per file is what group commit, the WAL bound
// and readiness assume. Commands (`migrate`, `admin ...`) do not, and run while a service
// serves; SQLite's own locking keeps their writes safe.
class ServeLock {
 public:
  // Takes the lock without waiting. Throws StoreError naming the database and what to do when
  // another process holds it (`advice`, when given, replaces the advice for `invited serve`), or
  // when the lock file cannot be opened.
  explicit ServeLock(const std::string& database_path, const char* advice = nullptr);
  ~ServeLock();
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace invited::store::sqlite
