// invited: a membership and invitation service. One binary with the subcommands serve, migrate
// and admin; every subcommand reads the same settings (flags or INVITED_* variables).
#include <curl/curl.h>
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/build_version.hpp"
#include "app/commands.hpp"
#include "app/settings.hpp"
#include "app/subcommand_help.hpp"
#include "log/log.hpp"

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::cerr << "invited: libsodium failed to initialise\n";
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  using invited::app::Settings;
  Settings settings;
  CLI::App app{"invited: membership and invitation service"};
  app.formatter(std::make_shared<invited::app::SubcommandHelpFormatter>());
  app.failure_message(invited::app::command_line_failure);
  app.set_version_flag("--version",
                       "invited " + std::string(invited::app::build_version()) + " (commit " +
                           std::string(invited::app::build_commit()) + ")",
                       "print the version and the git commit it was built from, and exit");
  app.require_subcommand(1);
  app.fallthrough();
  invited::app::add_settings(app, settings);

  auto* serve = app.add_subcommand("serve", "serve the HTTP API (applies migrations first)");
  auto* migrate = app.add_subcommand("migrate", "apply database migrations and exit");
  auto* admin = app.add_subcommand("admin", "administrative commands");
  admin->require_subcommand(1);

  std::string org_name;
  std::optional<std::string> owner_email;
  auto* create_org = admin->add_subcommand("create-org", "create an organization and a global key");
  create_org->add_option("--name", org_name, "organization name")->required();
  create_org->add_option("--owner-email", owner_email, "make this user the organization's owner");

  std::string key_org;
  std::string key_name = "default";
  std::vector<std::string> key_websites;
  auto* create_key = admin->add_subcommand("create-key", "create an API key for an organization");
  create_key->add_option("--org", key_org, "organization id")->required();
  create_key->add_option("--name", key_name, "key name")->capture_default_str();
  create_key->add_option("--website", key_websites,
                         "scope the key to this website id (repeatable); none: a global key");

  bool orgs_json = false;
  auto* list_orgs = admin->add_subcommand(
      "list-orgs", "list every organization (id, created_at, name), oldest first");
  list_orgs->add_flag("--json", orgs_json, "print one JSON array instead of a table");

  std::string list_keys_org;
  bool keys_json = false;
  auto* list_keys = admin->add_subcommand(
      "list-keys", "list the API keys of an organization, revoked ones included, oldest first");
  list_keys->add_option("--org", list_keys_org, "organization id (see admin list-orgs)")
      ->required();
  list_keys->add_flag("--json", keys_json, "print one JSON array instead of a table");

  std::string revoke_key_id;
  auto* revoke_key = admin->add_subcommand(
      "revoke-key",
      "revoke an API key (idempotent); a running service refuses it at once on PostgreSQL, "
      "within --key-cache-ms on SQLite");
  revoke_key->add_option("--key", revoke_key_id, "API key id (see admin list-keys)")->required();

  std::string copy_target;
  auto* copy_to = admin->add_subcommand(
      "copy-to",
      "copy every row of the SQLite database of --database into an empty PostgreSQL database "
      "(migrating it first), in one transaction; stop the service first");
  copy_to
      ->add_option("TARGET_URL", copy_target,
                   "postgresql://user:password@host:port/dbname of an empty database (or "
                   "INVITED_COPY_TARGET, which keeps the password off the command line)")
      ->envname("INVITED_COPY_TARGET")
      ->required();

  CLI11_PARSE(app, argc, argv);

  invited::log::Level level;
  if (!invited::log::parse_level(settings.log_level, level)) {
    std::cerr << "invited: --log-level must be debug, info, warn, error or off\n";
    return 2;
  }
  invited::log::init(level);
  if (auto error = invited::app::finish(settings); !error.empty()) {
    std::cerr << "invited: " << error << "\n";
    return 2;
  }

  if (*serve) return invited::app::serve(settings);
  if (*migrate) return invited::app::migrate(settings);
  if (*create_org) return invited::app::create_org(settings, org_name, owner_email);
  if (*create_key) return invited::app::create_key(settings, key_org, key_name, key_websites);
  if (*copy_to) return invited::app::copy_to(settings, copy_target);
  using invited::app::ListFormat;
  if (*list_orgs) {
    return invited::app::list_orgs(settings, orgs_json ? ListFormat::kJson : ListFormat::kTable);
  }
  if (*list_keys) {
    return invited::app::list_keys(settings, list_keys_org,
                                   keys_json ? ListFormat::kJson : ListFormat::kTable);
  }
  if (*revoke_key) return invited::app::revoke_key(settings, revoke_key_id);
  return 2;
}
