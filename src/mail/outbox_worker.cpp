#include "mail/outbox_worker.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "domain/clock.hpp"
#include "log/log.hpp"
#include "mail/invitation_email.hpp"
#include "mail/mime.hpp"

namespace invited::mail {

OutboxWorker::OutboxWorker(domain::Store& store, Transport& transport, OutboxOptions options)
    : store_(store), transport_(transport), options_(std::move(options)) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  thread_ = std::thread([this] { run(); });
}

void OutboxWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_one();
}

OutboxStats OutboxWorker::stats() const { return {sent_.load(), retried_.load(), failed_.load()}; }

void OutboxWorker::run() {
  // Delivery is background work: under load, requests come first, and the outbox (durable in the
  // database) catches up when the load eases. A nice of 10 gives this thread about a tenth of a
  // contended core.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      notified_ = false;
    }
    std::size_t handled = 0;
    try {
      handled = deliver_due();
    } catch (const std::exception& error) {
      // The store is failing; back off before the next pass instead of spinning.
      log::error("outbox pass failed", {{"error", error.what()}});
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      continue;
    }
    if (handled >= static_cast<std::size_t>(options_.batch)) continue;  // more may be due

    std::optional<std::int64_t> next_due_ms;
    store_.read_and_wait([&next_due_ms](domain::ReadTx& tx) -> domain::Status {
      next_due_ms = tx.next_email_due_ms();
      return {};
    });
    std::unique_lock lock(mutex_);
    auto woken = [this] { return stopping_ || notified_; };
    if (next_due_ms) {
      auto wait_ms = std::max<std::int64_t>(0, *next_due_ms - domain::now().unix_ms);
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), woken);
    } else {
      wake_.wait(lock, woken);
    }
  }
}

std::size_t OutboxWorker::deliver_due() {
  std::vector<domain::OutboxEmail> due;
  std::vector<domain::Invitation> invitations;
  const auto now_ms = domain::now().unix_ms;
  auto status = store_.read_and_wait([&](domain::ReadTx& tx) -> domain::Status {
    due = tx.due_emails(now_ms, options_.batch);
    invitations.clear();
    for (const auto& email : due) invitations.push_back(tx.load_invitation(email.batch_pk));
    return {};
  });
  if (!status) throw std::runtime_error("could not read the outbox: " + status.error().message);

  std::vector<Outcome> outcomes;
  for (std::size_t i = 0; i < due.size(); ++i) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    outcomes.push_back(deliver(due[i], invitations[i]));
  }
  // One unit of work (one commit) records the whole pass.
  if (!outcomes.empty()) {
    auto recorded = store_.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
      for (const Outcome& outcome : outcomes) record(tx, outcome);
      return {};
    });
    if (!recorded) {
      throw std::runtime_error("could not record deliveries: " + recorded.error().message);
    }
  }
  return due.size();
}

void OutboxWorker::record(domain::WriteTx& tx, const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::kSent:
      tx.mark_email_sent(outcome.email_pk, outcome.attempts, outcome.at.seconds());
      break;
    case Outcome::Kind::kRetry:
      tx.mark_email_retry(outcome.email_pk, outcome.attempts, outcome.next_attempt_ms,
                          outcome.error);
      break;
    case Outcome::Kind::kFailed:
      tx.mark_email_failed(outcome.email_pk, outcome.attempts, outcome.error, outcome.at.seconds());
      break;
    case Outcome::Kind::kCancelled:
      tx.mark_email_cancelled(outcome.email_pk, outcome.at.seconds());
      break;
  }
}

OutboxWorker::Outcome OutboxWorker::deliver(const domain::OutboxEmail& email,
                                            const domain::Invitation& invitation) {
  const std::string message_id = email.message_id.str() + "@" + options_.message_id_host;
  const int attempt = email.attempts + 1;
  const auto now = domain::now();
  Outcome outcome{.kind = Outcome::Kind::kSent,
                  .email_pk = email.pk,
                  .attempts = attempt,
                  .at = now,
                  .next_attempt_ms = 0,
                  .error = {}};

  if (invitation.targets.empty()) {
    // Every invite of the batch was revoked or answered before the email left: nothing to say.
    log::info("email cancelled", {{"message_id", message_id}, {"reason", "no pending invites"}});
    outcome.kind = Outcome::Kind::kCancelled;
    return outcome;
  }

  std::string accept_url = options_.public_url + "/invites/accept?token=" + email.token;
  RenderedEmail rendered = render_invitation(invitation, accept_url);
  std::string to_name;
  if (invitation.first_name) to_name = *invitation.first_name;
  if (invitation.last_name) to_name += (to_name.empty() ? "" : " ") + *invitation.last_name;
  Message message{.from = options_.from,
                  .to_address = email.to_address,
                  .to_name = to_name,
                  .subject = rendered.subject,
                  .message_id = message_id,
                  .date = now.seconds(),
                  .text = std::move(rendered.text),
                  .html = std::move(rendered.html)};
  Envelope envelope{options_.from_address, email.to_address, message_id, compose(message)};
  SendResult result = transport_.send(envelope);

  if (result.ok) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    log::info("email sent",
              {{"message_id", message_id}, {"transport", transport_.name()}, {"attempt", attempt}});
    return outcome;
  }
  outcome.error = result.error;
  if (result.permanent || attempt >= options_.max_attempts) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    log::error("email failed", {{"message_id", message_id},
                                {"transport", transport_.name()},
                                {"attempt", attempt},
                                {"error", result.error}});
    outcome.kind = Outcome::Kind::kFailed;
    return outcome;
  }
  auto delay_ms = static_cast<std::int64_t>(
      std::ceil(options_.retry_seconds * 1000.0 * std::pow(2.0, attempt - 1)));
  retried_.fetch_add(1, std::memory_order_relaxed);
  log::warn("email will be retried", {{"message_id", message_id},
                                      {"transport", transport_.name()},
                                      {"attempt", attempt},
                                      {"retry_in_ms", delay_ms},
                                      {"error", result.error}});
  outcome.kind = Outcome::Kind::kRetry;
  outcome.next_attempt_ms = now.unix_ms + delay_ms;
  return outcome;
}

}  // namespace invited::mail
