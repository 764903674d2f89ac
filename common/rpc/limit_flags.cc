#include "common/rpc/limit_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pdao {
namespace {

absl::Status PositiveInt(const Config& config, absl::string_view name, int* out) {
  const std::string v = config.Get(name);
  if (!absl::SimpleAtoi(v, out) || *out <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a positive integer, not \"", v, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

void DefineLimitFlags(Config& config) {
  config.Define("max-connections", "PDAO_MAX_CONNECTIONS", "4096",
                "open connections on the API port (at most the open file limit less a reserve); "
                "more wait in the listen backlog");
  config.Define("max-handshakes", "PDAO_MAX_HANDSHAKES", "256",
                "API port connections younger than --handshake-timeout (TLS handshakes in "
                "progress)");
  config.Define("handshake-timeout", "PDAO_HANDSHAKE_TIMEOUT", "5s",
                "a connection that has not finished its TLS handshake by then is closed");
  config.Define("max-streams-per-connection", "PDAO_MAX_STREAMS_PER_CONNECTION", "100",
                "concurrent calls (HTTP/2 streams, health Watch included) on one connection");
  config.Define("accept-probe-interval", "PDAO_ACCEPT_PROBE_INTERVAL", "1s",
                "how often the server probes its own API port (TCP + TLS handshake); 3 failures "
                "in a row report NOT_SERVING on both ports; 0s: no probe");
  config.Define("caller-limits", "PDAO_CALLER_LIMITS", kDefaultCallerLimits,
                "per-caller limits \"<who>=<calls/s>/<burst>/<in flight>,...\", who = default "
                "(every organization role), a role (operator, ...) or service; 0 = no limit");
}

absl::Status LimitsFromConfig(const Config& config, ConnectionLimits* connections,
                              CallLimits* calls) {
  if (absl::Status s = PositiveInt(config, "max-connections", &connections->max_connections);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = PositiveInt(config, "max-handshakes", &connections->max_handshakes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = PositiveInt(config, "max-streams-per-connection",
                                   &connections->max_streams_per_connection);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Duration> handshake = config.GetDuration("handshake-timeout");
  if (!handshake.ok()) return handshake.status();
  if (*handshake <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--handshake-timeout must be positive");
  }
  connections->handshake_timeout = *handshake;
  absl::StatusOr<absl::Duration> probe = config.GetDuration("accept-probe-interval");
  if (!probe.ok()) return probe.status();
  connections->probe_interval = std::max(absl::ZeroDuration(), *probe);
  *calls = CallLimits{};
  return ParseCallerLimits(config.Get("caller-limits"), calls);
}

}  // namespace pdao
