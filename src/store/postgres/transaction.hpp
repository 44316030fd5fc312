#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/store.hpp"
#include "store/postgres/connection.hpp"
#include "store/postgres/instance_lock.hpp"

namespace invited::store::postgres {

// The domain's storage operations on one PostgreSQL connection, inside the transaction the pool
// opened for one unit of work (pool.hpp: BEGIN goes out with the first statement, COMMIT or
// ROLLBACK after the unit). Built afresh for every run of a unit, so a unit run again after a
// serialization failure starts clean. Not thread-safe; used by the thread that runs the unit.
//
// Every statement is prepared once per connection (a named Statement next to the code that runs
// it) and exchanges binary values. Uniqueness is decided by the database's constraints with
// ON CONFLICT, never by a read before an insert; several rows go in one statement (unnest of
// arrays) where the SQLite store loops.
//
// One topic of domain/store.hpp per file, each with its SQL next to the code that runs it:
// tenancy.cpp, users.cpp, memberships.cpp, member_lists.cpp (with website_access.cpp),
// invites.cpp, invitations.cpp, outbox.cpp, api_keys.cpp, idempotency.cpp, events.cpp.
class Transaction final : public domain::WriteTx {
 public:
  explicit Transaction(Connection& connection) : db_(connection) {}

  // Tenancy (tenancy.cpp)
  std::optional<domain::Organization> find_organization(domain::Pk org_pk) override;
  std::optional<domain::Organization> find_organization_by_id(const domain::Uuid& id) override;
  std::vector<domain::Organization> list_organizations() override;
  std::optional<domain::Website> find_website(domain::Pk org_pk, const domain::Uuid& id) override;
  std::optional<domain::Website> find_website_including_deleted(domain::Pk org_pk,
                                                                const domain::Uuid& id) override;
  std::optional<domain::Pk> find_live_website_pk(domain::Pk org_pk,
                                                 const domain::Uuid& id) override;
  domain::Page<domain::Website> list_websites(domain::Pk org_pk,
                                              std::optional<domain::Pk> scoped_key_pk,
                                              const domain::ListRequest& request) override;
  std::optional<domain::Group> find_group(domain::Pk org_pk, const domain::Uuid& id) override;
  std::optional<domain::Pk> find_group_pk(domain::Pk org_pk, const domain::Uuid& id) override;
  std::vector<std::optional<domain::Pk>> find_live_target_pks(
      domain::Pk org_pk, domain::TargetKind kind, std::span<const domain::Uuid> ids) override;
  domain::Page<domain::Group> list_groups(domain::Pk org_pk,
                                          const domain::ListRequest& request) override;
  domain::Organization insert_organization(const domain::Uuid& id, std::string_view name,
                                           domain::UnixSeconds now) override;
  domain::Website insert_website(domain::Pk org_pk, const domain::Uuid& id, std::string_view url,
                                 std::string_view name, domain::UnixSeconds now) override;
  void set_website_deleted(domain::Pk website_pk,
                           std::optional<domain::UnixSeconds> deleted_at) override;
  domain::Pk insert_group(domain::Pk org_pk, const domain::Uuid& id, std::string_view name,
                          const std::vector<domain::Pk>& website_pks,
                          domain::UnixSeconds now) override;
  void rename_group(domain::Pk group_pk, std::string_view name) override;
  void add_group_websites(domain::Pk group_pk, const std::vector<domain::Pk>& website_pks) override;
  void remove_group_websites(domain::Pk group_pk,
                             const std::vector<domain::Pk>& website_pks) override;
  void delete_group(domain::Pk group_pk, domain::UnixSeconds now) override;

  // Users (users.cpp)
  std::optional<domain::UserRef> find_user(std::string_view email_key) override;
  std::optional<domain::UserRef> find_user_by_id(const domain::Uuid& id) override;
  domain::UserRef insert_user_if_absent(const domain::NewUser& user) override;
  void set_email_verified(domain::Pk user_pk) override;

