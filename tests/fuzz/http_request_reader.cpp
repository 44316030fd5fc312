// Fuzzes the HTTP request reader (http/request_reader.hpp): the code the server runs on the bytes
// of every connection, Beast's parser with the server's limits and RequestReader's judgement of
// it (request line, absolute-form targets, headers, Host and Transfer-Encoding checks, chunked
// bodies, request id, client address). The input is what a client sends on one connection; it
// is read as the server reads it, request after request while the connection stays open
// (pipelining), three ways:
// 1. all at once, with the server's default limits (16 KiB header, 64 KiB body), from a trusted
//    proxy (so X-Forwarded-For names the client);
// 2. the same in pieces of 1 to 16 bytes: the same outcomes, since TCP may split the bytes
//    anywhere (but for an unfinished header, see same_reads);
// 3. all at once with small limits (256-byte header, 16-byte body), from a direct peer.
// Properties, each checked against the input itself (an independent reading of the request
// line and header fields), not against src/:
// - a protocol error is 400, 431 or 501 with a message, and its answer is SPEC §3's error body
//   in valid UTF-8 JSON (`bad_request`, `not_implemented` for 501); a refused header leaves the
//   peer as client and a fresh request id; nothing is read after a refusal or a close;
// - a request's header (request line to the empty line) is within the header limit; its method
//   and target are the request line's, its path and query what the target says (an
//   absolute-form target reduced to its path), its version 1.0 or 1.1; each of its texts (method,
//   target, path, query, request id, client, header values) JSON-escapes (as the log line and
//   error messages write it) to valid UTF-8;
// - its headers are the header section's fields in order (a repeated name's fields kept
//   together after the first), names lower-case tokens, values trimmed (obs-fold joined by a
//   space) and free of CR, LF and NUL;
// - its request id is the first X-Request-Id when that is 1..128 plain characters, else 24
//   lower-case hex digits, never repeated;
// - its client address is the direct peer, or from a proxy a canonical IP address: the peer's
//   or one that an X-Forwarded-For entry names;
// - a Host or Transfer-Encoding problem is reported exactly when there is no Host (HTTP/1.1) or
//   more than one, a transfer coding other than chunked (501), or Transfer-Encoding in HTTP/1.0
//   or without chunked exactly once (400), each coding judged on the raw list;
// - a body read whole has its Content-Length (or, chunked, at most the limit); a declared
//   Content-Length over the limit is never read; `Expect: 100-continue` is wanted only with a
//   body to come; a connection stays open only after a complete, accepted request.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/request_reader.hpp"
#include "log/log.hpp"

namespace {

using namespace invited;
using fuzz::check;
using http::BodyOutcome;
using http::HeaderOutcome;

constexpr std::size_t kMaxRequests = 16;  // per connection, to bound the work per input

const http::TrustedProxies& proxies() {
  static const auto list =
      std::get<http::TrustedProxies>(http::TrustedProxies::parse("10.0.0.0/8, fd00::/8"));
  return list;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

bool is_tchar(char c) {  // RFC 9110 §5.6.2
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto end = text.find(separator);
    parts.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return parts;
}

// The canonical text of an IP address (as inet_ntop writes it; an IPv4-mapped IPv6 address as
// IPv4), or nullopt.
std::optional<std::string> canonical_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string copy(text);
  char out[INET6_ADDRSTRLEN];
  unsigned char bytes[16];
  if (inet_pton(AF_INET, copy.c_str(), bytes) == 1) {
    return std::string(inet_ntop(AF_INET, bytes, out, sizeof out));
  }
  if (inet_pton(AF_INET6, copy.c_str(), bytes) != 1) return std::nullopt;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, bytes)) {
    return std::string(inet_ntop(AF_INET, bytes + 12, out, sizeof out));
  }
  return std::string(inet_ntop(AF_INET6, bytes, out, sizeof out));
}

