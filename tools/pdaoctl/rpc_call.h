// Calls any method of the PDAO gRPC APIs by name, with the request given as JSON (proto3 JSON
// mapping) and the response returned as JSON. The services are every `pdao.*` service whose
// descriptors are linked into pdaoctl (all of proto/: tools/pdaoctl/CMakeLists.txt links the proto
// library whole), so a new API is reachable without an edit here.
//
// Two stages, so that the caller can tell its user's mistakes from the server's answers:
//   PrepareCall  everything decided locally (service, method, JSON). Its errors are usage errors.
//   Invoke       the call; its error is the server's (or the transport's) status, as sent.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace pdao::ctl {

// A service pdaoctl can call and its short name: the service name without its "Service" suffix,
// in kebab case ("pdao.registry.v1.RegistryService" -> "registry", DevClockService -> "dev-clock").
struct KnownService {
  std::string alias;
  const google::protobuf::ServiceDescriptor* descriptor;
};

// Every linked `pdao.*` service (test-only `pdao.testing.*` excluded), sorted by full name.
const std::vector<KnownService>& KnownServices();

// "pdao.registry.v1.RegistryService" for "registry"; a full name is returned unchanged.
std::string ServiceFullName(const std::string& service);

// Every "<alias> <Method>  (<full service>/<Method>)" of KnownServices(), for `pdaoctl methods`.
std::vector<std::string> ListMethods();

// A request ready to send.
struct PreparedCall {
  const google::protobuf::MethodDescriptor* method;
  std::string request_bytes;
};

// Resolves `service` (alias or full name) and `method` (its proto name, e.g. "RegisterResource",
// or kebab case, "register-resource") and parses `request_json` ("{}" when empty) into the
// method's request. INVALID_ARGUMENT saying what to fix: an unknown service or method (pointing at
// `pdaoctl methods`), a streaming method, JSON that does not parse or has unknown fields (naming
// the request type).
absl::StatusOr<PreparedCall> PrepareCall(const std::string& service, const std::string& method,
                                         const std::string& request_json);

// Sends `call` with deadline `timeout`; the response as JSON (proto field names, indented). On
// failure the call's own status (its code and message as the server sent them); INTERNAL when
// the response does not parse as the method's response type.
absl::StatusOr<std::string> Invoke(const std::shared_ptr<grpc::Channel>& channel,
                                   const PreparedCall& call, absl::Duration timeout);

}  // namespace pdao::ctl
