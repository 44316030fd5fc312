#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/client_address.hpp"
#include "http/cors.hpp"
#include "http/message.hpp"
#include "http/request_metrics.hpp"
#include "http/router.hpp"

namespace invited::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 0;  // 0: one per core
  // Past 90 % of max_connections, each new connection closes the longest-idle one.
  std::size_t max_connections = 10000;
  // Per client address (Request::client_address); connections from a trusted proxy count for
  // the client their latest request names.
  std::size_t max_connections_per_client = 1000;  // 0: no per-client bound
  TrustedProxies trusted_proxies;                 // whose X-Forwarded-For names the client
  // Which browser origins may call /api/: answers preflights, adds CORS headers to answers.
  CorsPolicy cors;
  std::size_t body_limit = 64 * 1024;
  std::size_t header_limit = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30'000};    // end of headers to end of body
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30'000};
  // Shutdown: requests still being sent are cut off after shutdown_read_grace; requests being
  // handled are answered until drain_timeout, when the loops stop whatever remains.
  std::chrono::milliseconds shutdown_read_grace{5'000};
  std::chrono::milliseconds drain_timeout{8'000};
};

// Open connections by what they are doing. A connection is in exactly one state from the start
// of its session to its end; one just accepted is counted in ServerStats::open_connections a
// moment before it is counted here.
struct ConnectionStates {
  std::uint64_t idle = 0;      // waiting for a request: new, or kept alive between requests
  std::uint64_t reading = 0;   // reading a request's header or body
  std::uint64_t handling = 0;  // the handler, and the store behind it, has the request
  std::uint64_t writing = 0;   // writing the response (or discarding a body left unread)
};

struct ServerStats {
  std::uint64_t requests = 0;
  std::uint64_t client_errors = 0;  // 4xx
  std::uint64_t server_errors = 0;  // 5xx
  std::uint64_t open_connections = 0;
  ConnectionStates connections;
  // Per route and method, of every listener; empty before run().
  std::vector<RouteRequestStats> routes;
};

// Answers for requests the router cannot place. They decide the body format (JSON for the
// API, HTML for pages); the server adds x-request-id and the access log.
struct Fallbacks {
  std::function<Response(const Request&)> not_found;
  std::function<Response(const Request&, const std::string& allow)> method_not_allowed;
  enum class Unavailable {
    kConnections,        // the server holds its bound of open connections
    kClientConnections,  // this client holds its share of them
  };
  std::function<Response(const Request&, Unavailable why)> unavailable;
};

// The HTTP/1.1 server: Boost.Beast sessions as C++20 coroutines on an io_context run by one
// thread per core, on one listening socket or more (bind_also), each with its router. Keep-alive,
// body and header limits, timeouts, a bound on open connections and one per client address (when a
// bound is reached the connection is answered 503 with Retry-After and closed; past 90 % of the
// bound, idle connections are closed oldest first to make room), `x-request-id` on every response,
// one JSON access-log line per request, and per-route metrics (stats()) recorded without a lock.
//
// run() blocks until SIGTERM or SIGINT (or stop()): it then stops accepting, closes idle
// connections at once, gives requests still being sent shutdown_read_grace to arrive (then
// closes their connections), answers the requests in hand (their connections close after the
// reply), and returns once every session has ended or drain_timeout passed.
class Server {
 public:
  Server(ServerOptions options, const Router& router, Fallbacks fallbacks);
  ~Server();

  // Raises the process's soft limit on open files to its hard limit (so max_connections is
  // reachable; warns if it is not), then binds the listening socket; throws std::system_error
  // if the address is taken. Returns the bound port (useful with port 0).
  std::uint16_t bind();

  // Binds one more listening socket, at `address`:`port`, whose requests `router` serves (with
  // the same fallbacks, threads, connection bounds, timeouts and shutdown as the first). Call
  // after bind() and before run(); throws std::system_error if the address is taken. Returns
  // the bound port.
  std::uint16_t bind_also(const std::string& address, std::uint16_t port, const Router& router);

  // Posts `task` to one of the event loops (in turn); safe from any thread. Used for store
  // completions.
  void post(std::function<void()> task);

  void run();
  void stop();

  // Safe from any thread.
  ServerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace invited::http
