// GCC 12 with AddressSanitizer at -O2 takes the boost::optional that Beast's parser returns
// from content_length_unchecked() (impl/basic_parser.hpp) for maybe uninitialized once the
// synchronous reads below instantiate the parser here; it is initialized on every path.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "http/request_reader.hpp"

#include <sodium.h>

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cctype>
#include <utility>
#include <vector>

#include "log/log.hpp"

namespace invited::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

Method to_method(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

// An incoming x-request-id is echoed only if it is short and plain, so it can never smuggle
// anything into a header or a log line.
bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// A fresh request id: 6 random bytes drawn once per thread, then a per-thread counter, in hex.
// Unique without a system call per request.
std::string new_request_id() {
  thread_local std::array<unsigned char, 12> id = [] {
    std::array<unsigned char, 12> fresh{};
    randombytes_buf(fresh.data(), 6);
    return fresh;
  }();
  for (std::size_t i = id.size(); i-- > 6;) {
    if (++id[i] != 0) break;
  }
  char hex[id.size() * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, id.data(), id.size());
  return hex;
}

Request to_request(const RequestReader::Parser& parser) {
  const auto& message = parser.get();
  Request request;
  request.method = to_method(message.method());
  request.method_text = std::string(message.method_string());
  request.target = std::string(message.target());
  // An absolute-form target (GET http://host/path?x HTTP/1.1, RFC 9112 §3.2.2) is served like
  // its origin form: the path and query are taken from it.
  std::string_view origin = request.target;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() >= scheme.size() && beast::iequals(origin.substr(0, scheme.size()), scheme)) {
      origin.remove_prefix(scheme.size());
      auto path_start = origin.find_first_of("/?");
      origin =
          path_start == std::string_view::npos ? std::string_view("/") : origin.substr(path_start);
      break;
    }
  }
  auto question = origin.find('?');
  request.path = std::string(origin.substr(0, question));
  if (request.path.empty()) request.path = "/";
  if (question != std::string_view::npos) request.query = std::string(origin.substr(question + 1));
  request.headers.reserve(8);
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  auto incoming_id = request.header("x-request-id");
  request.request_id = incoming_id && is_sane_request_id(*incoming_id) ? std::string(*incoming_id)
                                                                       : new_request_id();
  return request;
}

std::string client_address(const Request& request, const Peer& peer) {
  if (peer.proxies == nullptr) return std::string(peer.address);
  std::vector<std::string_view> forwarded;
  for (const auto& [name, value] : request.headers) {
    if (name == "x-forwarded-for") forwarded.push_back(value);
  }
  return peer.proxies->client_address(peer.address, forwarded);
}

// Whether a failed read means the request is malformed (answered 400), as opposed to a timeout
// or a client that went away (closed without an answer).
bool is_parse_error(const boost::system::error_code& error) {
  return error != beast::error::timeout && error != asio::error::operation_aborted &&
         error != bhttp::error::end_of_stream && error != bhttp::error::partial_message &&
         error != asio::error::eof && error != asio::error::connection_reset &&
         error != asio::error::bad_descriptor && error != asio::error::broken_pipe;
}

std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// What is wrong with how a request frames itself (RFC 9112), or nullopt: an HTTP/1.1 request
// without Host, or any with two, is 400. Transfer-Encoding is judged on its raw value, element
// by element (Beast's token_list stops at the first byte that is not a token, and its parser
// takes the body as chunked only when chunked is the last coding): a coding other than chunked
// is 501; otherwise chunked must be there exactly once (RFC 9112 §6.3: else the body's length is
// unknown, 400), and in HTTP/1.1 (§6.1: an HTTP/1.0 message with Transfer-Encoding is faulty).
// Either way the body is not read, so no byte of it is taken for the next request.
std::optional<ProtocolError> framing_problem(const bhttp::request_header<>& header,
                                             unsigned version) {
  std::size_t hosts = header.count(bhttp::field::host);
  if (hosts > 1) return ProtocolError{400, "a request carries one Host header, not several"};
  if (hosts == 0 && version >= 11) {
    return ProtocolError{400, "an HTTP/1.1 request needs a Host header"};
  }
  bool transfer_encoding = false;
  std::size_t chunked = 0;
  for (const auto& field : header) {
    if (field.name() != bhttp::field::transfer_encoding) continue;
    transfer_encoding = true;
    std::string_view list = field.value();
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string_view coding = trim_whitespace(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (coding.empty()) continue;
      if (!beast::iequals(coding, "chunked")) {
        return ProtocolError{501, "transfer coding " + std::string(coding) +
                                      " is not supported; send the body with Content-Length "
                                      "or Transfer-Encoding: chunked alone"};
      }
      ++chunked;
    }
  }
  if (!transfer_encoding) return std::nullopt;
  if (version < 11) {
    return ProtocolError{400,
                         "Transfer-Encoding needs HTTP/1.1; send the body with "
                         "Content-Length"};
  }
  if (chunked != 1) {
    return ProtocolError{400,
                         "Transfer-Encoding must name chunked exactly once; send "
                         "Transfer-Encoding: chunked alone, or Content-Length"};
  }
  return std::nullopt;
}

}  // namespace

