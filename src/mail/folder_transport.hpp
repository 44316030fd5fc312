#pragma once

#include <string>

#include "mail/transport.hpp"

namespace invited::mail {

// Writes each message as `<dir>/<message-id>.eml`, so a fresh install shows its emails without
// a mail server. The file appears complete or not at all (written aside, synced, renamed), and a
// retry of the same message replaces its own file instead of adding a second one. A write to a
// local folder does not wait on anyone, so a stop request does not interrupt it.
class FolderTransport final : public Transport {
 public:
  // Creates `dir` if needed.
  explicit FolderTransport(std::string dir);
  SendResult send(const Envelope& envelope, std::stop_token stop) override;
  const char* name() const override { return "folder"; }

 private:
  std::string dir_;
};

}  // namespace invited::mail
