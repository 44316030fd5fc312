#include "store/sqlite/serve_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/sqlite/connection.hpp"

namespace invited::store::sqlite {

ServeLock::ServeLock(const std::string& database_path, const char* advice) {
  const std::string lock_path = database_path + ".lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw StoreError(0, "cannot open the lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  int error = errno;
  ::close(fd_);
  fd_ = -1;
  if (error == EWOULDBLOCK) {
    throw StoreError(
        0, "another `invited serve` is already serving the database " + database_path +
               " (it holds " + lock_path + "); " +
               (advice != nullptr ? std::string(advice)
                                  : "stop that process first, or give this one its own "
                                    "--database. `invited migrate` and `invited admin` work "
                                    "while it serves"));
  }
  throw StoreError(0, "cannot lock " + lock_path + ": " + std::strerror(error));
}

ServeLock::~ServeLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace invited::store::sqlite