// Every address an X-Forwarded-For entry could name: the entry, without brackets, without a port.
void forwarded_addresses(std::string_view value, std::set<std::string>& addresses) {
  for (std::string_view entry : split(value, ',')) {
    entry = trim(entry);
    std::vector<std::string_view> candidates{entry};
    if (auto close = entry.find(']');
        !entry.empty() && entry.front() == '[' && close != std::string_view::npos) {
      candidates.push_back(entry.substr(1, close - 1));
    }
    if (auto colon = entry.rfind(':'); colon != std::string_view::npos) {
      candidates.push_back(entry.substr(0, colon));
    }
    for (auto candidate : candidates) {
      if (auto ip = canonical_ip(candidate)) addresses.insert(*ip);
    }
  }
}

// A JSON string's content as the error body writes it: no raw control character or quote, every
// backslash a valid escape.
bool is_json_string_content(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == '"') return false;
    if (c != '\\') continue;
    if (++i == text.size()) return false;
    char escape = text[i];
    if (escape == 'u') {
      if (i + 4 >= text.size()) return false;
      for (std::size_t k = 1; k <= 4; ++k) {
        if (!std::isxdigit(static_cast<unsigned char>(text[i + k]))) return false;
      }
      i += 4;
    } else if (std::string_view("\"\\/bfnrt").find(escape) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

void check_problem(const http::ProtocolError& problem) {
  check(problem.status == 400 || problem.status == 431 || problem.status == 501,
        "a protocol error is 400, 431 or 501");
  check(!problem.message.empty(), "a protocol error has a message");
  http::Response response = http::protocol_error_response(problem);
  check(response.status == problem.status, "the answer carries the error's status");
  check(response.close_connection, "the connection closes after a protocol error");
  check(response.content_type == "application/json", "a protocol error is JSON");
  check(fuzz::is_utf8(response.body), "a protocol error's body is valid UTF-8");
  std::string_view body = response.body;
  constexpr std::string_view kStart = R"({"success":false,"error":")";
  const std::string_view end =
      problem.status == 501 ? R"(","code":"not_implemented"})" : R"(","code":"bad_request"})";
  check(body.starts_with(kStart) && body.ends_with(end) &&
            body.size() > kStart.size() + end.size() &&
            is_json_string_content(
                body.substr(kStart.size(), body.size() - kStart.size() - end.size())),
        "a protocol error's body is SPEC §3's error object");
}

bool is_fresh_request_id(std::string_view id) {
  return id.size() == 24 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == ':')) {
      return false;
    }
  }
  return true;
}

// The path and query a target names: an absolute-form target (http:// or https://, any case)
// from its first '/' or '?' after the authority ("/" if none); "/" for an empty path.
std::pair<std::string, std::string> path_and_query(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      auto rest = target.substr(scheme.size());
      auto start = rest.find_first_of("/?");
      target = start == std::string_view::npos ? std::string_view("/") : rest.substr(start);
      break;
    }
  }
  auto question = target.find('?');
  std::string path(target.substr(0, question));
  if (path.empty()) path = "/";
  std::string query =
      question == std::string_view::npos ? "" : std::string(target.substr(question + 1));
  return {path, query};
}

struct Setup {
  http::ReaderLimits limits;
  http::Peer peer;
};

