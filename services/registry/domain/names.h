// Short, readable names of the registry enums for error messages and history notes
// ("SUBMITTED" rather than "REGISTRATION_STATE_SUBMITTED").
#pragma once

#include <string>

#include "pdao/registry/v1/registry.pb.h"

namespace pdao::registry {

std::string StateName(pdao::registry::v1::RegistrationState state);
std::string TypeName(pdao::registry::v1::RegistrationType type);
std::string GradeName(pdao::registry::v1::Grade grade);
std::string ResourceStatusName(pdao::registry::v1::ResourceStatus status);
std::string ProductStatusName(pdao::registry::v1::ProductStatus status);

}  // namespace pdao::registry
