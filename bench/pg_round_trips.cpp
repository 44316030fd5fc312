// What one round trip to PostgreSQL costs through the store's Connection, and what pipeline mode
// saves: N single statements one after another, against the same N statements sent as batches of
// 100 in pipeline mode (one round trip per batch). Run by bench/pg-round-trips on a throwaway
// cluster, over TCP 127.0.0.1 and over the Unix socket.
//
// Usage: pg_round_trips URL [URL...]   (prints one line per URL and way)
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "store/postgres/connection.hpp"

namespace {

using invited::store::postgres::Clock;
using invited::store::postgres::Connection;
using invited::store::postgres::Params;
using invited::store::postgres::Pipeline;
using invited::store::postgres::Statement;

constexpr Statement kEcho{"round_trip_echo", "SELECT $1::int8"};
constexpr int kStatements = 20000;
constexpr int kBatch = 100;

double microseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

void measure(const std::string& url, const char* label) {
  Connection db(Connection::Options{.url = url}, Clock::now() + std::chrono::seconds(10));
  db.query(kEcho, Params().add(std::int64_t{0}));  // prepare, warm up

  auto start = Clock::now();
  for (int i = 0; i < kStatements; ++i) db.query(kEcho, Params().add(std::int64_t{i}));
  double single = microseconds_since(start) / kStatements;

  start = Clock::now();
  for (int done = 0; done < kStatements; done += kBatch) {
    Pipeline pipeline(db);
    for (int i = 0; i < kBatch; ++i) pipeline.add(kEcho, Params().add(std::int64_t{done + i}));
    pipeline.run();
  }
  double batch = microseconds_since(start) / (kStatements / kBatch);

  std::printf(
      "%-7s one statement per round trip: %7.1f us/statement | pipelined batch of %d: %8.1f "
      "us/batch = %5.1f us/statement (%.1fx)\n",
      label, single, kBatch, batch, batch / kBatch, single * kBatch / batch);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pg_round_trips URL [URL...]\n");
    return 2;
  }
  try {
    for (int i = 1; i < argc; ++i) {
      std::string url = argv[i];
      measure(url, url.find("host=/") != std::string::npos ? "socket" : "tcp");
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pg_round_trips: %s\n", error.what());
    return 1;
  }
  return 0;
}