// Checks one outcome against the bytes of its request, which start at `start` in `input`.
void check_outcome(const http::ReadOutcome& read, std::string_view input, std::size_t start,
                   const Setup& setup, std::set<std::string>& fresh_ids) {
  const auto& head = read.head;
  const http::Request& request = head.request;
  if (head.kind == HeaderOutcome::Kind::kClosed) {
    check(!head.problem && !read.body && !read.keep_alive, "a close answers nothing");
    return;
  }
  if (head.problem) check_problem(*head.problem);
  if (head.kind == HeaderOutcome::Kind::kMalformed) {
    check(head.problem && (head.problem->status == 400 || head.problem->status == 431),
          "a malformed header is 400 or 431");
    check(request.client_address == setup.peer.address, "a refused header's client is the peer");
    check(is_fresh_request_id(request.request_id) && fresh_ids.insert(request.request_id).second,
          "a refused header gets a fresh request id");
    check(!read.body && !read.keep_alive, "nothing is read after a malformed header");
    return;
  }

  // The request line and header section, read independently.
  std::string_view bytes = input.substr(start);
  auto header_end = bytes.find("\r\n\r\n");
  check(header_end != std::string_view::npos, "a request's header ends with an empty line");
  auto lines = fuzz::crlf_lines(bytes.substr(0, header_end));
  auto words = split(lines[0], ' ');
  check(words.size() == 3, "a request line is method, target and version");
  check(request.method_text == words[0], "the method is the request line's");
  check(request.method == http::Method::kOther ||
            http::method_name(request.method) == request.method_text,
        "a known method is named by its text");
  check(request.target == words[1], "the target is the request line's");
  auto [path, query] = path_and_query(words[1]);
  check(request.path == path, "the path is what the target says");
  check(request.query == query, "the query is what the target says");
  check(header_end + 4 <= setup.limits.header_limit, "an accepted header is within the limit");
  // The request's own words reach the server's log line and error messages only JSON-escaped:
  // valid UTF-8 JSON string content, whatever bytes they were.
  std::vector<std::string_view> texts{request.method_text, request.target,
                                      request.path,        request.query,
                                      request.request_id,  request.client_address};
  for (const auto& [name, value] : request.headers) texts.push_back(value);
  for (std::string_view text : texts) {
    std::string escaped;
    log::append_json_escaped(escaped, text);
    check(fuzz::is_utf8(escaped) && is_json_string_content(escaped),
          "a request's text JSON-escapes to valid UTF-8 JSON string content");
  }
  check((words[2] == "HTTP/1.1" && head.version == 11) ||
            (words[2] == "HTTP/1.0" && head.version == 10),
        "the version is the request line's, 1.0 or 1.1");

  // Header fields: each line "name: value"; a line starting with a space or tab continues the
  // previous field's value (obs-fold), the non-empty parts joined by one space.
  std::vector<std::pair<std::string, std::string>> fields;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view part;
    if (lines[i].starts_with(' ') || lines[i].starts_with('\t')) {
      check(!fields.empty(), "a folded line continues a field");
      part = trim(lines[i]);
    } else {
      auto colon = lines[i].find(':');
      check(colon != std::string_view::npos, "a field line has a colon");
      fields.emplace_back(lower(lines[i].substr(0, colon)), "");
      part = trim(lines[i].substr(colon + 1));
    }
    if (part.empty()) continue;
    std::string& value = fields.back().second;
    if (!value.empty()) value += ' ';
    value += part;
  }
  // Beast's fields keep a repeated name together: a field goes after the last one of its name.
  std::vector<std::pair<std::string, std::string>> grouped;
  for (auto& field : fields) {
    auto last = std::find_if(grouped.rbegin(), grouped.rend(),
                             [&field](const auto& other) { return other.first == field.first; });
    grouped.insert(last == grouped.rend() ? grouped.end() : last.base(), std::move(field));
  }
  fields = std::move(grouped);
  check(request.headers.size() == fields.size(), "one header per field line");
  std::size_t hosts = 0;
  bool transfer_encoding = false;
  bool other_coding = false;
  std::size_t chunked = 0;
  std::optional<std::uint64_t> content_length;
  bool expects_continue = false;
  std::optional<std::string> first_request_id;
  std::set<std::string> forwarded;
  bool any_forwarded = false;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto& [name, value] = request.headers[i];
    check(name == fields[i].first, "header names are the field lines', in order");
    check(value == fields[i].second, "header values are the field lines', trimmed");
    check(!name.empty() && lower(name) == name, "header names are lower-case");
    for (char c : name) check(is_tchar(c), "a header name is a token");
    check(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
          "a header value has no CR, LF or NUL");
    if (name == "host") ++hosts;
    if (name == "transfer-encoding") {
      transfer_encoding = true;
      for (auto coding : split(value, ',')) {
        coding = trim(coding);
        if (coding.empty()) continue;
        if (iequals(coding, "chunked")) {
          ++chunked;
        } else {
          other_coding = true;
        }
      }
    }
    if (name == "content-length") {
      // One number, or a list of the same number (RFC 9110 §8.6).
      std::uint64_t length = 0;
      auto number = trim(split(value, ',')[0]);
      auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), length);
      check(error == std::errc() && end == number.data() + number.size(),
            "a Content-Length is a number");
      content_length = length;
    }
    if (name == "expect" && iequals(value, "100-continue")) expects_continue = true;
    if (name == "x-request-id" && !first_request_id) first_request_id = value;
    if (name == "x-forwarded-for") {
      any_forwarded = true;
      forwarded_addresses(value, forwarded);
    }
  }

  if (first_request_id && is_sane_request_id(*first_request_id)) {
    check(request.request_id == *first_request_id, "a plain incoming request id is kept");
  } else {
    check(is_fresh_request_id(request.request_id) && fresh_ids.insert(request.request_id).second,
          "otherwise the request id is fresh: 24 hex digits, never repeated");
  }

  if (setup.peer.proxies == nullptr || !any_forwarded) {
    check(request.client_address == setup.peer.address, "the client is the peer");
  } else {
    auto canonical = canonical_ip(request.client_address);
    check(canonical && *canonical == request.client_address,
          "a forwarded client is a canonical IP address");
    check(
        request.client_address == setup.peer.address || forwarded.contains(request.client_address),
        "a forwarded client is the peer or named by X-Forwarded-For");
  }

  if (hosts > 1 || (hosts == 0 && head.version == 11)) {
    check(head.problem && head.problem->status == 400, "no Host in HTTP/1.1, or two, is 400");
  } else if (other_coding) {
    check(head.problem && head.problem->status == 501, "a transfer coding but chunked is 501");
  } else if (transfer_encoding && (head.version == 10 || chunked != 1)) {
    check(head.problem && head.problem->status == 400,
          "Transfer-Encoding in HTTP/1.0, or without chunked exactly once, is 400");
  } else {
    check(!head.problem, "a well-framed request has no problem");
  }

  check(head.body_too_large == request.body_too_large || read.body,
        "the request says when its body was too large");
  check(head.body_too_large == (content_length && *content_length > setup.limits.body_limit),
        "a declared body is too large exactly when over the limit");
  if (head.problem || head.body_too_large) {
    check(!read.body && request.body.empty(), "a refused body is never read");
  }
  check(!head.wants_continue || (expects_continue && !head.body_too_large && read.body),
        "100-continue is wanted only when asked, with a body to come");
  if (read.body) {
    if (read.body->problem) {
      check(read.body->kind == BodyOutcome::Kind::kMalformed && read.body->problem->status == 400 &&
                read.body->problem->message.starts_with("malformed request body: "),
            "a malformed body is 400");
      check_problem(*read.body->problem);
    }
    if (read.body->kind == BodyOutcome::Kind::kComplete) {
      check(!content_length || request.body.size() == *content_length,
            "a body has its Content-Length");
      check(request.body.size() <= setup.limits.body_limit, "a body is within the limit");
    } else {
      check(!read.keep_alive, "a connection closes after a body that was not read whole");
    }
    check((read.body->kind == BodyOutcome::Kind::kTooLarge) == request.body_too_large,
          "a body over the limit is marked too large");
  } else if (!head.problem && !head.body_too_large) {
    check(read.complete && request.body.empty() && (!content_length || *content_length == 0),
          "a request without a body to read has none");
  }
  check(!read.keep_alive || (read.complete && !head.problem),
        "only an accepted request keeps "
        "the connection open");
}