  // Memberships (memberships.cpp)
  bool has_membership(domain::Target target, domain::Pk user_pk) override;
  std::optional<domain::Role> membership_role(domain::Target target, domain::Pk user_pk) override;
  std::optional<domain::Member> find_member(domain::Target target, domain::Pk user_pk) override;
  bool has_any_membership(domain::Pk org_pk, domain::Pk user_pk) override;
  std::vector<bool> find_memberships(domain::TargetKind kind,
                                     std::span<const domain::Pk> target_pks,
                                     domain::Pk user_pk) override;
  bool add_membership_if_absent(domain::Target target, domain::Pk user_pk, domain::Role role,
                                domain::UnixSeconds now) override;
  std::vector<bool> add_memberships_if_absent(domain::TargetKind kind,
                                              std::span<const domain::Pk> target_pks,
                                              const domain::UserRef& user, domain::Role role,
                                              domain::UnixSeconds now) override;
  void set_membership_role(domain::Target target, domain::Pk user_pk, domain::Role role) override;
  bool delete_membership(domain::Target target, domain::Pk user_pk) override;
  int count_organization_owners(domain::Pk org_pk) override;

  // Member lists (member_lists.cpp)
  domain::Page<domain::Member> list_website_members(domain::Pk org_pk, domain::Pk website_pk,
                                                    const domain::ListRequest& request) override;
  domain::Page<domain::Member> list_group_members(domain::Pk group_pk,
                                                  const domain::ListRequest& request) override;
  domain::Page<domain::Member> list_organization_members(
      domain::Pk org_pk, const domain::ListRequest& request) override;
  domain::Page<domain::UserWebsite> list_user_websites(domain::Pk org_pk, domain::Pk user_pk,
                                                       const domain::ListRequest& request) override;

  // Invites (invites.cpp)
  std::optional<domain::InviteRecord> find_invite(domain::Pk org_pk,
                                                  const domain::Uuid& id) override;
  domain::Page<domain::InviteRecord> list_invites(domain::Pk org_pk,
                                                  const domain::InviteFilter& filter,
                                                  const domain::ListRequest& request) override;
  bool has_pending_invites(domain::Pk org_pk, std::string_view email_key) override;
  void close_pending_invites(domain::Target target, std::string_view email_key,
                             domain::InviteStatus status, domain::UnixSeconds now) override;
  void insert_invite(const domain::NewInvite& invite) override;
  std::vector<domain::InviteRecord> close_pending_invites_to(domain::TargetKind kind,
                                                             std::span<const domain::Pk> target_pks,
                                                             std::string_view email_key,
                                                             domain::InviteStatus status,
                                                             domain::UnixSeconds now) override;
  void insert_invites(std::span<const domain::NewInvite> invites) override;
  std::vector<domain::InviteRecord> revoke_pending_invites(domain::Target target,
                                                           domain::UnixSeconds now) override;
  std::vector<domain::InviteRecord> take_expired_invites(domain::UnixSeconds now,
                                                         int limit) override;
  std::vector<domain::InviteRecord> list_batch_invites(domain::Pk batch_pk) override;
  void close_invite(domain::Pk invite_pk, domain::InviteStatus status,
                    domain::UnixSeconds now) override;

  // Invitations: batches and their tokens (invitations.cpp)
  domain::Invitation load_invitation(domain::Pk batch_pk) override;
  std::optional<domain::Batch> find_batch_by_token(const domain::SecretHash& token_hash) override;
  std::optional<domain::Pk> retired_token_batch(const domain::SecretHash& token_hash) override;
  std::vector<domain::BatchInvite> batch_invites(domain::Pk batch_pk) override;
  domain::Pk insert_batch(const domain::NewBatch& batch) override;
  void retire_batch_tokens(domain::Pk batch_pk, domain::UnixSeconds expires_at,
                           domain::UnixSeconds now) override;
  void mark_batch_used(domain::Pk batch_pk, domain::UnixSeconds now) override;
  void set_batch_token(domain::Pk batch_pk, const domain::SecretHash& token_hash) override;

  // The outbox (outbox.cpp)
  void enqueue_email(const domain::NewEmail& email) override;
  std::optional<std::int64_t> next_email_due_ms() override;
  domain::OutboxBacklog outbox_backlog(std::int64_t now_ms) override;
  std::vector<domain::OutboxEmail> claim_due_emails(std::int64_t now_ms,
                                                    std::int64_t lease_until_ms,
                                                    int limit) override;
  void mark_email_sent(domain::Pk email_pk, domain::UnixSeconds now) override;
  void mark_email_retry(domain::Pk email_pk, std::int64_t next_attempt_ms,
                        std::string_view error) override;
  void mark_email_failed(domain::Pk email_pk, std::string_view error,
                         domain::UnixSeconds now) override;
  void mark_email_cancelled(domain::Pk email_pk, domain::UnixSeconds now) override;
  void release_email_claim(domain::Pk email_pk) override;
  int release_all_email_claims() override;

