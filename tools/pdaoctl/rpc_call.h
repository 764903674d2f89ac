// Calls any method of the PDAO gRPC APIs by name, with the request given as JSON (proto3 JSON
// mapping) and the response returned as JSON. Services are found in the descriptors compiled into
// pdaoctl, so every API in proto/ is reachable without code per method.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pdao::ctl {

// "pdao.registry.v1.RegistryService" for "registry"; a full name is returned unchanged.
std::string ServiceFullName(const std::string& service);

// Every "<full service>/<Method>" compiled in, for `pdaoctl methods`.
std::vector<std::string> ListMethods();

// Calls `service`/`method` (method by its proto name, e.g. "RegisterResource", or in kebab case,
// "register-resource") with `request_json` ("{}" when empty). Returns the response as JSON.
// INVALID_ARGUMENT for an unknown service or method or a request that does not parse; the call's
// own status otherwise (its code and message as the server sent them).
absl::StatusOr<std::string> CallJson(const std::shared_ptr<grpc::Channel>& channel,
                                     const std::string& service, const std::string& method,
                                     const std::string& request_json, absl::Duration timeout);

}  // namespace pdao::ctl