// A comparable description of an outcome, for the pieces-against-whole property. Fresh request
// ids differ from run to run and are left out.
std::string describe(const http::ReadOutcome& read) {
  const auto& head = read.head;
  const auto& request = head.request;
  std::string text = std::to_string(static_cast<int>(head.kind)) + "|";
  if (head.problem) text += std::to_string(head.problem->status) + " " + head.problem->message;
  text += "|" + request.method_text + "|" + request.target + "|" + request.path + "|" +
          request.query + "|" + std::to_string(head.version) + "|";
  for (const auto& [name, value] : request.headers) text += name + ": " + value + "\n";
  text += "|" + request.client_address + "|" + request.body + "|";
  if (!is_fresh_request_id(request.request_id)) text += request.request_id;
  text += "|" + std::to_string(head.body_too_large) + std::to_string(head.wants_continue) +
          std::to_string(request.body_too_large) + std::to_string(read.complete) +
          std::to_string(read.keep_alive) + "|";
  if (read.body) {
    text += std::to_string(static_cast<int>(read.body->kind));
    if (read.body->problem) text += " " + read.body->problem->message;
  }
  return text;
}

// One request of a connection as read: where it started, what came of its header, and all of
// it described.
struct Read {
  std::size_t start;
  HeaderOutcome::Kind kind;
  int status;  // of the header's problem; 0 if none
  std::string description;
  bool operator==(const Read&) const = default;
};