  // API keys (api_keys.cpp)
  std::optional<domain::ApiKey> find_api_key(const domain::SecretHash& hash) override;
  std::optional<domain::ApiKey> find_api_key_by_id(domain::Pk org_pk,
                                                   const domain::Uuid& id) override;
  std::optional<domain::ApiKey> find_api_key_in_any_organization(const domain::Uuid& id) override;
  domain::Page<domain::ApiKey> list_api_keys(domain::Pk org_pk,
                                             const domain::ListRequest& request) override;
  domain::ApiKey insert_api_key(const domain::NewApiKey& key) override;
  void revoke_api_key(domain::Pk key_pk, domain::UnixSeconds now) override;

  // Webhooks (webhooks.cpp)
  std::optional<domain::WebhookEndpoint> find_webhook_endpoint(domain::Pk org_pk,
                                                               const domain::Uuid& id) override;
  domain::Page<domain::WebhookEndpoint> list_webhook_endpoints(
      domain::Pk org_pk, const domain::ListRequest& request) override;
  int count_webhook_endpoints(domain::Pk org_pk) override;
  domain::Page<domain::WebhookAttempt> list_webhook_attempts(
      domain::Pk endpoint_pk, const domain::ListRequest& request) override;
  domain::WebhookBacklog webhook_backlog(std::int64_t now_ms) override;
  std::optional<std::int64_t> next_webhook_due_ms() override;
  domain::WebhookEndpoint insert_webhook_endpoint(const domain::WebhookEndpoint& endpoint) override;
  void update_webhook_endpoint(const domain::WebhookEndpoint& endpoint) override;
  void delete_webhook_endpoint(domain::Pk endpoint_pk) override;
  bool retry_webhook_delivery(domain::Pk endpoint_pk, const domain::Uuid& attempt_id,
                              std::int64_t now_ms) override;
  std::optional<domain::ClaimedWebhook> claim_webhook_delivery(std::int64_t now_ms,
                                                               std::int64_t lease_now_ms,
                                                               std::int64_t lease_ms,
                                                               std::int64_t claimant) override;
  void record_webhook_attempt(const domain::WebhookAttemptRecord& record) override;
  void release_webhook_claims() override;
  // Events (events.cpp)
  domain::Page<domain::Event> list_events(domain::Pk org_pk, const domain::EventFilter& filter,
                                          const domain::EventPageRequest& request) override;
  std::optional<domain::Event> find_event(domain::Pk org_pk, const domain::Uuid& id) override;
  void record_events(std::span<const domain::NewEvent> events) override;
  int prune_events(domain::UnixSeconds before, int limit) override;

  // Idempotent responses (idempotency.cpp)
  bool mark_idempotency_key_running(domain::Pk org_pk, std::string_view key) override;
  std::optional<domain::IdempotentResponse> find_idempotent_response(
      domain::Pk org_pk, std::string_view key, domain::UnixSeconds not_before) override;
  bool save_idempotent_response(domain::Pk org_pk, std::string_view key,
                                const domain::IdempotentResponse& response,
                                domain::UnixSeconds not_before) override;
  int prune_idempotent_responses(domain::UnixSeconds not_before, int limit) override;

  Connection& connection() { return db_; }

  // The instance this unit's outbox claims are made for (instance_lock.hpp). Without one, the
  // unit claims nothing.
  void claim_as(InstanceLock& instance) { instance_ = &instance; }

  // Whether enqueue_email ran since the last call; lets the store wake the mail worker.
  bool take_email_enqueued() {
    bool enqueued = email_enqueued_;
    email_enqueued_ = false;
    return enqueued;
  }

 private:
  // The live websites of each group in `group_pks`, oldest first, in one statement.
  void load_group_websites(std::vector<domain::Group>& groups);
  // The allowlists of the scoped keys among `keys`, in one statement.
  void load_key_websites(std::vector<domain::ApiKey>& keys);
  domain::Page<domain::Member> list_direct_members(domain::Target target,
                                                   const domain::ListRequest& request);
  // Sets the delivery state of the email's batch.
  void set_batch_delivery(domain::Pk email_pk, int delivery);
  // Stops renewing the lease of a claim this instance made (its outcome is being recorded).
  void end_claim(domain::Pk email_pk);

  Connection& db_;
  bool email_enqueued_ = false;
  InstanceLock* instance_ = nullptr;
  // Set when claim_due_emails found this instance without its lock: when to ask again.
  std::optional<std::int64_t> claims_paused_until_ms_;
};

}  // namespace invited::store::postgres
