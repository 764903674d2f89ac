// What a failed call to another PDAO service means to this service's caller.
//
// A dependency's refusal is not the caller's mistake: when the registry answers PERMISSION_DENIED,
// NOT_FOUND or INVALID_ARGUMENT to authorization, the implementing agency that called authorization
// did nothing wrong — the platform did (a misconfigured identity, a request authorization built
// badly). So only the transient codes pass through (UNAVAILABLE, DEADLINE_EXCEEDED;
// RESOURCE_EXHAUSTED and ABORTED become UNAVAILABLE: retry later); every other code becomes
// INTERNAL, with the dependency, the method and its original code and message in the text for the
// operators.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pdao {

absl::Status FromDependency(const grpc::Status& status, absl::string_view service,
                            absl::string_view method);

}  // namespace pdao
