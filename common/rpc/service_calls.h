// Which platform service may call which rpc (issue 9 item 5).
//
// A certificate naming spiffe://pdao/service/<svc> is a platform service only when <svc> is one of
// the platform's services (crypto::PlatformServices: registry, authorization, compliance, pricing,
// audit, disclosure), and it may call only the rpcs whose proto declares it a caller:
//   rpc Append(AppendRequest) returns (AppendResponse) {
//     option (pdao.common.v1.service_callers) = "compliance";
//   }
// (proto/pdao/common/v1/common.proto). The API says who calls it, next to the rpc; adding a call
// between services edits the callee's proto, nothing in common/. Everything else a service
// identity tries is PERMISSION_DENIED before any handler runs (UnaryAdapter checks it right after
// identifying the caller), so a stolen or mis-issued service certificate cannot read as an
// overseer everywhere, and a service cannot call what it has no business with.
// Organizations are not affected: their roles are checked by each core. The test-only services
// (proto/pdao/testing/, served by no PDAO binary) are open to every platform service.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/rpc/principal.h"
#include "google/protobuf/descriptor.h"

namespace pdao {

// OK when `caller` is an organization, or a platform service that `method` declares among its
// service_callers. PERMISSION_DENIED naming the service, the method and the option otherwise.
absl::Status CheckServiceCall(const Principal& caller,
                              const google::protobuf::MethodDescriptor& method);

// The service_callers `method` declares.
std::vector<std::string> ServiceCallersOf(const google::protobuf::MethodDescriptor& method);

}  // namespace pdao
