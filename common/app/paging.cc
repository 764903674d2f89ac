#include "common/app/paging.h"

#include <algorithm>

namespace pdao {

int PageSize(int page_size, const PageLimits& limits) {
  if (page_size <= 0) return limits.default_size;
  return std::min(page_size, limits.max_size);
}

absl::Status ValidatePage(int page_size, const std::string& page_token, const std::string& prefix) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (!page_token.empty() && page_token.rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError("page_token does not belong to this list");
  }
  return absl::OkStatus();
}

}  // namespace pdao
