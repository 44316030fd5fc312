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

OutboxWorker::OutboxWorker(domain::Store& store, Transport& transport, OutboxOptions options)
    : store_(store), transport_(transport), options_(std::move(options)) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  thread_ = std::thread([this, stop = stop_source_.get_token()] { run(stop); });
}

void OutboxWorker::stop() {
  stop_source_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_all();
}

OutboxStats OutboxWorker::stats() const { return {sent_.load(), retried_.load(), failed_.load()}; }

void OutboxWorker::run(std::stop_token stop) {
  // Delivery is background work: under load, requests come first, and the outbox (durable in the
  // database) catches up when the load eases. A nice of 10 gives this thread about a tenth of a
  // contended core.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);

  bool release_claims = options_.release_claims_on_start;
  // An outcome not yet recorded: nothing else is claimed (so nothing else sent) until it is.
  std::optional<domain::DeliveryOutcome> unrecorded;
  std::string unrecorded_message_id;
  std::int64_t store_retry_ms = 0;
  for (;;) {
    const bool claim = !stop.stop_requested();
    if (!claim && !unrecorded) return;
    {
      // Mail queued from here on is either seen by this claim or wakes the next wait.
      std::lock_guard lock(mutex_);
      notified_ = false;
    }
    Step step;
    domain::Status status = record_and_claim(unrecorded, release_claims, claim, step);
    if (!status) {
      if (unrecorded && stop.stop_requested()) {
        // Shutdown is bounded: the claim stays, so the next start sends this email again.
        log::error("delivery not recorded at shutdown; the email will be sent again",
                   {{"message_id", unrecorded_message_id},
                    {"outcome", outcome_name(unrecorded->kind)},
                    {"error", status.error().message}});
        return;
      }
      store_retry_ms = std::clamp(store_retry_ms * 2, kFirstStoreRetryMs, kLastStoreRetryMs);
      if (unrecorded) {
        log::warn("delivery not recorded; sending paused",
                  {{"message_id", unrecorded_message_id},
                   {"outcome", outcome_name(unrecorded->kind)},
                   {"retry_in_ms", store_retry_ms},
                   {"error", status.error().message}});
      } else {
        log::warn("outbox claim failed",
                  {{"retry_in_ms", store_retry_ms}, {"error", status.error().message}});
      }
      pause(stop, store_retry_ms);
      continue;
    }
    if (unrecorded && store_retry_ms > 0) {
      log::info("delivery recorded; sending resumed", {{"message_id", unrecorded_message_id}});
    }
    store_retry_ms = 0;
    unrecorded.reset();
    if (step.released_claims > 0) {
      log::warn("claims of a stopped run released; those emails are sent again",
                {{"emails", step.released_claims}});
    }
    release_claims = false;

    if (!step.claimed) {
      if (!claim) return;
      wait_for_mail(stop, step.next_due_ms);
      continue;
    }
    const domain::ClaimedEmail& claimed = *step.claimed;
    unrecorded_message_id = claimed.email.message_id.str() + "@" + options_.message_id_host;
    if (claimed.cancelled) {
      log::info("email cancelled",
                {{"message_id", unrecorded_message_id}, {"reason", "no pending invites"}});
      continue;
    }
    if (stop.stop_requested()) {
      unrecorded =
          plain_outcome(domain::DeliveryOutcome::Kind::kReleased, claimed.email.pk, domain::now());
      continue;
    }
    unrecorded = deliver(claimed, stop);
  }
}

domain::Status OutboxWorker::record_and_claim(const std::optional<domain::DeliveryOutcome>& outcome,
                                              bool release_claims, bool claim, Step& step) {
  return store_.write_and_wait([&](domain::WriteTx& tx) -> domain::Status {
    step = Step{};  // the unit may run more than once
    if (release_claims) step.released_claims = tx.release_all_email_claims();
    if (outcome) domain::record_delivery(tx, *outcome);
    if (!claim) return {};
    step.claimed = domain::claim_next_email(tx, domain::now());
    if (!step.claimed) step.next_due_ms = tx.next_email_due_ms();
    return {};
  });
}

domain::DeliveryOutcome OutboxWorker::deliver(const domain::ClaimedEmail& claimed,
                                              std::stop_token stop) {
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
    Message message{.from = options_.from,
                    .to_address = email.to_address,
                    .to_name = to_name,
                    .subject = rendered.subject,
                    .message_id = message_id,
                    .date = domain::now().seconds(),
                    .text = std::move(rendered.text),
                    .html = std::move(rendered.html)};
    Envelope envelope{options_.from_address, email.to_address, message_id, compose(message)};
    result = transport_.send(envelope, stop);
  } catch (const std::exception& error) {
    result = {.ok = false,
              .permanent = false,
              .aborted = false,
              .error = std::string("could not compose the message: ") + error.what()};
  }
  const domain::Instant now = domain::now();

  if (result.ok) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    log::info("email sent", {{"message_id", message_id},
                             {"transport", transport_.name()},
                             {"attempt", email.attempts}});
    return plain_outcome(domain::DeliveryOutcome::Kind::kSent, email.pk, now);
  }
  if (result.aborted) {
    log::info("email send aborted by shutdown; it stays queued",
              {{"message_id", message_id}, {"transport", transport_.name()}});
    return plain_outcome(domain::DeliveryOutcome::Kind::kReleased, email.pk, now);
  }
  domain::DeliveryOutcome outcome = domain::failed_send(
      email, result.permanent, result.error,
      {.max_attempts = options_.max_attempts, .retry_seconds = options_.retry_seconds}, now);
  if (outcome.kind == domain::DeliveryOutcome::Kind::kFailed) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    log::error("email failed", {{"message_id", message_id},
                                {"transport", transport_.name()},
                                {"attempt", email.attempts},
                                {"error", result.error}});
  } else {
    retried_.fetch_add(1, std::memory_order_relaxed);
    log::warn("email will be retried", {{"message_id", message_id},
                                        {"transport", transport_.name()},
                                        {"attempt", email.attempts},
                                        {"retry_in_ms", outcome.next_attempt_ms - now.unix_ms},
                                        {"error", result.error}});
  }
  return outcome;
}

void OutboxWorker::wait_for_mail(std::stop_token stop, std::optional<std::int64_t> until_ms) {
  std::unique_lock lock(mutex_);
  auto notified = [this] { return notified_; };
  if (!until_ms) {
    wake_.wait(lock, stop, notified);
    return;
  }
  auto wait_ms = std::max<std::int64_t>(0, *until_ms - domain::now().unix_ms);
  wake_.wait_for(lock, stop, std::chrono::milliseconds(wait_ms), notified);
}

void OutboxWorker::pause(std::stop_token stop, std::int64_t delay_ms) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, stop, std::chrono::milliseconds(delay_ms), [] { return false; });
}

}  // namespace invited::mail
