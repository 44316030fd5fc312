#include "mail/outbox_worker.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "domain/clock.hpp"
#include "log/log.hpp"
#include "mail/invitation_email.hpp"
#include "mail/mime.hpp"
#include "mail/sender.hpp"

namespace invited::mail {
namespace {

// Backoff while the store refuses the worker's unit of work (locked, full, read-only).
constexpr std::int64_t kFirstStoreRetryMs = 100;
constexpr std::int64_t kLastStoreRetryMs = 5000;

const char* outcome_name(domain::DeliveryOutcome::Kind kind) {
  switch (kind) {
    case domain::DeliveryOutcome::Kind::kSent:
      return "sent";
    case domain::DeliveryOutcome::Kind::kRetry:
      return "retry";
    case domain::DeliveryOutcome::Kind::kFailed:
      return "failed";
    case domain::DeliveryOutcome::Kind::kReleased:
      return "released";
  }
  return "";
}

// An outcome that carries no delay and no error: sent, or released.
domain::DeliveryOutcome plain_outcome(domain::DeliveryOutcome::Kind kind, domain::Pk email_pk,
                                      domain::Instant at) {
  return {.kind = kind, .email_pk = email_pk, .at = at, .next_attempt_ms = 0, .error = {}};
}

}  // namespace

OutboxWorker::OutboxWorker(domain::Store& store, TransportFactory make_transport,
                           OutboxOptions options)
    : store_(store), make_transport_(std::move(make_transport)), options_(std::move(options)) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  const int senders = std::max(1, options_.concurrency);
  for (int i = 0; i < senders; ++i) transports_.push_back(make_transport_());
  {
    std::lock_guard lock(mutex_);
    claims_released_ = !options_.release_claims_on_start;
  }
  for (int i = 0; i < senders; ++i) {
    senders_.emplace_back([this, stop = stop_source_.get_token(), &transport = *transports_[i],
                           first = i == 0] { run(stop, transport, first); });
  }
}

void OutboxWorker::stop() {
  stop_source_.request_stop();
  for (std::thread& sender : senders_) {
    if (sender.joinable()) sender.join();
  }
  // The transports close their connections only once no sender uses them.
  transports_.clear();
}

void OutboxWorker::notify() { wake_one(); }

void OutboxWorker::wake_one() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  mail_.notify_one();
}

OutboxStats OutboxWorker::stats() const {
  return {sent_.load(), retried_.load(), failed_.load(), units_.load()};
}

void OutboxWorker::run(std::stop_token stop, Transport& transport, bool releases_claims) {
  // Delivery is background work: under load, requests come first, and the outbox (durable in the
  // database) catches up when the load eases. A nice of 10 gives the senders about a tenth of a
  // contended core.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);

  bool release_claims = releases_claims && options_.release_claims_on_start;
  // Any claim before the release would be ended by it (and its email sent twice).
  if (!release_claims && !wait_for_release(stop)) return;
  // Outcomes not yet recorded: this sender claims (so sends) nothing else until they are.
  std::vector<domain::DeliveryOutcome> unrecorded;
  std::string unrecorded_message_id;  // the first of them, for the log
  std::int64_t store_retry_ms = 0;
  for (;;) {
    const bool claim = !stop.stop_requested();
    if (!claim && unrecorded.empty()) return;
    // While another sender sleeps, a claim takes one email and wakes it, so that a few emails
    // go out side by side; once every sender is busy (a backlog), each claims a few at once.
    int limit = domain::kEmailsPerClaim;
    {
      // Mail queued from here on is either seen by this claim or wakes a sender's next wait.
      std::lock_guard lock(mutex_);
      notified_ = false;
      if (idle_senders_ > 0) limit = 1;
    }
    Step step;
    domain::Status status = record_and_claim(unrecorded, release_claims, claim, limit, step);
    if (!status) {
      if (stop.stop_requested()) {
        // Shutdown is bounded: the claims stay, so the next start sends these emails again.
        if (!unrecorded.empty()) {
          log::error("delivery not recorded at shutdown; the emails will be sent again",
                     {{"message_id", unrecorded_message_id},
                      {"emails", static_cast<std::int64_t>(unrecorded.size())},
                      {"outcome", outcome_name(unrecorded.front().kind)},
                      {"error", status.error().message}});
        }
        return;
      }
      store_retry_ms = std::clamp(store_retry_ms * 2, kFirstStoreRetryMs, kLastStoreRetryMs);
      if (!unrecorded.empty()) {
        log::warn("delivery not recorded; sending paused",
                  {{"message_id", unrecorded_message_id},
                   {"emails", static_cast<std::int64_t>(unrecorded.size())},
                   {"outcome", outcome_name(unrecorded.front().kind)},
                   {"retry_in_ms", store_retry_ms},
                   {"error", status.error().message}});
      } else {
        log::warn("outbox claim failed",
                  {{"retry_in_ms", store_retry_ms}, {"error", status.error().message}});
      }
      pause(stop, store_retry_ms);
      continue;
    }
    if (!unrecorded.empty() && store_retry_ms > 0) {
      log::info("delivery recorded; sending resumed",
                {{"message_id", unrecorded_message_id},
                 {"emails", static_cast<std::int64_t>(unrecorded.size())}});
    }
    units_.fetch_add(1, std::memory_order_relaxed);
    store_retry_ms = 0;
    unrecorded.clear();
    if (release_claims) {
      if (step.released_claims > 0) {
        log::warn("claims of a stopped run released; those emails are sent again",
                  {{"emails", step.released_claims}});
      }
      release_claims = false;
      {
        std::lock_guard lock(mutex_);
        claims_released_ = true;
      }
      released_.notify_all();
    }

    if (step.claimed.empty()) {
      if (!claim) return;
      wait_for_mail(stop, step.next_due_ms);
      continue;
    }
    // A full claim may have left more due: bring another sender up. A claim that took fewer took
    // every email due and free at that moment (mail queued since then wakes a sender itself).
    if (step.claimed.size() >= static_cast<std::size_t>(limit)) wake_one();
    for (const domain::ClaimedEmail& claimed : step.claimed) {
      const std::string message_id =
          claimed.email.message_id.str() + "@" + options_.message_id_host;
      if (claimed.cancelled) {
        // Recorded by the claim itself.
        log::info("email cancelled",
                  {{"message_id", message_id}, {"reason", "no pending invites"}});
        continue;
      }
      if (unrecorded.empty()) unrecorded_message_id = message_id;
      if (stop.stop_requested()) {
        // Not sent: the claim is given back, its attempt uncounted.
        unrecorded.push_back(plain_outcome(domain::DeliveryOutcome::Kind::kReleased,
                                           claimed.email.pk, domain::now()));
        continue;
      }
      unrecorded.push_back(deliver(claimed, transport, stop));
    }
  }
}

