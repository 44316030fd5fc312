#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/client_address.hpp"
#include "http/message.hpp"

namespace invited::http {

// A request the server refuses on its own, before any handler sees it: 400 (malformed header or
// body, no Host or two), 431 (header over the limit) or 501 (a transfer coding other than
// chunked), with a message saying what is wrong. The connection closes after the answer.
struct ProtocolError {
  int status = 400;
  std::string message;
};

// The answer to `error`: SPEC §3's error body (`"code":"bad_request"`, or `"not_implemented"`
// for 501; the message repaired to valid UTF-8), with close_connection set.
Response protocol_error_response(const ProtocolError& error);

// The server's limits on a request: the header (request line and fields, in bytes) and the body
// (after chunked decoding).
struct ReaderLimits {
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 64 * 1024;
};

// Where the bytes came from: the connection's peer address (canonical text), and the proxies
// whose X-Forwarded-For is believed when the peer is one of them (nullptr: the peer is not a
// trusted proxy and is the client). The proxies must outlive the reader's calls.
struct Peer {
  std::string_view address;
  const TrustedProxies* proxies = nullptr;
};

// What reading a request's header gave.
struct HeaderOutcome {
  enum class Kind {
    kRequest,    // a request: `request` holds everything but its body
    kMalformed,  // no request: answer `problem` (`request` has only request_id, client_address)
    kClosed,     // nothing to answer: the client went away or stopped sending, or a timeout
  };
  Kind kind = Kind::kClosed;
  Request request;
  // kMalformed: why. kRequest: how it frames itself wrongly (Host, Transfer-Encoding); such a
  // request is answered with this, before routing and without reading its body.
  std::optional<ProtocolError> problem;
  unsigned version = 11;  // 10 or 11 for a request; 11 (the answer's version) otherwise
  // Content-Length over the body limit: the body is never read; request.body_too_large is set
  // (the handler answers 413 after its own checks).
  bool body_too_large = false;
  // The client sent `Expect: 100-continue` and its body is still to be read (never with a
  // problem, whose body is not read).
  bool wants_continue = false;
};

// What reading a request's body gave.
struct BodyOutcome {
  enum class Kind {
    kComplete,   // request.body holds the whole body, chunked coding removed
    kTooLarge,   // over the body limit: request.body_too_large is set; the rest is unread
    kMalformed,  // answer `problem` (400), e.g. a chunk size that is not hex
    kClosed,     // nothing to answer: the client went away or stopped sending, or a timeout
  };
  Kind kind = Kind::kClosed;
  std::optional<ProtocolError> problem;
};

// Turns the bytes of one request into an http::Request or a protocol error. The reader owns a
// Beast parser with the limits; the caller reads into it (Beast's read_header / async_read_header,
// then read / async_read for the body, over its buffer, which keeps bytes of the next request),
// and hands each read's error to finish_header / finish_body, which judge the result: so the
// server reads asynchronously from its socket, read_request() synchronously from bytes, and both
// judge them with the same code. One reader per request; not thread-safe.
class RequestReader {
 public:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  explicit RequestReader(const ReaderLimits& limits);

  // The parser to read into. Read the header first; read the body only for a kRequest without a
  // problem, body_too_large or an answer the caller gives first.
  Parser& parser() { return parser_; }

  // Judges the header read that ended with `error`, which handed `header_bytes` to the parser
  // (what Beast's read_header returns). A header over the limit is 431 however its bytes are
  // split between the request line and the fields (Beast's parser limits each on its own).
  // For a request: method, target (an
  // absolute-form target is reduced to its path and query), path ("/" if empty), query, headers
  // (names lower-cased, in the order received, except that Beast keeps a repeated name's fields
  // together, after its first), request_id (a sane incoming x-request-id, else a fresh one),
  // client_address (the peer, or the client a trusted proxy's X-Forwarded-For names).
  HeaderOutcome finish_header(const boost::system::error_code& error, std::size_t header_bytes,
                              const Peer& peer);

  // Judges the body read that ended with `error`, and moves the body into `request`.
  BodyOutcome finish_body(const boost::system::error_code& error, Request& request);

  // Whether the whole request, body included, has been read.
  bool complete() const { return parser_.is_done(); }
  // Whether the client asked to keep the connection open (HTTP/1.1 without `close`, or 1.0 with
  // keep-alive).
  bool keep_alive() const { return parser_.get().keep_alive(); }

 private:
  std::size_t header_limit_;
  Parser parser_;
};

// A synchronous stream over bytes in memory, for Beast's synchronous reads: each read hands out
// at most `piece` bytes (as TCP may deliver a request in pieces), then end of stream.
class ByteStream {
 public:
  explicit ByteStream(std::string_view bytes, std::size_t piece = SIZE_MAX)
      : bytes_(bytes), piece_(piece == 0 ? 1 : piece) {}

  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& error) {
    error = {};
    if (delivered_ == bytes_.size()) {
      error = boost::asio::error::eof;
      return 0;
    }
    std::string_view rest = bytes_.substr(delivered_, piece_);
    std::size_t copied = boost::asio::buffer_copy(buffers, boost::asio::buffer(rest));
    delivered_ += copied;
    return copied;
  }

  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code error;
    std::size_t copied = read_some(buffers, error);
    if (error) throw boost::system::system_error(error);
    return copied;
  }

  // How many bytes the reads have taken so far.
  std::size_t delivered() const { return delivered_; }

 private:
  std::string_view bytes_;
  std::size_t piece_;
  std::size_t delivered_ = 0;
};

// One request read synchronously as the server reads it, short of routing and handlers: its
// header, then its body unless the header already decided the answer (a problem, a body over
// the limit). `buffer` keeps what was read beyond this request (a pipelined next one); call
// again with the same stream and buffer for it while `keep_alive`.
struct ReadOutcome {
  HeaderOutcome head;
  std::optional<BodyOutcome> body;  // when the body was read
  bool complete = false;            // the whole request was read
  bool keep_alive = false;          // the connection could serve another request after this one
};
ReadOutcome read_request(ByteStream& stream, boost::beast::flat_buffer& buffer,
                         const ReaderLimits& limits, const Peer& peer);

}  // namespace invited::http
