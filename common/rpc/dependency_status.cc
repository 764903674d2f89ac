#include "common/rpc/dependency_status.h"

#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace pdao {

absl::Status FromDependency(const grpc::Status& status, absl::string_view service,
                            absl::string_view method) {
  if (status.ok()) return absl::OkStatus();
  const absl::Status s = FromGrpcStatus(status);
  const std::string what = absl::StrCat("the ", service, " service's ", method, " answered ",
                                        absl::StatusCodeToString(s.code()), ": ", s.message());
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::Status(s.code(), what);
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return absl::UnavailableError(absl::StrCat(what, " (retry later)"));
    default:
      return absl::InternalError(
          absl::StrCat(what, " (a platform fault, not the caller's: operators see the logs)"));
  }
}

}  // namespace pdao
