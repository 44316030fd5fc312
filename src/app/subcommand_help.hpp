#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace invited::app {

// CLI11's help, plus, on the help of a subcommand (`invited serve --help`,
// `invited admin list-keys --help`), the settings every subcommand reads: they are declared once
// on the top-level command (add_settings) and may be given before or after the subcommand, so
// CLI11 alone lists them only on `invited --help`. Set on the top-level App before its
// subcommands are added (they inherit it).
class SubcommandHelpFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
};

// CLI11's message for a command line it refuses, naming what to fix where CLI11 alone would
// not: a missing or unknown subcommand (`invited admin`, `invited admin delete-org`) lists the
// subcommands to choose from. For CLI::App::failure_message, set on the top-level App.
std::string command_line_failure(const CLI::App* app, const CLI::Error& error);

}  // namespace invited::app