Response protocol_error_response(const ProtocolError& error) {
  Response response;
  response.status = error.status;
  response.body = R"({"success":false,"error":")";
  log::append_json_escaped(response.body, error.message);
  response.body +=
      error.status == 501 ? R"(","code":"not_implemented"})" : R"(","code":"bad_request"})";
  response.close_connection = true;
  return response;
}

RequestReader::RequestReader(const ReaderLimits& limits) : header_limit_(limits.header_limit) {
  parser_.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser_.body_limit(limits.body_limit);
}

HeaderOutcome RequestReader::finish_header(const boost::system::error_code& error,
                                           std::size_t header_bytes, const Peer& peer) {
  HeaderOutcome outcome;
  // A Content-Length over the body limit fails the header read, but the header is parsed: the
  // request is still routed and authenticated, and answered 413 by its handler.
  const bool declared_too_large = error == bhttp::error::body_limit;
  // Beast limits the request line and the fields each to the header limit, so a whole header
  // may pass it: counted here, over both.
  const bool header_too_large = error == bhttp::error::header_limit ||
                                ((!error || declared_too_large) && header_bytes > header_limit_);
  if ((error && !declared_too_large) || header_too_large) {
    outcome.request.request_id = new_request_id();
    outcome.request.client_address = std::string(peer.address);
    if (header_too_large) {
      outcome.kind = HeaderOutcome::Kind::kMalformed;
      outcome.problem = ProtocolError{431, "request headers are too large"};
    } else if (is_parse_error(error)) {
      outcome.kind = HeaderOutcome::Kind::kMalformed;
      outcome.problem = ProtocolError{400, "malformed HTTP request"};
    } else {
      outcome.kind = HeaderOutcome::Kind::kClosed;
    }
    return outcome;
  }
  outcome.kind = HeaderOutcome::Kind::kRequest;
  outcome.request = to_request(parser_);
  outcome.request.client_address = client_address(outcome.request, peer);
  outcome.version = parser_.get().version();
  outcome.problem = framing_problem(parser_.get(), outcome.version);
  outcome.body_too_large = declared_too_large;
  outcome.request.body_too_large = declared_too_large;
  outcome.wants_continue = !outcome.problem && !declared_too_large && !parser_.is_done() &&
                           beast::iequals(parser_.get()[bhttp::field::expect], "100-continue");
  return outcome;
}

BodyOutcome RequestReader::finish_body(const boost::system::error_code& error, Request& request) {
  BodyOutcome outcome;
  if (!error) {
    outcome.kind = BodyOutcome::Kind::kComplete;
    request.body = std::move(parser_.get().body());
  } else if (error == bhttp::error::body_limit) {
    outcome.kind = BodyOutcome::Kind::kTooLarge;
    request.body_too_large = true;
  } else if (is_parse_error(error)) {
    outcome.kind = BodyOutcome::Kind::kMalformed;
    outcome.problem = ProtocolError{400, "malformed request body: " + error.message()};
  } else {
    outcome.kind = BodyOutcome::Kind::kClosed;
  }
  return outcome;
}

ReadOutcome read_request(ByteStream& stream, beast::flat_buffer& buffer, const ReaderLimits& limits,
                         const Peer& peer) {
  RequestReader reader(limits);
  ReadOutcome outcome;
  boost::system::error_code error;
  std::size_t header_bytes = bhttp::read_header(stream, buffer, reader.parser(), error);
  outcome.head = reader.finish_header(error, header_bytes, peer);
  const bool request = outcome.head.kind == HeaderOutcome::Kind::kRequest;
  if (request && !outcome.head.problem && !outcome.head.body_too_large && !reader.complete()) {
    bhttp::read(stream, buffer, reader.parser(), error);
    outcome.body = reader.finish_body(error, outcome.head.request);
  }
  outcome.complete = request && reader.complete();
  outcome.keep_alive = outcome.complete && !outcome.head.problem && reader.keep_alive() &&
                       (!outcome.body || outcome.body->kind == BodyOutcome::Kind::kComplete);
  return outcome;
}

}  // namespace invited::http
