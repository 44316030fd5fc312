#include "domain/uuid.hpp"

#include <sodium.h>

#include <cstring>

namespace invited::domain {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool is_hyphen_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Random bytes for ids, drawn from the system CSPRNG 4 KiB at a time per thread: one getrandom()
// per ~400 ids instead of one per id (a bulk request makes up to 52 ids on the writer thread).
// Secrets (keys, tokens) do not come from here; they call randombytes_buf directly.
void fill_random(std::uint8_t* out, std::size_t size) {
  thread_local std::array<std::uint8_t, 4096> pool;
  thread_local std::size_t used = pool.size();
  if (used + size > pool.size()) {
    randombytes_buf(pool.data(), pool.size());
    used = 0;
  }
  std::memcpy(out, pool.data() + used, size);
  sodium_memzero(pool.data() + used, size);
  used += size;
}

}  // namespace

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Bytes bytes{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int high = hex_value(text[i]);
    int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[out++] = static_cast<std::uint8_t>(high << 4 | low);
    i += 2;
  }
  return Uuid(bytes);
}

std::int64_t Uuid::v7_unix_ms() const {
  std::int64_t unix_ms = 0;
  for (int i = 0; i < 6; ++i) unix_ms = (unix_ms << 8) | bytes_[i];
  return unix_ms;
}

Uuid Uuid::v7(std::int64_t unix_ms) {
  // Ids made by one thread within one millisecond increase (RFC 9562, 6.2 method 1: a 12-bit
  // counter in rand_a, started at a random value below 2048 each new millisecond), so lists
  // ordered by (time, id) keep the order rows were made in. Per thread, like the random pool:
  // the writer thread makes the ids of everything it inserts. A millisecond earlier than the
  // thread's last gets plain random bits; a counter that runs out moves on to the next
  // millisecond.
  thread_local std::int64_t requested_ms = -1;  // the latest millisecond asked for
  thread_local std::int64_t issued_ms = -1;     // the millisecond in the last id (may be ahead)
  thread_local std::uint16_t counter = 0;
  Bytes bytes;
  fill_random(bytes.data(), bytes.size());
  std::uint16_t rand_a = static_cast<std::uint16_t>((bytes[6] & 0x0f) << 8 | bytes[7]);
  if (unix_ms > issued_ms) {
    requested_ms = issued_ms = unix_ms;
    counter = rand_a & 0x7ff;
    rand_a = counter;
  } else if (unix_ms >= requested_ms) {
    requested_ms = unix_ms;
    if (++counter > 0xfff) {
      ++issued_ms;
      counter = rand_a & 0x7ff;
    }
    unix_ms = issued_ms;
    rand_a = counter;
  }
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(unix_ms >> (40 - 8 * i));
  bytes[6] = static_cast<std::uint8_t>(0x70 | (rand_a >> 8));
  bytes[7] = static_cast<std::uint8_t>(rand_a & 0xff);
  bytes[8] = static_cast<std::uint8_t>(0x80 | (bytes[8] & 0x3f));
  return Uuid(bytes);
}

Uuid Uuid::v4() {
  Bytes bytes;
  fill_random(bytes.data(), bytes.size());
  bytes[6] = static_cast<std::uint8_t>(0x40 | (bytes[6] & 0x0f));
  bytes[8] = static_cast<std::uint8_t>(0x80 | (bytes[8] & 0x3f));
  return Uuid(bytes);
}

void Uuid::write(char* out) const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::size_t pos = 0;
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (is_hyphen_position(pos)) out[pos++] = '-';
    out[pos++] = kDigits[bytes_[i] >> 4];
    out[pos++] = kDigits[bytes_[i] & 0x0f];
  }
}

std::string Uuid::str() const {
  std::string text(36, '\0');
  write(text.data());
  return text;
}

}  // namespace invited::domain
