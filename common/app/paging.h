// Paged listing over a store prefix, shared by every List* use case: a page of records that pass a
// filter, and an opaque page token (the last key examined) to continue from.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/store/store.h"

namespace pdao {

struct PageLimits {
  int default_size = 100;    // a page_size of 0 asks for this many
  int max_size = 1000;       // larger page sizes are cut to this
  int max_scan_rounds = 20;  // store pages read by one call at most (bounds a filtered list)
};

// The page size to serve for a requested `page_size` (0 or less: the default).
int PageSize(int page_size, const PageLimits& limits = {});

// INVALID_ARGUMENT for a negative page_size or a page_token that is not a key under `prefix`.
absl::Status ValidatePage(int page_size, const std::string& page_token, const std::string& prefix);

// Scans `prefix` after `page_token`, keeping records that `keep` accepts, until the page is full,
// the prefix is exhausted, or limits.max_scan_rounds store pages were read. `*next_page_token` is
// "" when the prefix is exhausted, else the last key examined. INVALID_ARGUMENT from ValidatePage;
// DATA_LOSS when a stored record does not parse as M; the store's error otherwise.
template <typename M>
absl::Status ScanPaged(Store& store, const std::string& prefix, int page_size,
                       const std::string& page_token,
                       const std::function<bool(const std::string& key, const M&)>& keep,
                       std::vector<M>* out, std::string* next_page_token,
                       const PageLimits& limits = {}) {
  if (absl::Status s = ValidatePage(page_size, page_token, prefix); !s.ok()) return s;
  const int want = PageSize(page_size, limits);
  std::string cursor = page_token;
  next_page_token->clear();
  for (int round = 0; round < limits.max_scan_rounds; ++round) {
    absl::StatusOr<ScanPage> scanned = store.Scan(prefix, cursor, want);
    if (!scanned.ok()) return scanned.status();
    for (const ScanEntry& entry : scanned->entries) {
      M message;
      if (!message.ParseFromString(entry.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", entry.key, " does not parse"));
      }
      cursor = entry.key;
      if (keep(entry.key, message)) {
        out->push_back(std::move(message));
        if (static_cast<int>(out->size()) == want) {
          *next_page_token = cursor;
          return absl::OkStatus();
        }
      }
    }
    if (scanned->next_start_after.empty()) return absl::OkStatus();
    cursor = scanned->next_start_after;
  }
  *next_page_token = cursor;  // more may follow; the client continues from here
  return absl::OkStatus();
}

}  // namespace pdao
