#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "domain/outbox.hpp"
#include "domain/store.hpp"
#include "mail/transport.hpp"

namespace invited::mail {

struct OutboxOptions {
  std::string public_url;  // accept links: <public_url>/invites/accept?token=...
  // The sender (--mail-from): each email's From is "<organization> via <from_name>" (see
  // sender_display_name) with from_address, which is also the envelope's MAIL FROM.
  std::string from_name;     // may be empty
  std::string from_address;  // bare address
  std::string message_id_host;
  int max_attempts = 8;
  double retry_seconds = 30;  // delay before the 2nd attempt; doubles after each failure
  int concurrency = 4;        // senders: emails in flight at once, each on a transport of its own
  // This worker is the store's only one (store::ServeClaim::sole_server), so a claim found
  // at start was held by a process that is gone: release it at once instead of waiting for its
  // lease to run out. A store shared by several workers leaves this off.
  bool release_claims_on_start = false;
};

struct OutboxStats {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
  std::uint64_t units = 0;  // write units run: each records outcomes and claims the next emails
};

// Delivers the outbox with `concurrency` senders, each a thread with a transport of its own (for
// SMTP, a connection that stays open between its sends). Each sender delivers a few emails at a
// time (domain/outbox.hpp): one unit of work records the outcomes of its previous emails and
// claims the next due ones, minting their tokens; then each message is rendered from what the
// claim read and handed to the sender's transport, one after another. A claim takes one email
// while another sender sleeps (and wakes it), so that a few emails go out side by side, and up
// to domain::kEmailsPerClaim once every sender is busy: a backlog then costs one unit of work per
// few emails instead of one per email. A sender keeps its outcomes in memory until a unit
// records them; while that fails (database locked, disk full) it retries with backoff (0.1 s
// doubling to 5 s) and sends nothing. So a crash re-sends at most the messages in hand (per
// sender, those of its claim sent before the crash: at most domain::kEmailsPerClaim), each with
// the same Message-ID, and nothing queued is lost. Claims release at start (see OutboxOptions)
// runs before any sender claims.
//
// Idle senders sleep until notify() says mail was queued or the next retry falls due. A queued
// email wakes one sender; a sender whose claim came back full wakes one more, so a burst brings
// every sender up one after another while a lone email costs one claim. Failed sends are
// retried with exponential backoff; after max_attempts (or a permanent refusal) the batch's
// invites show delivery `failed`.
class OutboxWorker {
 public:
  // `make_transport` is called `concurrency` times by start().
  OutboxWorker(domain::Store& store, TransportFactory make_transport, OutboxOptions options);
  ~OutboxWorker();

  void start();
  // Stops and waits for the senders. Sends in hand are aborted (within about a second) and their
  // claims given back, uncounted, so those emails go out after the next start; a finished send's
  // outcome is recorded first. Returns within a few seconds even when the database cannot be
  // written (then the emails in hand are claimed again at the next start). Safe to call twice.
  void stop();
  // Tells the worker that new mail was queued. Thread-safe and cheap.
  void notify();

  OutboxStats stats() const;

 private:
  // What a sender's unit of work found.
  struct Step {
    std::vector<domain::ClaimedEmail> claimed;
    std::optional<std::int64_t> next_due_ms;  // when nothing was claimed
    int released_claims = 0;
  };

  // One sender's loop; the first one (`releases_claims`) also runs the claims release first.
  void run(std::stop_token stop, Transport& transport, bool releases_claims);
  // One unit: releases stale claims (when `release_claims`), records `outcomes`, and claims the
  // next due emails (up to `limit`) when `claim`.
  domain::Status record_and_claim(const std::vector<domain::DeliveryOutcome>& outcomes,
                                  bool release_claims, bool claim, int limit, Step& step);
  domain::DeliveryOutcome deliver(const domain::ClaimedEmail& claimed, Transport& transport,
                                  std::stop_token stop);
  // Sleeps until woken for mail (notify() or a peer), `until_ms` (Unix milliseconds; forever
  // without it) or `stop`.
  void wait_for_mail(std::stop_token stop, std::optional<std::int64_t> until_ms);
  // Wakes one sleeping sender for mail.
  void wake_one();
  // Sleeps until the claims release ran (or `stop`); false on stop.
  bool wait_for_release(std::stop_token stop);
  // Sleeps `delay_ms` unless `stop` comes first; notify() does not end it.
  void pause(std::stop_token stop, std::int64_t delay_ms);

  domain::Store& store_;
  TransportFactory make_transport_;
  OutboxOptions options_;

  std::mutex mutex_;
  std::condition_variable_any mail_;      // notified_ became true
  std::condition_variable_any released_;  // claims_released_ became true
  std::condition_variable_any paused_;    // never notified: pause() ends by time or stop
  bool notified_ = false;
  int idle_senders_ = 0;  // senders in wait_for_mail()
  bool claims_released_ = false;
  std::stop_source stop_source_;
  std::vector<std::unique_ptr<Transport>> transports_;  // one per sender
  std::vector<std::thread> senders_;

  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> units_{0};
};

}  // namespace invited::mail
