#include "store/postgres/error.hpp"

namespace invited::store::postgres {

FailureKind classify_sqlstate(std::string_view sqlstate) {
  if (sqlstate == "40001" || sqlstate == "40P01") return FailureKind::kRetry;
  if (sqlstate == "23505") return FailureKind::kUniqueViolation;
  if (sqlstate.starts_with("08")) return FailureKind::kUnavailable;
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "57P05" ||
      sqlstate == "53300" || sqlstate == "57014" || sqlstate == "55P03" || sqlstate == "25006") {
    return FailureKind::kUnavailable;
  }
  return FailureKind::kInternal;
}

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kRetry:
      return "retry";
    case FailureKind::kUnavailable:
      return "unavailable";
    case FailureKind::kUniqueViolation:
      return "unique_violation";
    case FailureKind::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace invited::store::postgres
