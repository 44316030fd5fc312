#include "mail/folder_transport.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace invited::mail {

namespace {

SendResult failure(std::string error) {
  return {.ok = false, .permanent = false, .aborted = false, .error = std::move(error)};
}

}  // namespace

FolderTransport::FolderTransport(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

SendResult FolderTransport::send(const Envelope& envelope, std::stop_token /*stop*/) {
  // The message id is uuid@host: safe as a file name once the '@' part is dropped.
  std::string stem = envelope.message_id.substr(0, envelope.message_id.find('@'));
  std::string final_path = dir_ + "/" + stem + ".eml";
  std::string temporary_path = dir_ + "/." + stem + ".eml.tmp";
  int fd = ::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return failure("open " + temporary_path + ": " + std::strerror(errno));
  const char* data = envelope.data.data();
  std::size_t left = envelope.data.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      std::string error = std::strerror(errno);
      ::close(fd);
      return failure("write " + temporary_path + ": " + error);
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  bool synced = ::fsync(fd) == 0;
  bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    return failure("sync " + temporary_path + ": " + std::strerror(errno));
  }
  if (std::rename(temporary_path.c_str(), final_path.c_str()) != 0) {
    return failure("rename to " + final_path + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace invited::mail
