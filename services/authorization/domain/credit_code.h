// 统一社会信用代码 (GB 32100-2015) for operators (REGULATION.md rule 14) and their affiliates
// (rule 22). The check itself is shared by every service: common/validation/credit_code.h. These
// forwarders keep authorization's call sites and its rule citation ("rule 14").
#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/validation/credit_code.h"

namespace pdao::authorization {

// pdao::validation::ValidateCreditCode citing rule 14.
inline absl::Status ValidateCreditCode(const std::string& code, const std::string& what) {
  return validation::ValidateCreditCode(code, what, "rule 14");
}

inline char CreditCodeCheckCharacter(const std::string& first17) {
  return validation::CreditCodeCheckCharacter(first17);
}

}  // namespace pdao::authorization
