#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "mail/transport.hpp"

namespace invited::mail {

// What an smtp:// send does when the server does not agree to STARTTLS (smtps:// is TLS from
// the first byte either way).
enum class StartTls {
  kIfOffered,  // send in clear: for loopback servers, or when plaintext is explicitly allowed
  kRequired,   // send nothing (no login, no message) and fail the send, retryably
};

// SMTP through libcurl, over one connection that stays open between sends. `url` is
// smtp://host:port (STARTTLS as `starttls` says) or smtps://host:port (TLS from the start);
// `user:password@` in the URL logs in. The URL is never logged, since it may hold a password.
// Requires curl_global_init() at start.
//
// One transport is one connection, used by one thread at a time (a worker that sends in
// parallel makes one transport per sender). The first send connects (and logs in); later sends
// reuse the connection (MAIL FROM, RCPT TO, DATA on it again) while it is alive and was used
// within the last minute, and connect again otherwise. A failed or aborted send closes the
// connection, so the next one starts from a fresh session. A send gives up after 10 s without
// a connection or 60 s in all; a stop request aborts it within about a second, whatever it waits
// for (libcurl's progress callback polls it). Destruction closes the connection at once, without
// QUIT: a server that stopped answering cannot hold a shutdown up.
class SmtpTransport final : public Transport {
 public:
  SmtpTransport(std::string url, StartTls starttls);
  ~SmtpTransport() override;
  SmtpTransport(const SmtpTransport&) = delete;
  SmtpTransport& operator=(const SmtpTransport&) = delete;

  SendResult send(const Envelope& envelope, std::stop_token stop) override;
  const char* name() const override { return "smtp"; }

 private:
  // The handle with every setting that does not change between messages; made by the first send.
  CURL* handle();

  std::string url_;
  StartTls starttls_;
  CURL* handle_ = nullptr;
  std::string from_;  // MAIL FROM of the message being sent; the handle points at it
};

}  // namespace invited::mail
