#include "mail/smtp_transport.hpp"

#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace invited::mail {
namespace {

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  std::size_t room = size * count;
  std::size_t left = upload->data->size() - upload->offset;
  std::size_t n = std::min(room, left);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// libcurl calls this about once a second even while nothing moves (also while it waits for the
// reply to DATA); a non-zero answer aborts the transfer.
int abort_on_stop(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::stop_token*>(user)->stop_requested() ? 1 : 0;
}

// A kept connection unused for longer than this is closed and a fresh one opened: SMTP servers
// drop idle clients after a few minutes (RFC 5321 asks for at least five), and a connection the
// server has dropped would fail the next send.
constexpr long kIdleConnectionSeconds = 60;

}  // namespace

SmtpTransport::SmtpTransport(std::string url, StartTls starttls)
    : url_(std::move(url)), starttls_(starttls) {}

SmtpTransport::~SmtpTransport() {
  if (handle_ == nullptr) return;
  // curl_easy_cleanup would say QUIT on the kept connection with none of the handle's timeouts,
  // waiting up to two minutes for a server that stopped answering. Shutting the socket first
  // makes that QUIT fail at once; every message sent was already accepted.
  curl_socket_t socket = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(handle_, CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK &&
      socket != CURL_SOCKET_BAD) {
    ::shutdown(socket, SHUT_RDWR);
  }
  curl_easy_cleanup(handle_);
}

CURL* SmtpTransport::handle() {
  if (handle_ != nullptr) return handle_;
  handle_ = curl_easy_init();
  if (handle_ == nullptr) return nullptr;
  curl_easy_setopt(handle_, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(handle_, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(handle_, CURLOPT_UPLOAD, 1L);
  // CURLUSESSL_ALL: without STARTTLS libcurl stops before AUTH and MAIL FROM, so a man in the
  // middle who strips STARTTLS from the server's EHLO reply learns neither password nor message.
  curl_easy_setopt(
      handle_, CURLOPT_USE_SSL,
      static_cast<long>(starttls_ == StartTls::kRequired ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(handle_, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle_, CURLOPT_MAXAGE_CONN, kIdleConnectionSeconds);
  curl_easy_setopt(handle_, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle_, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
  return handle_;
}

SendResult SmtpTransport::send(const Envelope& envelope, std::stop_token stop) {
  CURL* curl = handle();
  if (curl == nullptr) {
    return {.ok = false, .permanent = false, .aborted = false, .error = "curl_easy_init failed"};
  }
  // What changes from one message to the next; every other setting stays from handle().
  from_ = "<" + envelope.from_address + ">";
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> recipients(
      curl_slist_append(nullptr, ("<" + envelope.to_address + ">").c_str()), curl_slist_free_all);
  Upload upload{&envelope.data};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from_.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(envelope.data.size()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stop);

  CURLcode code = curl_easy_perform(curl);
  // Nothing of this send may outlive it in the handle: the next send sets them again.
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
  curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, nullptr);
  if (code == CURLE_OK) return {};
  if (code == CURLE_ABORTED_BY_CALLBACK) {
    return {.ok = false, .permanent = false, .aborted = true, .error = "aborted: stopping"};
  }
  long response = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
  std::string error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  if (code == CURLE_USE_SSL_FAILED) {
    // The server (or someone between) did not agree to STARTTLS. Retryable: it may be a
    // passing fault, and an operator may fix the server meanwhile.
    return {.ok = false,
            .permanent = false,
            .aborted = false,
            .error =
                "STARTTLS is required for an SMTP server that is not on this machine and "
                "it failed (" +
                error +
                "); nothing was sent. Offer STARTTLS on the server, use smtps://, or set "
                "--smtp-allow-plaintext (INVITED_SMTP_ALLOW_PLAINTEXT=true) to send the "
                "password and message in clear"};
  }
  if (response) error += " (SMTP " + std::to_string(response) + ")";
  // 5xx is the server's final word (unknown mailbox, policy); everything else may pass later.
  bool permanent = response >= 500 && response < 600 && code != CURLE_LOGIN_DENIED;
  return {.ok = false, .permanent = permanent, .aborted = false, .error = error};
}

}  // namespace invited::mail
