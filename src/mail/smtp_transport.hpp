#pragma once

#include <string>

#include "mail/transport.hpp"

namespace invited::mail {

// SMTP through libcurl. `url` is smtp://host:port (STARTTLS is used when the server offers it)
// or smtps://host:port (TLS from the start); `user:password@` in the URL logs in. The URL is
// never logged, since it may hold a password. Requires curl_global_init() at start. A send
// gives up after 10 s without a connection or 60 s in all; a stop request aborts it within
// about a second, whatever it waits for (libcurl's progress callback polls it).
class SmtpTransport final : public Transport {
 public:
  explicit SmtpTransport(std::string url);
  SendResult send(const Envelope& envelope, std::stop_token stop) override;
  const char* name() const override { return "smtp"; }

 private:
  std::string url_;
};

}  // namespace invited::mail
