#include "app/subcommand_help.hpp"

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

}  // namespace invited::app
