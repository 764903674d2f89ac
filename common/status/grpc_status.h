// The one place where absl::Status and grpc::Status are converted (STYLE.md "Transport apart from
// logic"): handlers call ToGrpcStatus exactly once on the way out, clients call FromGrpcStatus on
// the way in. Codes map one to one (both follow google.rpc.Code); the message is kept unchanged.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pdao {

// Same code, same message. Never fails: an absl code outside the 17 canonical ones (which absl
// itself never produces) becomes grpc::StatusCode::UNKNOWN with the message kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same code, same message. Never fails: a gRPC code outside the 17 canonical ones becomes
// absl::StatusCode::kUnknown with the message kept.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The canonical upper-case name of a gRPC code ("OK", "PERMISSION_DENIED", ...), as used in
// metric labels and logs. "UNKNOWN" for a value outside the 17 codes.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace pdao
