// The connection flags every pdaoctl command that talks to a server shares, and the mTLS channel
// they describe.
#pragma once

#include <grpcpp/channel.h>

#include <memory>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace pdao::ctl {

// --target, --certs-dir, --as, --ca, --cert, --key, --server-name, --timeout (PDAO_* variables).
void DefineConnectionFlags(Config& config);

// The channel to --target with the client certificate of --certs-dir/--as (DIR/ca.pem,
// DIR/<role>.crt, DIR/<role>.key) or of --ca/--cert/--key. INVALID_ARGUMENT when no certificate
// is named; NOT_FOUND naming a missing file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Config& config);

}  // namespace pdao::ctl
