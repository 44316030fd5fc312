#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

namespace invited::mail {

// An envelope and the composed RFC 5322 text.
struct Envelope {
  std::string from_address;  // bare address for MAIL FROM
  std::string to_address;
  std::string message_id;  // without angle brackets; names the message across retries
  std::string data;        // the composed message, CRLF line endings
};

struct SendResult {
  bool ok = true;
  bool permanent = false;  // retrying cannot help (the server refused the recipient)
  bool aborted = false;    // `stop` was requested before the server answered: outcome unknown
  std::string error;       // why it failed, for logs and the outbox row; never holds secrets
};

// Delivers messages. One instance is used by one thread at a time; a worker that sends in
// parallel makes one per sender (TransportFactory).
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one message. Once `stop` is requested, a send still waiting on the network gives up
  // within about a second and answers `aborted`.
  virtual SendResult send(const Envelope& envelope, std::stop_token stop) = 0;
  // Short name for logs: "smtp" or "folder".
  virtual const char* name() const = 0;
};

// Makes a transport for one sender of the mail worker (an SMTP connection of its own).
using TransportFactory = std::function<std::unique_ptr<Transport>()>;

}  // namespace invited::mail
