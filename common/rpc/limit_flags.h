// The host flags of the API port's limits (docs/operations.md "Connection and call limits"),
// defined by DefineHostFlags (common/app/service_host.cc) for every binary:
//   --max-connections              PDAO_MAX_CONNECTIONS              4096
//   --max-handshakes               PDAO_MAX_HANDSHAKES               256
//   --handshake-timeout            PDAO_HANDSHAKE_TIMEOUT            5s
//   --max-streams-per-connection   PDAO_MAX_STREAMS_PER_CONNECTION   100
//   --accept-probe-interval        PDAO_ACCEPT_PROBE_INTERVAL        1s (0s: no self-probe)
//   --caller-limits                PDAO_CALLER_LIMITS                kDefaultCallerLimits
#pragma once

#include "absl/status/status.h"
#include "common/config/config.h"
#include "common/rpc/limits.h"
#include "common/rpc/listener.h"

namespace pdao {

inline constexpr char kDefaultCallerLimits[] = "default=200/400/64,service=0/0/1024";

void DefineLimitFlags(Config& config);

// Reads the flags above into `connections` and `calls`. INVALID_ARGUMENT naming the flag.
absl::Status LimitsFromConfig(const Config& config, ConnectionLimits* connections,
                              CallLimits* calls);

}  // namespace pdao
