#pragma once

#include <string>
#include <utility>
#include <variant>

namespace invited::domain {

// What went wrong, in the words of the contract (SPEC §3). `code` picks the HTTP status at the
// edge; `message` is a sentence for people and never contains secrets or internals.
enum class ErrorCode {
  kValidation,
  kUnauthorized,
  kGlobalKeyRequired,
  kForbidden,
  kNotFound,
  kConflict,
  kGone,
  kInternal,
  kUnavailable,
};

struct Error {
  ErrorCode code;
  std::string message;
};

// A value or an Error. Expected failures travel as values; exceptions are kept for the truly
// exceptional (a broken database file, out of memory).
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // Requires ok().
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

  // Requires !ok().
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// A Result with no value: success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // Requires !ok().
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::kInternal, {}};
  bool ok_ = true;
};

}  // namespace invited::domain
