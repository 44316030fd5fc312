// The organizations' rate-limit buckets, shared by every instance on the database.
#include <memory>

#include "store/postgres/postgres_store.hpp"

namespace invited::store::postgres {
namespace {

// One atomic step: the bucket, refilled for the time since its last draw on the database's
// clock ($3 tokens per $4 seconds, never above $3) and given back $5 tokens, gives whole tokens,
// up to $7 if at least $6 are there, else none. A bucket never drawn from starts full. Under
// READ COMMITTED a draw that finds the row locked by another waits for it, then computes on the
// row that one committed.
constexpr Statement kDraw{
    "rate_budget_draw",
    "INSERT INTO rate_budgets AS b (org_pk, budget, tokens, granted, updated_at) "
    "SELECT $1, $2::int2, $3 - t.granted, t.granted, now() "
    "FROM (SELECT CASE WHEN $3 >= $6 THEN least($7, $3) ELSE 0 END AS granted) t "
    "ON CONFLICT (org_pk, budget) DO UPDATE SET (granted, tokens, updated_at) = ("
    "  SELECT t.granted, r.level - t.granted, greatest(b.updated_at, now()) "
    "  FROM (SELECT least($3::float8, b.tokens + $5 + greatest(0, extract(epoch FROM now() - "
    "          b.updated_at)::float8) * $3 / $4) AS level) r, "
    "  LATERAL (SELECT CASE WHEN r.level >= $6 THEN least($7::float8, floor(r.level))::int8 "
    "                  ELSE 0 END AS granted) t) "
    "RETURNING granted, floor(tokens * 1000)::int8, floor(extract(epoch FROM now()) * 1000)::int8"};

}  // namespace

void PostgresStore::draw(const domain::BucketDraw& draw, domain::DrawDone done) {
  auto drawn = std::make_shared<domain::BucketDrawn>();
  pool_.run(
      Access::kStatement, ConnectionPool::kBudgets,
      [draw, drawn](Transaction& tx) -> domain::Status {
        Result row = tx.connection().query(kDraw, Params()
                                                      .add(draw.org_pk)
                                                      .add(static_cast<int>(draw.budget))
                                                      .add(draw.capacity)
                                                      .add(draw.period_seconds)
                                                      .add(draw.give_back)
                                                      .add(draw.at_least)
                                                      .add(draw.at_most));
        drawn->granted = row.int64(0, 0);
        drawn->milli_tokens_left = row.int64(0, 1);
        drawn->now_ms = row.int64(0, 2);
        return {};
      },
      [drawn, done = std::move(done)](domain::Status status) {
        if (!status) return done(status.error());
        done(*drawn);
      });
}

}  // namespace invited::store::postgres
