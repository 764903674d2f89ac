// The registry and authorization state the fault tests start from, made through the public gRPC
// APIs of a running platform (pdao-standalone) with the dev CA's role certificates: a resource, the
// operator's ACTIVE agreement over it, and the operator's product over it, registered and CODED.
// Tests only.
#pragma once

#include <grpcpp/channel.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"

namespace pdao::e2e {

// An mTLS channel to the platform presenting the dev CA's certificate of `role` (e.g. "department";
// Standalone::As is one).
using RoleChannels = std::function<std::shared_ptr<grpc::Channel>(const std::string& role)>;

// The department registers resource "bus" (one GENERAL field, open and shared unconditionally);
// the implementing agency creates a plan over it, the data bureau submits and files it, the
// government approves it; the agency registers `operator_org` (RegisterTestOperator), selects it
// and creates, signs, files and activates its agreement over the resource (from an hour before
// `now`, the platform's time, for a year). The resource id in *resource, the agreement id in
// *agreement. The first failed call's status, with the step in its message.
grpc::Status ActivateTestAgreement(const RoleChannels& as, const std::string& operator_org,
                                   absl::Time now, std::string* resource, std::string* agreement);

// The operator (the dev CA's "operator" certificate, which must be `operator_org`'s) registers a
// COMMERCIAL interface product built from `resource` (an ACTIVE agreement over it must exist),
// records evidence and applies for FIRST registration; the agency accepts, reviews and opens
// publicity; the platform's dev clock (pdao-standalone --dev-clock) moves 21 days ahead, past
// the publicity; the agency issues the code. The product id in *product.
grpc::Status CodeTestProduct(const RoleChannels& as, const std::string& resource,
                             std::string* product);

}  // namespace pdao::e2e