domain::Status OutboxWorker::record_and_claim(const std::vector<domain::DeliveryOutcome>& outcomes,
                                              bool release_claims, bool claim, int limit,
                                              Step& step) {
  return store_.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
    step = Step{};  // the unit may run more than once
    if (release_claims) step.released_claims = tx.release_all_email_claims();
    for (const domain::DeliveryOutcome& outcome : outcomes) domain::record_delivery(tx, outcome);
    if (!claim) return {};
    step.claimed = domain::claim_next_emails(tx, domain::now(), limit);
    if (step.claimed.empty()) step.next_due_ms = tx.next_email_due_ms();
    return {};
  });
}

domain::DeliveryOutcome OutboxWorker::deliver(const domain::ClaimedEmail& claimed,
                                              Transport& transport, std::stop_token stop) {
  const domain::OutboxEmail& email = claimed.email;
  const domain::Invitation& invitation = claimed.invitation;
  const std::string message_id = email.message_id.str() + "@" + options_.message_id_host;
  SendResult result;
  try {
    std::string accept_url = options_.public_url + "/invites/accept?token=" + claimed.token;
    RenderedEmail rendered = render_invitation(invitation, accept_url);
    std::string to_name;
    if (invitation.first_name) to_name = *invitation.first_name;
    if (invitation.last_name) to_name += (to_name.empty() ? "" : " ") + *invitation.last_name;
    Message message{
        .from_name = sender_display_name(invitation.organization_name, options_.from_name),
        .from_address = options_.from_address,
        .to_address = email.to_address,
        .to_name = to_name,
        .subject = rendered.subject,
        .message_id = message_id,
        .date = domain::now().seconds(),
        .text = std::move(rendered.text),
        .html = std::move(rendered.html)};
    Envelope envelope{options_.from_address, email.to_address, message_id, compose(message)};
    result = transport.send(envelope, stop);
  } catch (const std::exception& error) {
    result = {.ok = false,
              .permanent = false,
              .aborted = false,
              .error = std::string("could not compose the message: ") + error.what()};
  }
  const domain::Instant now = domain::now();

  if (result.ok) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    log::info(
        "email sent",
        {{"message_id", message_id}, {"transport", transport.name()}, {"attempt", email.attempts}});
    return plain_outcome(domain::DeliveryOutcome::Kind::kSent, email.pk, now);
  }
  if (result.aborted) {
    log::info("email send aborted by shutdown; it stays queued",
              {{"message_id", message_id}, {"transport", transport.name()}});
    return plain_outcome(domain::DeliveryOutcome::Kind::kReleased, email.pk, now);
  }
  domain::DeliveryOutcome outcome = domain::failed_send(
      email, result.permanent, result.error,
      {.max_attempts = options_.max_attempts, .retry_seconds = options_.retry_seconds}, now);
  if (outcome.kind == domain::DeliveryOutcome::Kind::kFailed) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    log::error("email failed", {{"message_id", message_id},
                                {"transport", transport.name()},
                                {"attempt", email.attempts},
                                {"error", result.error}});
  } else {
    retried_.fetch_add(1, std::memory_order_relaxed);
    log::warn("email will be retried", {{"message_id", message_id},
                                        {"transport", transport.name()},
                                        {"attempt", email.attempts},
                                        {"retry_in_ms", outcome.next_attempt_ms - now.unix_ms},
                                        {"error", result.error}});
  }
  return outcome;
}

void OutboxWorker::wait_for_mail(std::stop_token stop, std::optional<std::int64_t> until_ms) {
  std::unique_lock lock(mutex_);
  auto notified = [this] { return notified_; };
  ++idle_senders_;
  if (!until_ms) {
    mail_.wait(lock, stop, notified);
  } else {
    auto wait_ms = std::max<std::int64_t>(0, *until_ms - domain::now().unix_ms);
    mail_.wait_for(lock, stop, std::chrono::milliseconds(wait_ms), notified);
  }
  --idle_senders_;
}

bool OutboxWorker::wait_for_release(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  return released_.wait(lock, stop, [this] { return claims_released_; });
}

void OutboxWorker::pause(std::stop_token stop, std::int64_t delay_ms) {
  std::unique_lock lock(mutex_);
  paused_.wait_for(lock, stop, std::chrono::milliseconds(delay_ms), [] { return false; });
}

}  // namespace invited::mail
