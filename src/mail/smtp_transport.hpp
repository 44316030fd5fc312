#pragma once

#include <string>

#include "mail/transport.hpp"

namespace invited::mail {

// What an smtp:// send does when the server does not agree to STARTTLS (smtps:// is TLS from
// the first byte either way).
enum class StartTls {
  kIfOffered,  // send in clear: for loopback servers, or when plaintext is explicitly allowed
  kRequired,   // send nothing (no login, no message) and fail the send, retryably
};

// SMTP through libcurl. `url` is smtp://host:port (STARTTLS as `starttls` says) or
// smtps://host:port (TLS from the start); `user:password@` in the URL logs in. The URL is
// never logged, since it may hold a password. Requires curl_global_init() at start. A send
// gives up after 10 s without a connection or 60 s in all; a stop request aborts it within
// about a second, whatever it waits for (libcurl's progress callback polls it).
class SmtpTransport final : public Transport {
 public:
  SmtpTransport(std::string url, StartTls starttls);
  SendResult send(const Envelope& envelope, std::stop_token stop) override;
  const char* name() const override { return "smtp"; }

 private:
  std::string url_;
  StartTls starttls_;
};

}  // namespace invited::mail