// Reads the connection's requests as the server does.
std::vector<Read> read_connection(std::string_view input, std::size_t piece, const Setup& setup,
                                  bool check_each) {
  http::ByteStream stream(input, piece);
  boost::beast::flat_buffer buffer;
  std::set<std::string> fresh_ids;
  std::vector<Read> reads;
  for (std::size_t n = 0; n < kMaxRequests; ++n) {
    const std::size_t start = stream.delivered() - buffer.size();
    http::ReadOutcome read = http::read_request(stream, buffer, setup.limits, setup.peer);
    if (check_each) check_outcome(read, input, start, setup, fresh_ids);
    reads.push_back(Read{start, read.head.kind, read.head.problem ? read.head.problem->status : 0,
                         describe(read)});
    if (!read.keep_alive) break;
  }
  return reads;
}

// Whether reading in pieces gave what reading at once gave. One difference is Beast's and
// allowed, on the last request only: bytes that arrive at once may show a malformed header (400)
// that the parser does not see when they arrive in pieces, since after a piece that ends too
// early it waits for the end of the header (or, in the request line, for 8 bytes of version)
// before it looks again; a client that then stops sending gets no answer instead of a 400.
bool same_reads(const std::vector<Read>& whole, const std::vector<Read>& pieces) {
  if (whole == pieces) return true;
  if (whole.size() != pieces.size()) return false;
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    if (!(whole[i] == pieces[i])) return false;
  }
  const Read& at_once = whole.back();
  const Read& in_pieces = pieces.back();
  return at_once.start == in_pieces.start && at_once.kind == HeaderOutcome::Kind::kMalformed &&
         at_once.status == 400 && in_pieces.kind == HeaderOutcome::Kind::kClosed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const Setup behind_proxy{http::ReaderLimits{16 * 1024, 64 * 1024},
                           http::Peer{"10.0.0.1", &proxies()}};
  const Setup direct_small{http::ReaderLimits{256, 16}, http::Peer{"192.0.2.7", nullptr}};

  auto whole = read_connection(input, SIZE_MAX, behind_proxy, true);
  const std::size_t piece = size == 0 ? 1 : static_cast<unsigned char>(input.back()) % 16 + 1;
  check(same_reads(whole, read_connection(input, piece, behind_proxy, false)),
        "the outcomes do not depend on the pieces the bytes arrive in");
  read_connection(input, SIZE_MAX, direct_small, true);
  return 0;
}
