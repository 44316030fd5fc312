#include "http/server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "http/request_reader.hpp"
#include "log/log.hpp"

namespace invited::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Why a connection is refused: the server holds its bound of connections, or the client its
// share of them.
enum class Refusal { kNone, kServerFull, kClientFull };

// How long a refused connection may take to send its request before it is closed unanswered.
constexpr std::chrono::milliseconds kRefusalWait{2000};

// Completion token that reports errors through `error` instead of throwing.
auto with_error(boost::system::error_code& error) {
  return asio::redirect_error(asio::use_awaitable, error);
}

// Raises the soft limit on open descriptors to the hard limit, so that `connections` client
// sockets (plus the database, log and listening descriptors) can be open at once. Warns when
// the hard limit is too low for that.
void raise_descriptor_limit(std::size_t connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  constexpr std::size_t kOtherDescriptors = 64;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < connections + kOtherDescriptors) {
    log::warn(
        "open-file limit below the connection bound; raise the hard limit (ulimit -Hn, "
        "LimitNOFILE=)",
        {{"nofile", static_cast<std::uint64_t>(limit.rlim_cur)},
         {"max_connections", static_cast<std::uint64_t>(connections)}});
  }
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

  void expires_after(std::chrono::milliseconds timeout) { expires_at(Clock::now() + timeout); }

  void expires_at(Clock::time_point when) {
    auto previous = deadline;
    deadline = when;
    if (deadline < previous) timer.cancel();  // wake the watchdog to re-arm earlier
  }

  void close() {
    closed = true;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    timer.cancel();
  }

  // What the connection is doing; only its own thread reads or writes it. (The order of
  // Server::Impl::phases_.)
  enum class Phase {
    kIdle,      // waiting for the first byte of a request (a new or a keep-alive connection)
    kReading,   // reading a request's header or body
    kHandling,  // the handler (and the store behind it) has the request
    kWriting,   // writing the response
  };
  static constexpr std::size_t kPhases = 4;

  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  Phase phase = Phase::kIdle;
  bool closed = false;
  std::string peer;            // the peer's IP address
  bool peer_is_proxy = false;  // the peer is in --trusted-proxies

  // Guarded by the server's connection mutex.
  std::string client;         // the address charged for this connection; empty: none
  bool in_idle_list = false;  // whether idle_entry is valid
  std::list<std::weak_ptr<Connection>>::iterator idle_entry;
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

// A listening socket and the router that serves its requests.
struct Listener {
  Listener(asio::io_context& context, const Router& r) : acceptor(context), router(r) {}

