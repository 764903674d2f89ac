// Early-return helpers for absl::Status / absl::StatusOr<T>.
//
//   PDAO_RETURN_IF_ERROR(expr);          // expr is a Status or a StatusOr<T>: returns its status
//                                        // from the enclosing function unless it is OK.
//   PDAO_ASSIGN_OR_RETURN(lhs, expr);    // expr is a StatusOr<T>: returns its status unless OK,
//                                        // else moves the value into `lhs` ("auto x", "x", ...).
//
// The enclosing function returns absl::Status or absl::StatusOr<U>. `expr` is evaluated exactly
// once. The PDAO_ prefix keeps clear of the unprefixed RETURN_IF_ERROR / ASSIGN_OR_RETURN that
// protobuf's and other libraries' internal headers define. `lhs` must not contain a top-level
// comma (bind a structured binding on the next line instead).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pdao::status_internal {

inline const absl::Status& AsStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace pdao::status_internal

#define PDAO_STATUS_CONCAT_INNER_(a, b) a##b
#define PDAO_STATUS_CONCAT_(a, b) PDAO_STATUS_CONCAT_INNER_(a, b)

#define PDAO_RETURN_IF_ERROR(...)                                                \
  do {                                                                           \
    if (const auto& pdao_status_or_ = (__VA_ARGS__);                             \
        !::pdao::status_internal::AsStatus(pdao_status_or_).ok()) {              \
      return ::absl::Status(::pdao::status_internal::AsStatus(pdao_status_or_)); \
    }                                                                            \
  } while (false)

#define PDAO_ASSIGN_OR_RETURN(lhs, ...) \
  PDAO_ASSIGN_OR_RETURN_IMPL_(PDAO_STATUS_CONCAT_(pdao_status_or_, __LINE__), lhs, __VA_ARGS__)

#define PDAO_ASSIGN_OR_RETURN_IMPL_(status_or, lhs, ...)     \
  auto status_or = (__VA_ARGS__);                            \
  if (!status_or.ok()) return std::move(status_or).status(); \
  lhs = std::move(status_or).value()
