#include "http/server.hpp"

#include <sodium.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "log/log.hpp"

namespace invited::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Completion token that reports errors through `error` instead of throwing.
auto with_error(boost::system::error_code& error) {
  return asio::redirect_error(asio::use_awaitable, error);
}

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

Request to_request(const bhttp::request_parser<bhttp::string_body>& parser) {
  const auto& message = parser.get();
  Request request;
  request.method = to_method(message.method());
  request.method_text = std::string(message.method_string());
  request.target = std::string(message.target());
  auto question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
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

Response protocol_error(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.body = std::string(R"({"success":false,"error":")") + std::string(message) +
                  R"(","code":"bad_request"})";
  response.close_connection = true;
  return response;
}

// One client connection. Everything here is touched only on the connection's io_context thread.
//
// Timeouts: the session moves `deadline` before each step and a watchdog coroutine closes the
// socket once the deadline passes, which ends the pending read or write with an error. One timer
// per connection, re-armed only when a deadline moves earlier. (beast::tcp_stream's own timers
// crashed under AddressSanitizer with this Boost 1.81 / GCC 12 toolchain when combined with
// strands; plain sockets on per-thread io_contexts need neither.)
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  void expires_after(std::chrono::milliseconds timeout) {
    auto previous = deadline;
    deadline = Clock::now() + timeout;
    if (deadline < previous) timer.cancel();  // wake the watchdog to re-arm earlier
  }

  void close() {
    closed = true;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    timer.cancel();
  }

  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool idle = true;  // waiting for the next request
  bool closed = false;
};

