#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "domain/result.hpp"

namespace invited::domain {

struct FieldError {
  std::string field;
  std::string message;
};

// Every failing field of one request, in the order they were found. A request is answered
// `400 validation_error` listing all of them, so a caller fixes everything in one round.
class FieldErrors {
 public:
  void add(std::string field, std::string message) {
    errors_.push_back({std::move(field), std::move(message)});
  }
  // Whether `field`, or an item of it (`field[3]`), has failed.
  bool has(std::string_view field) const {
    for (const auto& error : errors_) {
      std::string_view name = error.field;
      if (name == field) return true;
      if (name.size() > field.size() && name.substr(0, field.size()) == field &&
          name[field.size()] == '[') {
        return true;
      }
    }
    return false;
  }
  bool empty() const { return errors_.empty(); }
  const std::vector<FieldError>& all() const { return errors_; }

  // One sentence naming every failure: "email must be ...; role must be ...". A failure
  // without a field name (an empty key) is its message alone.
  std::string summary() const {
    std::string text;
    for (const auto& error : errors_) {
      if (!text.empty()) text += "; ";
      if (!error.field.empty()) {
        text += error.field;
        text += ' ';
      }
      text += error.message;
    }
    return text;
  }

 private:
  std::vector<FieldError> errors_;
};

}  // namespace invited::domain
