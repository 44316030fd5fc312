#include "app/subcommand_help.hpp"

#include <string_view>

namespace invited::app {

std::string SubcommandHelpFormatter::make_help(const CLI::App* app, std::string name,
                                               CLI::AppFormatMode mode) const {
  std::string help = CLI::Formatter::make_help(app, std::move(name), mode);
  if (app->get_parent() == nullptr || mode == CLI::AppFormatMode::Sub) return help;
  const CLI::App* root = app;
  while (root->get_parent() != nullptr) root = root->get_parent();
  auto settings = root->get_options([root](const CLI::Option* option) {
    return option->nonpositional() && option != root->get_help_ptr() &&
           option != root->get_help_all_ptr() && option != root->get_version_ptr();
  });
  if (settings.empty()) return help;
  return help + make_group(
                    "Settings (every subcommand reads them; given before or after the "
                    "subcommand, or as INVITED_* variables)",
                    false, settings);
}

std::string command_line_failure(const CLI::App* app, const CLI::Error& error) {
  std::string message = CLI::FailureMessage::simple(app, error);
  if (std::string_view(error.what()).find("subcommand is required") == std::string_view::npos) {
    return message;
  }
  // The deepest subcommand given is the one that wants another.
  const CLI::App* wanting = app;
  std::string path = "invited";
  for (;;) {
    auto given = wanting->get_subcommands();
    if (given.empty()) break;
    wanting = given.front();
    path += " " + wanting->get_name();
  }
  std::string choices;
  for (const CLI::App* sub : wanting->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    if (!choices.empty()) choices += ", ";
    choices += sub->get_name();
  }
  std::string unknown;
  for (const auto& word : app->remaining(true)) {
    if (!unknown.empty()) unknown += ' ';
    unknown += word;
  }
  std::string fix = path + " needs one of: " + choices;
  if (!unknown.empty()) fix += " (not '" + unknown + "')";
  return fix + "\n" + message;
}

}  // namespace invited::app