asio::awaitable<void> watchdog(std::shared_ptr<Connection> connection) {
  while (!connection->closed) {
    connection->timer.expires_at(connection->deadline);
    boost::system::error_code ignored;
    co_await connection->timer.async_wait(with_error(ignored));
    if (connection->closed) co_return;
    if (Clock::now() >= connection->deadline) {
      connection->close();
      co_return;
    }
  }
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router, Fallbacks fallbacks)
      : options_(std::move(options)),
        router_(router),
        fallbacks_(std::move(fallbacks)),
        contexts_(make_contexts(options_.threads)),
        control_(*contexts_.front()),
        acceptor_(control_),
        signals_(control_, SIGINT, SIGTERM),
        drain_timer_(control_) {}

  std::uint16_t bind() {
    tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
  }

  // Spread over every loop: completions build their JSON answers where they land.
  void post(std::function<void()> task) { asio::post(next_context(), std::move(task)); }

  void run() {
    signals_.async_wait([this](const boost::system::error_code& error, int) {
      if (!error) stop();
    });
    asio::co_spawn(control_, accept_loop(), asio::detached);
    // Keep every loop alive until shutdown has drained; the control loop ends on its own.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
      guards.push_back(asio::make_work_guard(*contexts_[i]));
    }
    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
      workers.emplace_back([this, i] { contexts_[i]->run(); });
    }
    control_.run();
    guards.clear();
    for (auto& worker : workers) worker.join();
  }

  void stop() {
    asio::post(control_, [this] { begin_shutdown(); });
  }

  ServerStats stats() const {
    return {requests_.load(), client_errors_.load(), server_errors_.load(), connections_.load()};
  }

 private:
  // One io_context per thread: a connection lives on one of them for its whole life, so its
  // state needs no strand or lock.
  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (int i = 0; i < std::max(threads, 1); ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    return contexts;
  }

  asio::io_context& next_context() {
    auto index = next_context_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
    return *contexts_[index];
  }

  // Runs on control_, as does everything that touches drain_timer_.
  void begin_shutdown() {
    if (stopping_.exchange(true)) return;
    log::info("shutting down", {{"open_connections", connections_.load()}});
    signals_.cancel();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::lock_guard lock(connections_mutex_);
    for (auto& [raw, weak] : open_) {
      auto connection = weak.lock();
      if (!connection) continue;
      asio::post(connection->socket.get_executor(), [connection] {
        if (connection->idle) connection->close();
      });
    }
    if (open_.empty()) return;
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;  // every connection ended first
      log::warn("drain timeout; stopping with requests in flight");
      for (auto& context : contexts_) context->stop();
    });
  }

  asio::awaitable<void> accept_loop() {
    while (!stopping_) {
      boost::system::error_code error;
      tcp::socket socket(next_context());
      co_await acceptor_.async_accept(socket, with_error(error));
      if (error) {
        if (stopping_ || error == asio::error::operation_aborted) co_return;
        // Out of descriptors or similar: back off briefly instead of spinning.
        log::warn("accept failed", {{"error", error.message()}});
        asio::steady_timer pause(control_, std::chrono::milliseconds(50));
        co_await pause.async_wait(with_error(error));
        continue;
      }
      socket.set_option(tcp::no_delay(true), error);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
  }

  void track(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(connections_mutex_);
    open_.emplace(connection.get(), connection);
  }

  void untrack(Connection* connection) {
    std::lock_guard lock(connections_mutex_);
    open_.erase(connection);
    if (stopping_ && open_.empty()) asio::post(control_, [this] { drain_timer_.cancel(); });
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto connection = std::make_shared<Connection>(std::move(socket));
    track(connection);
    asio::co_spawn(connection->socket.get_executor(), watchdog(connection), asio::detached);
    bool over_limit = connections_.fetch_add(1) >= options_.max_connections;
    co_await serve(*connection, over_limit);
    connections_.fetch_sub(1);
    connection->close();
    untrack(connection.get());
  }

  asio::awaitable<void> serve(Connection& connection, bool over_limit) {
    tcp::socket& stream = connection.socket;
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      connection.idle = true;
      if (stopping_) co_return;
      if (buffer.size() == 0) {
        // Wait for the first byte of the next request with the idle timeout; the header
        // timeout starts once it arrives.
        connection.expires_after(first ? options_.header_timeout : options_.idle_timeout);
        boost::system::error_code error;
        std::size_t bytes =
            co_await stream.async_read_some(buffer.prepare(4096), with_error(error));
        if (error) co_return;
        buffer.commit(bytes);
      }
      connection.idle = false;
      first = false;

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
      parser.body_limit(options_.body_limit);
      connection.expires_after(options_.header_timeout);
      boost::system::error_code header_error;
      co_await bhttp::async_read_header(stream, buffer, parser, with_error(header_error));
      // A Content-Length over the body limit fails the header read, but the header is parsed:
      // the request is still routed and authenticated, and answered 413 by its handler.
      const bool declared_too_large = header_error == bhttp::error::body_limit;
      if (header_error && !declared_too_large) {
        // (Named locals, not temporaries, across co_await: GCC 12 destroys such temporaries
        // twice.)
        Request unparsed;
        unparsed.request_id = new_request_id();
        if (header_error == bhttp::error::header_limit) {
          Response refusal = protocol_error(431, "request headers are too large");
          co_await write(connection, unparsed, std::move(refusal), 11, Clock::now());
        } else if (header_error != beast::error::timeout &&
                   header_error != asio::error::operation_aborted &&
                   header_error != bhttp::error::end_of_stream &&
                   header_error != asio::error::eof) {
          Response refusal = protocol_error(400, "malformed HTTP request");
          co_await write(connection, unparsed, std::move(refusal), 11, Clock::now());
        }
        co_return;
      }
      const auto started = Clock::now();
      Request request = to_request(parser);
      const unsigned version = parser.get().version();

      if (declared_too_large) {
        request.body_too_large = true;
      } else if (!parser.is_done()) {
        if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          boost::system::error_code error;
          co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                                     with_error(error));
          if (error) co_return;
        }
        connection.expires_after(options_.body_timeout);
        boost::system::error_code body_error;
        co_await bhttp::async_read(stream, buffer, parser, with_error(body_error));
        if (body_error == bhttp::error::body_limit) {
          request.body_too_large = true;
        } else if (body_error) {
          co_return;
        }
      }
      if (!request.body_too_large) request.body = std::move(parser.get().body());
      bool client_keeps_alive = parser.get().keep_alive();

      // (No co_await inside a conditional expression: GCC 12 miscompiles the temporaries.)
      Response response;
      if (over_limit) {
        response = fallbacks_.unavailable(request);
      } else {
        response = co_await dispatch(request);
      }
      bool keep_alive = client_keeps_alive && !over_limit && !request.body_too_large &&
                        !response.close_connection && !stopping_;
      response.close_connection = !keep_alive;
      if (!co_await write(connection, request, std::move(response), version, started)) co_return;
      if (request.body_too_large) co_await drain(connection);
      if (!keep_alive) co_return;
    }
  }

  // After refusing a body that was not read, half-close and discard what the client is still
  // sending (up to 1 MiB or 2 seconds), so it reads the answer instead of a connection reset.
  asio::awaitable<void> drain(Connection& connection) {
    boost::system::error_code error;
    connection.socket.shutdown(tcp::socket::shutdown_send, error);
    connection.expires_after(std::chrono::seconds(2));
    std::array<char, 16 * 1024> scratch;
    std::size_t discarded = 0;
    while (!error && discarded < 1024 * 1024) {
      discarded +=
          co_await connection.socket.async_read_some(asio::buffer(scratch), with_error(error));
    }
  }

  asio::awaitable<Response> dispatch(Request& request) {
    auto match = router_.match(request.method, request.path);
    switch (match.kind) {
      case Router::Match::Kind::kNotFound:
        co_return fallbacks_.not_found(request);
      case Router::Match::Kind::kMethodNotAllowed: {
        request.route = match.pattern;
        Response response = fallbacks_.method_not_allowed(request, match.allow);
        response.headers.emplace_back("allow", match.allow);
        co_return response;
      }
      case Router::Match::Kind::kFound:
        break;
    }
    request.route = std::move(match.pattern);
    request.path_params = std::move(match.params);
    const Handler& handler = *match.handler;
    auto executor = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
        [&handler, &request, executor](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          auto guard = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(executor);
          handler(request, [shared, guard](Response response) {
            auto target = asio::get_associated_executor(*shared, guard->get_executor());
            asio::post(target, [shared, response = std::move(response)]() mutable {
              (*shared)(std::move(response));
            });
            guard->reset();
          });
        },
        asio::use_awaitable);
  }

  // Writes the response; false if the connection broke.
  asio::awaitable<bool> write(Connection& connection, const Request& request, Response response,
                              unsigned version, Clock::time_point started) {
    bhttp::response<bhttp::string_body> message;
    message.version(version);
    message.result(static_cast<unsigned>(response.status));
    message.set(bhttp::field::content_type, response.content_type);
    if (!request.request_id.empty()) message.set("x-request-id", request.request_id);
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.keep_alive(!response.close_connection);
    message.body() = std::move(response.body);
    message.prepare_payload();
    connection.expires_after(options_.write_timeout);
    boost::system::error_code error;
    co_await bhttp::async_write(connection.socket, message, with_error(error));
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (response.status >= 500) {
      server_errors_.fetch_add(1, std::memory_order_relaxed);
    } else if (response.status >= 400) {
      client_errors_.fetch_add(1, std::memory_order_relaxed);
    }

    if (log::enabled(log::Level::kInfo)) {
      double latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      log::info("request", {{"request_id", request.request_id},
                            {"method", request.method_text},
                            {"path", request.path},
                            {"route", request.route},
                            {"status", response.status},
                            {"latency_ms", latency_ms},
                            {"key_id", response.log_key_id}});
    }
    co_return !error;
  }

  ServerOptions options_;
  const Router& router_;
  Fallbacks fallbacks_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  asio::io_context& control_;  // contexts_[0]: accepts, signals, shutdown; also serves connections
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  std::atomic<std::size_t> next_context_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> client_errors_{0};
  std::atomic<std::uint64_t> server_errors_{0};
  std::mutex connections_mutex_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;
};

Server::Server(ServerOptions options, const Router& router, Fallbacks fallbacks)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(fallbacks))) {}
Server::~Server() = default;
std::uint16_t Server::bind() { return impl_->bind(); }
void Server::post(std::function<void()> task) { impl_->post(std::move(task)); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }
ServerStats Server::stats() const { return impl_->stats(); }

}  // namespace invited::http
