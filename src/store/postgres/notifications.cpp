// LISTEN/NOTIFY: waiting on a listening connection for what other sessions notify.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "store/postgres/connection.hpp"

namespace invited::store::postgres {
namespace {

int milliseconds_until(Clock::time_point until) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 1'000'000'000));
}

}  // namespace

std::vector<Connection::Notification> Connection::wait_for_notifications(Clock::time_point until) {
  if (!ok()) fail_connection("the listening connection is closed");
  auto received = [this] {
    std::vector<Notification> notifications;
    while (PGnotify* notify = PQnotifies(conn_)) {
      notifications.push_back(Notification{notify->relname, notify->extra});
      PQfreemem(notify);
    }
    return notifications;
  };
  if (auto earlier = received(); !earlier.empty()) return earlier;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  int ready = ::poll(&fd, 1, milliseconds_until(until));
  if (ready < 0 && errno != EINTR) fail_connection("cannot wait on the listening connection");
  // Readable also when the server closed the connection: reading then finds it gone.
  if (ready > 0 && PQconsumeInput(conn_) == 0) fail_connection("the listening connection broke");
  if (PQstatus(conn_) != CONNECTION_OK) fail_connection("the listening connection broke");
  return received();
}

}  // namespace invited::store::postgres