  tcp::acceptor acceptor;
  const Router& router;
  // The RequestMetrics slot of each of the router's patterns (filled by run()).
  std::vector<std::size_t> route_slots;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router, Fallbacks fallbacks)
      : options_(std::move(options)),
        fallbacks_(std::move(fallbacks)),
        contexts_(make_contexts(options_.threads)),
        control_(*contexts_.front()),
        signals_(control_, SIGINT, SIGTERM),
        drain_timer_(control_) {
    listeners_.push_back(std::make_unique<Listener>(control_, router));
  }

  std::uint16_t bind() {
    raise_descriptor_limit(options_.max_connections);
    return bind(*listeners_.front(), options_.address, options_.port);
  }

  std::uint16_t bind_also(const std::string& address, std::uint16_t port, const Router& router) {
    auto listener = std::make_unique<Listener>(control_, router);
    const std::uint16_t bound = bind(*listener, address, port);  // kept only once bound
    listeners_.push_back(std::move(listener));
    return bound;
  }

  // Spread over every loop: completions build their JSON answers where they land.
  void post(std::function<void()> task) { asio::post(next_context(), std::move(task)); }

  void run() {
    count_routes();
    signals_.async_wait([this](const boost::system::error_code& error, int) {
      if (!error) stop();
    });
    for (auto& listener : listeners_) {
      asio::co_spawn(control_, accept_loop(*listener), asio::detached);
    }
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
    ServerStats stats{.requests = requests_.load(),
                      .client_errors = client_errors_.load(),
                      .server_errors = server_errors_.load(),
                      .open_connections = connections_.load(),
                      .connections = {},
                      .routes = {}};
    // A connection may be seen leaving one state before it is seen entering the next: never
    // report a count below zero.
    auto phase = [this](Connection::Phase p) {
      return static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, phases_[static_cast<std::size_t>(p)].load()));
    };
    stats.connections = {.idle = phase(Connection::Phase::kIdle),
                         .reading = phase(Connection::Phase::kReading),
                         .handling = phase(Connection::Phase::kHandling),
                         .writing = phase(Connection::Phase::kWriting)};
    if (request_metrics_) stats.routes = request_metrics_->snapshot();
    return stats;
  }

 private:
  static std::uint16_t bind(Listener& listener, const std::string& address, std::uint16_t port) {
    tcp::acceptor& acceptor = listener.acceptor;
    tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    // [::] serves IPv4 too (as IPv4-mapped peers), whatever net.ipv6.bindv6only says.
    if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(false));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    return acceptor.local_endpoint().port();
  }

  // One metrics slot per pattern of every listener's router (a pattern two routers share is
  // one slot). The routers are complete by now and never change again.
  void count_routes() {
    std::vector<std::string> routes;
    for (auto& listener : listeners_) {
      listener->route_slots.clear();
      for (const std::string& pattern : listener->router.patterns()) {
        auto known = std::find(routes.begin(), routes.end(), pattern);
        listener->route_slots.push_back(static_cast<std::size_t>(known - routes.begin()));
        if (known == routes.end()) routes.push_back(pattern);
      }
    }
    request_metrics_ = std::make_unique<RequestMetrics>(std::move(routes));
  }

  // The RequestMetrics slot of a request that `listener` routed to `match`.
  std::size_t route_slot(const Listener& listener, const Router::Match& match) const {
    if (match.pattern_index >= listener.route_slots.size()) return request_metrics_->unmatched();
    return listener.route_slots[match.pattern_index];
  }
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
    for (auto& listener : listeners_) listener->acceptor.close(ignored);
    // Idle connections close at once; a request still being sent gets read_grace to arrive;
    // requests being handled are answered (with Connection: close) until drain_timeout.
    const auto cutoff = Clock::now() + options_.shutdown_read_grace;
    read_cutoff_.store(cutoff.time_since_epoch().count());
    std::lock_guard lock(connections_mutex_);
    for (auto& [raw, weak] : open_) {
      auto connection = weak.lock();
      if (!connection) continue;
      asio::post(connection->socket.get_executor(), [connection, cutoff] {
        if (connection->phase == Connection::Phase::kIdle) {
          connection->close();
        } else if (connection->phase == Connection::Phase::kReading &&
                   connection->deadline > cutoff) {
          connection->expires_at(cutoff);
        }
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

  asio::awaitable<void> accept_loop(Listener& listener) {
    while (!stopping_) {
      boost::system::error_code error;
      tcp::socket socket(next_context());
      co_await listener.acceptor.async_accept(socket, with_error(error));
      if (error) {
        if (stopping_ || error == asio::error::operation_aborted) co_return;
        // Out of descriptors or similar: make room, then back off briefly instead of spinning.
        log::warn("accept failed", {{"error", error.message()}});
        close_idle(1);
        asio::steady_timer pause(control_, std::chrono::milliseconds(50));
        co_await pause.async_wait(with_error(error));
        continue;
      }
      socket.set_option(tcp::no_delay(true), error);
      const std::size_t open = connections_.fetch_add(1) + 1;
      // Past 90 % of the bound, every new connection makes room by closing the connection that
      // has been idle longest, so a newcomer is served while idle ones hold the descriptors.
      if (open > idle_threshold()) close_idle(open - idle_threshold());
      auto connection = std::make_shared<Connection>(std::move(socket));
      auto executor = connection->socket.get_executor();
      Refusal refusal = open > options_.max_connections ? Refusal::kServerFull : Refusal::kNone;
      asio::co_spawn(executor, session(std::move(connection), refusal, listener), asio::detached);
    }
  }

  // A deadline for reading a request, never past the shutdown's cut-off.
  void reading_expires_after(Connection& connection, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    Clock::time_point cutoff{Clock::duration{read_cutoff_.load()}};
    connection.expires_at(std::min(deadline, cutoff));
  }

  std::size_t idle_threshold() const { return options_.max_connections / 10 * 9; }

  // Closes up to `count` connections that wait for a request, oldest idle first. Any thread.
  void close_idle(std::size_t count) {
    std::lock_guard lock(connections_mutex_);
    while (count > 0 && !idle_.empty()) {
      auto connection = idle_.front().lock();
      idle_.pop_front();
      if (!connection) continue;
      connection->in_idle_list = false;
      --count;
      asio::post(connection->socket.get_executor(), [connection] {
        // It may have started a request meanwhile; then it stays.
        if (connection->phase == Connection::Phase::kIdle) connection->close();
      });
    }
  }

  // Moves the connection to `phase`. Idle connections (waiting for a request) are kept in idle_
  // in the order in which they became idle. Runs on the connection's thread.
  void set_phase(const std::shared_ptr<Connection>& connection, Connection::Phase phase) {
    const bool was_idle = connection->phase == Connection::Phase::kIdle;
    const bool idle = phase == Connection::Phase::kIdle;
    if (phase != connection->phase) {
      phases_[static_cast<std::size_t>(connection->phase)].fetch_sub(1, std::memory_order_relaxed);
      phases_[static_cast<std::size_t>(phase)].fetch_add(1, std::memory_order_relaxed);
    }
    connection->phase = phase;
    if (!idle && !was_idle) return;
    std::lock_guard lock(connections_mutex_);
    if (connection->in_idle_list) {
      idle_.erase(connection->idle_entry);
      connection->in_idle_list = false;
    }
    if (idle) {
      connection->idle_entry = idle_.insert(idle_.end(), connection);
      connection->in_idle_list = true;
    }
  }

  // Charges the connection to `client` for the per-client bound; false if that client already
  // holds its share. Any thread.
  bool charge(Connection& connection, const std::string& client) {
    if (options_.max_connections_per_client == 0 || client == connection.client) return true;
    std::lock_guard lock(connections_mutex_);
    release_charge(connection);
    auto [it, inserted] = per_client_.try_emplace(client, 0);
    if (it->second >= options_.max_connections_per_client) return false;
    ++it->second;
    connection.client = client;
    return true;
  }

  // Requires connections_mutex_.
  void release_charge(Connection& connection) {
    if (connection.client.empty()) return;
    auto it = per_client_.find(connection.client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    connection.client.clear();
  }

  void track(const std::shared_ptr<Connection>& connection) {
    phases_[static_cast<std::size_t>(connection->phase)].fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(connections_mutex_);
    open_.emplace(connection.get(), connection);
  }

  void untrack(Connection& connection) {
    phases_[static_cast<std::size_t>(connection.phase)].fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lock(connections_mutex_);
    open_.erase(&connection);
    if (connection.in_idle_list) {
      idle_.erase(connection.idle_entry);
      connection.in_idle_list = false;
    }
    release_charge(connection);
    if (stopping_ && open_.empty()) asio::post(control_, [this] { drain_timer_.cancel(); });
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> connection, Refusal refusal,
                                const Listener& listener) {
    track(connection);
    asio::co_spawn(connection->socket.get_executor(), watchdog(connection), asio::detached);
    boost::system::error_code error;
    auto peer = connection->socket.remote_endpoint(error);
    if (!error) {
      auto address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      connection->peer = address.to_string();
      connection->peer_is_proxy = options_.trusted_proxies.contains(connection->peer);
    }
    // A proxy's connections are charged to the client its requests name, once they arrive.
    if (refusal == Refusal::kNone && !connection->peer_is_proxy &&
        !charge(*connection, connection->peer)) {
      refusal = Refusal::kClientFull;
    }
    co_await serve(connection, refusal, listener);
    connection->close();
    untrack(*connection);
    connections_.fetch_sub(1);
  }

  asio::awaitable<void> serve(std::shared_ptr<Connection> shared, Refusal refusal,
                              const Listener& listener) {
    Connection& connection = *shared;
    tcp::socket& stream = connection.socket;
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      if (stopping_) co_return;
      if (buffer.size() == 0) {
        // Wait for the first byte of the next request with the idle timeout; the header
        // timeout starts once it arrives. A refused connection waits only briefly: it is
        // answered 503 if its request comes at once, else closed.
        if (refusal != Refusal::kNone) {
          connection.expires_after(kRefusalWait);
        } else {
          set_phase(shared, Connection::Phase::kIdle);
          connection.expires_after(first ? options_.header_timeout : options_.idle_timeout);
        }
        boost::system::error_code error;
        std::size_t bytes =
            co_await stream.async_read_some(buffer.prepare(4096), with_error(error));
        if (error) co_return;
        buffer.commit(bytes);
      }
      set_phase(shared, Connection::Phase::kReading);
      first = false;

      // The reader judges what arrives (http/request_reader.hpp); this loop only reads.
      RequestReader reader(ReaderLimits{options_.header_limit, options_.body_limit});
      reading_expires_after(connection, options_.header_timeout);
      boost::system::error_code header_error;
      std::size_t header_bytes = co_await bhttp::async_read_header(stream, buffer, reader.parser(),
                                                                   with_error(header_error));
      const Peer peer{connection.peer,
                      connection.peer_is_proxy ? &options_.trusted_proxies : nullptr};
      HeaderOutcome head = reader.finish_header(header_error, header_bytes, peer);
      if (head.kind == HeaderOutcome::Kind::kClosed) co_return;
      if (head.kind == HeaderOutcome::Kind::kMalformed) {
        // (Named locals, not temporaries, across co_await: GCC 12 destroys such temporaries
        // twice.)
        Response refusal_response = protocol_error_response(*head.problem);
        set_phase(shared, Connection::Phase::kWriting);
        co_await write(connection, head.request, std::move(refusal_response), head.version,
                       Clock::now(), request_metrics_->unmatched());
        co_return;
      }
      const auto started = Clock::now();
      Request request = std::move(head.request);
      const unsigned version = head.version;
      // A proxy's connection is charged to the client its request names.
      if (connection.peer_is_proxy && refusal == Refusal::kNone &&
          !charge(connection, request.client_address)) {
        refusal = Refusal::kClientFull;
      }

      // (No co_await inside a conditional expression: GCC 12 miscompiles the temporaries.)
      // Every answer decided before the body is read leaves the body unread: it is drained after
      // the answer, and the connection closes.
      std::optional<Response> early;
      Router::Match match;
      if (refusal != Refusal::kNone) {
        early = fallbacks_.unavailable(request, refusal == Refusal::kClientFull
                                                    ? Fallbacks::Unavailable::kClientConnections
                                                    : Fallbacks::Unavailable::kConnections);
      } else if (head.problem) {
        early = protocol_error_response(*head.problem);
      } else {
        match = listener.router.match(request.method, request.path);
        const bool wants_continue = head.wants_continue;
        if (wants_continue && match.kind != Router::Match::Kind::kFound) {
          early = unroutable(request, match);
        } else if (wants_continue && match.handler->check_header) {
          set_phase(shared, Connection::Phase::kHandling);
          early = co_await check_header(*match.handler, request);
          set_phase(shared, Connection::Phase::kReading);
        }
        if (wants_continue && !early) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          boost::system::error_code error;
          co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                                     with_error(error));
          if (error) co_return;
        }
      }

      bool body_unread = false;
      if (early || head.body_too_large) {
        body_unread = !reader.complete();
      } else if (!reader.complete()) {
        reading_expires_after(connection, options_.body_timeout);
        boost::system::error_code body_error;
        co_await bhttp::async_read(stream, buffer, reader.parser(), with_error(body_error));
        BodyOutcome body = reader.finish_body(body_error, request);
        if (body.kind == BodyOutcome::Kind::kClosed) co_return;
        if (body.kind == BodyOutcome::Kind::kTooLarge) body_unread = true;
        if (body.kind == BodyOutcome::Kind::kMalformed)
          early = protocol_error_response(*body.problem);
      }
      bool client_keeps_alive = reader.keep_alive();

      Response response;
      const std::size_t route = route_slot(listener, match);
      set_phase(shared, Connection::Phase::kHandling);
      if (early) {
        response = std::move(*early);
        body_unread = body_unread || !reader.complete();
      } else {
        response = co_await dispatch(request, std::move(match));
      }
      bool keep_alive =
          client_keeps_alive && !body_unread && !early && !response.close_connection && !stopping_;
      response.close_connection = !keep_alive;
      set_phase(shared, Connection::Phase::kWriting);
      if (!co_await write(connection, request, std::move(response), version, started, route)) {
        co_return;
      }
      if (body_unread) co_await drain(connection);
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

  // The answer for a request the router cannot place: 404, or 405 with Allow.
  Response unroutable(Request& request, const Router::Match& match) {
    if (match.kind == Router::Match::Kind::kNotFound) return fallbacks_.not_found(request);
    request.route = match.pattern;
    Response response = fallbacks_.method_not_allowed(request, match.allow);
    response.headers.emplace_back("allow", match.allow);
    return response;
  }

  // Runs `start(done)`, a callback-style operation that calls `done(T)` once from any thread,
  // and resumes on this connection's thread with its result.
  template <typename T, typename Start>
  static asio::awaitable<T> on_this_thread(Start start) {
    auto executor = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
        [&start, executor](auto completion) {
          auto shared = std::make_shared<decltype(completion)>(std::move(completion));
          auto guard = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(executor);
          start([shared, guard](T result) {
            auto target = asio::get_associated_executor(*shared, guard->get_executor());
            asio::post(target, [shared, result = std::move(result)]() mutable {
              (*shared)(std::move(result));
            });
            guard->reset();
          });
        },
        asio::use_awaitable);
  }

  asio::awaitable<std::optional<Response>> check_header(const Handler& handler, Request& request) {
    co_return co_await on_this_thread<std::optional<Response>>(
        [&handler, &request](std::function<void(std::optional<Response>)> done) {
          handler.check_header(request, std::move(done));
        });
  }

  asio::awaitable<Response> dispatch(Request& request, Router::Match match) {
    // A CORS preflight is answered here: no route takes OPTIONS, so it never reaches a handler
    // (nor the key check or a rate budget); any other OPTIONS is answered 405 as before.
    if (match.kind == Router::Match::Kind::kMethodNotAllowed) {
      if (auto preflight = options_.cors.preflight(request, match.allow)) {
        request.route = std::move(match.pattern);
        co_return std::move(*preflight);
      }
    }
    if (match.kind != Router::Match::Kind::kFound) co_return unroutable(request, match);
    request.route = std::move(match.pattern);
    request.path_params = std::move(match.params);
    const Handler& handler = *match.handler;
    co_return co_await on_this_thread<Response>(
        [&handler, &request](Respond respond) { handler(request, std::move(respond)); });
  }

  // Writes the response, then counts it under `route` (a RequestMetrics slot) and logs it; false
  // if the connection broke.
  asio::awaitable<bool> write(Connection& connection, const Request& request, Response response,
                              unsigned version, Clock::time_point started, std::size_t route) {
    bhttp::response<bhttp::string_body> message;
    message.version(version);
    message.result(static_cast<unsigned>(response.status));
    options_.cors.add_headers(request, response);
    if (!response.content_type.empty()) {
      message.set(bhttp::field::content_type, response.content_type);
    }
    if (!request.request_id.empty()) message.set("x-request-id", request.request_id);
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.keep_alive(!response.close_connection);
    connection.expires_after(options_.write_timeout);
    boost::system::error_code error;
    if (request.method == Method::kHead) {
      // The header GET would send, Content-Length included, and no body (RFC 9110 §9.3.2).
      bhttp::response<bhttp::empty_body> head(std::move(message.base()));
      head.content_length(response.body.size());
      co_await bhttp::async_write(connection.socket, head, with_error(error));
    } else {
      message.body() = std::move(response.body);
      message.prepare_payload();
      co_await bhttp::async_write(connection.socket, message, with_error(error));
    }
    const Clock::time_point finished = Clock::now();
    request_metrics_->record(route, request.method, response.status, finished - started);
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (response.status >= 500) {
      server_errors_.fetch_add(1, std::memory_order_relaxed);
    } else if (response.status >= 400) {
      client_errors_.fetch_add(1, std::memory_order_relaxed);
    }

    if (log::enabled(log::Level::kInfo)) {
      double latency_ms = std::chrono::duration<double, std::milli>(finished - started).count();
      log::info("request", {{"request_id", request.request_id},
                            {"method", request.method_text},
                            {"path", request.path},
                            {"route", request.route},
                            {"client", request.client_address},
                            {"status", response.status},
                            {"latency_ms", latency_ms},
                            {"key_id", response.log_key_id}});
    }
    co_return !error;
  }

  ServerOptions options_;
  Fallbacks fallbacks_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  asio::io_context& control_;  // contexts_[0]: accepts, signals, shutdown; also serves connections
  std::vector<std::unique_ptr<Listener>> listeners_;  // the first: ServerOptions::address
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  std::atomic<std::size_t> next_context_{0};
  std::atomic<bool> stopping_{false};
  // Once shutting down: when requests still being read are cut off (steady-clock ticks).
  std::atomic<Clock::rep> read_cutoff_{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> client_errors_{0};
  std::atomic<std::uint64_t> server_errors_{0};
  // Sessions in each Connection::Phase (a connection leaves one before it enters the next).
  std::array<std::atomic<std::int64_t>, Connection::kPhases> phases_{};
  std::unique_ptr<RequestMetrics> request_metrics_;  // built by run(), from the routers
  std::mutex connections_mutex_;  // guards the four below and Connection's guarded fields
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;
  std::list<std::weak_ptr<Connection>> idle_;                // idle connections, longest idle first
  std::unordered_map<std::string, std::size_t> per_client_;  // open connections per client
};

Server::Server(ServerOptions options, const Router& router, Fallbacks fallbacks)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(fallbacks))) {}
Server::~Server() = default;
std::uint16_t Server::bind() { return impl_->bind(); }
std::uint16_t Server::bind_also(const std::string& address, std::uint16_t port,
                                const Router& router) {
  return impl_->bind_also(address, port, router);
}
void Server::post(std::function<void()> task) { impl_->post(std::move(task)); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }
ServerStats Server::stats() const { return impl_->stats(); }

}  // namespace invited::http
