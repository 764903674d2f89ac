#include "services/compliance/sample/field_method.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pdao::compliance::sample {
namespace {

absl::Status OpensslFailure(absl::string_view what) {
  // NOLINTNEXTLINE(google-runtime-int): ERR_get_error returns unsigned long
  const unsigned long err = ERR_get_error();
  char buf[256] = {0};
  if (err != 0) ERR_error_string_n(err, buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, " failed: ", buf));
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int Digits(absl::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Length in bytes of the UTF-8 sequence starting with `lead` (1 for a continuation byte, which
// valid input never starts with).
size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// One Chinese administrative suffix and the level it closes: 1 province, 2 prefecture, 3 county.
struct Suffix {
  absl::string_view text;
  int level;  // 0: depends on position (市)
};

// Longest first: 特别行政区 and 自治区 before 区, 自治州 before 州-less forms.
constexpr Suffix kSuffixes[] = {
    {"特别行政区", 1}, {"自治区", 1}, {"省", 1}, {"自治州", 2}, {"地区", 2},
    {"盟", 2},         {"区", 3},     {"县", 3}, {"旗", 3},     {"市", 0},
};

}  // namespace

ValueKind ValueKindOf(absl::string_view data_type) {
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(data_type));
  if (t == "date" || t == "datetime" || t == "timestamp") return ValueKind::kDate;
  if (t == "int" || t == "int32" || t == "int64" || t == "integer" || t == "decimal" ||
      t == "float" || t == "double" || t == "number" || t == "numeric") {
    return ValueKind::kNumber;
  }
  if (t == "place" || t == "address" || t == "region" || t == "division") return ValueKind::kPlace;
  return ValueKind::kText;
}

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kKeep:
      return "keep";
    case Method::kDrop:
      return "drop";
    case Method::kMask:
      return "mask";
    case Method::kGeneralize:
      return "generalize";
    case Method::kPseudonym:
      return "pseudonym";
  }
  return "unknown";
}

std::string FieldMethod::Describe() const {
  switch (method) {
    case Method::kGeneralize:
      switch (kind) {
        case ValueKind::kDate:
          return date_granularity == DateGranularity::kMonth ? "generalize date to month"
                                                             : "generalize date to year";
        case ValueKind::kNumber:
          return absl::StrCat("generalize number to ranges of ", range_width);
        case ValueKind::kPlace:
          return "generalize place to district";
        case ValueKind::kText:
          break;
      }
      return "generalize";
    case Method::kMask:
      return absl::StrCat("mask keep ", mask_keep, " code point(s) then ***");
    case Method::kPseudonym:
      return "pseudonym HMAC-SHA-256 with the scenario key";
    default:
      return std::string(MethodName(method));
  }
}

absl::StatusOr<FieldMethod> ChooseMethod(const FieldSpec& field, const MethodParams& params) {
  if (field.grade == Grade::kUnspecified) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", field.name, " has no grade (rule 2: ungraded data enters no use)"));
  }
  if (field.pi_kind == PiKind::kUnspecified) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field ", field.name, " has no personal-information kind (rule 23, CC Art. 25)"));
  }
  if (params.range_width <= 0 || params.important_range_factor <= 0 || params.mask_keep < 0 ||
      params.range_width > std::numeric_limits<int64_t>::max() / params.important_range_factor) {
    return absl::InvalidArgumentError("sample method parameters out of range (rule 23)");
  }
  FieldMethod m;
  m.kind = ValueKindOf(field.data_type);
  if (field.pi_kind == PiKind::kSensitive || field.grade == Grade::kCore) {
    m.method = Method::kDrop;
    return m;
  }
  const bool personal = field.pi_kind == PiKind::kPersonal;
  const bool important = field.grade == Grade::kImportant;
  if (!personal && !important) {
    m.method = Method::kKeep;
    return m;
  }
  if (m.kind == ValueKind::kText) {
    if (personal) {
      m.method = Method::kPseudonym;
    } else {
      m.method = Method::kMask;
      m.mask_keep = params.mask_keep;
    }
    return m;
  }
  m.method = Method::kGeneralize;
  m.quasi_identifier = personal;
  const bool coarse = personal && important;
  m.date_granularity = coarse ? DateGranularity::kYear : DateGranularity::kMonth;
  m.range_width = coarse ? params.range_width * params.important_range_factor : params.range_width;
  return m;
}

bool GeneralizeDate(absl::string_view value, DateGranularity granularity, std::string* out) {
  if (value.empty()) return true;
  absl::string_view y, mo, d, rest;
  if (value.size() >= 10 && (value[4] == '-' || value[4] == '/') && value[7] == value[4]) {
    y = value.substr(0, 4);
    mo = value.substr(5, 2);
    d = value.substr(8, 2);
    rest = value.substr(10);
  } else if (value.size() >= 8 && AllDigits(value.substr(0, 8))) {
    y = value.substr(0, 4);
    mo = value.substr(4, 2);
    d = value.substr(6, 2);
    rest = value.substr(8);
  } else {
    return false;
  }
  if (!AllDigits(y) || !AllDigits(mo) || !AllDigits(d)) return false;
  if (!rest.empty() && rest[0] != 'T' && rest[0] != ' ') return false;
  const int month = Digits(mo);
  const int day = Digits(d);
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  out->append(y.data(), y.size());
  if (granularity == DateGranularity::kMonth) {
    out->push_back('-');
    out->append(mo.data(), mo.size());
  }
  return true;
}

bool GeneralizeNumber(absl::string_view value, int64_t width, std::string* out) {
  if (value.empty()) return true;
  if (width <= 0) return false;
  // Integers exactly; anything else through double.
  int64_t iv;
  if (absl::SimpleAtoi(value, &iv)) {
    int64_t q = iv / width;
    if (iv % width != 0 && iv < 0) --q;
    int64_t lo;
    int64_t hi;
    if (__builtin_mul_overflow(q, width, &lo) || __builtin_add_overflow(lo, width, &hi)) {
      return false;
    }
    absl::StrAppend(out, "[", lo, ",", hi, ")");
    return true;
  }
  double dv;
  if (!absl::SimpleAtod(value, &dv) || !std::isfinite(dv)) return false;
  const double q = std::floor(dv / static_cast<double>(width));
  if (std::fabs(q) > 9.0e15 / static_cast<double>(width)) return false;
  const int64_t lo = static_cast<int64_t>(q) * width;
  absl::StrAppend(out, "[", lo, ",", lo + width, ")");
  return true;
}

bool GeneralizePlace(absl::string_view value, std::string* out) {
  if (value.empty()) return true;
  if (AllDigits(value)) {
    if (value.size() == 2 || value.size() == 4 || value.size() == 6) {
      out->append(value.data(), value.size());
      return true;
    }
    if (value.size() > 6) {
      out->append(value.data(), 6);
      return true;
    }
    return false;
  }
  // Walk the address segment by segment; each segment ends at the first administrative suffix.
  size_t pos = 0;
  size_t end_of_admin = 0;  // bytes of the prefix made of complete administrative segments
  int level = 0;
  while (pos < value.size() && level < 3) {
    bool matched = false;
    size_t i = pos;
    while (i < value.size() && !matched) {
      for (const Suffix& s : kSuffixes) {
        if (value.substr(i, s.text.size()) == s.text) {
          // A segment needs a name before its suffix.
          if (i == pos) break;
          int seg_level = s.level;
          if (seg_level == 0) seg_level = level + 1;  // 市: the next level down
          level = std::max(level + 1, seg_level);
          pos = i + s.text.size();
          end_of_admin = pos;
          matched = true;
          break;
        }
      }
      if (!matched) i += Utf8Length(static_cast<unsigned char>(value[i]));
    }
    if (!matched) break;
  }
  if (end_of_admin == 0) return false;
  out->append(value.data(), end_of_admin);
  return true;
}

void Mask(absl::string_view value, int keep, std::string* out) {
  if (value.empty()) return;
  size_t code_points = 0;
  for (size_t i = 0; i < value.size(); i += Utf8Length(static_cast<unsigned char>(value[i]))) {
    ++code_points;
  }
  const size_t kept = std::min<size_t>(keep < 0 ? 0 : static_cast<size_t>(keep), code_points / 3);
  size_t bytes = 0;
  for (size_t n = 0; n < kept; ++n) bytes += Utf8Length(static_cast<unsigned char>(value[bytes]));
  out->append(value.data(), bytes);
  out->append("***");
}

// EVP_MD_CTX_free cleanses a context before it frees it.
struct Pseudonymizer::Pads {
  Pads() = default;
  ~Pads() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    EVP_MD_CTX_free(scratch);
  }
  Pads(const Pads&) = delete;
  Pads& operator=(const Pads&) = delete;

  EVP_MD_CTX* inner = EVP_MD_CTX_new();    // SHA-256 after key ^ ipad
  EVP_MD_CTX* outer = EVP_MD_CTX_new();    // SHA-256 after key ^ opad
  EVP_MD_CTX* scratch = EVP_MD_CTX_new();  // a copy of one of them, per value (not thread-safe)
};

Pseudonymizer::Pseudonymizer() : pads_(std::make_unique<Pads>()) {}

Pseudonymizer::~Pseudonymizer() = default;

absl::StatusOr<std::unique_ptr<Pseudonymizer>> Pseudonymizer::Create(absl::string_view key) {
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("pseudonym key has ", key.size(),
                                                   " bytes, at least ", kMinKeyBytes,
                                                   " are required (rule 23: keyed pseudonyms)"));
  }
  std::unique_ptr<Pseudonymizer> p(new Pseudonymizer());
  // RFC 2104: a key longer than the block is hashed first; then zero-padded to the block.
  unsigned char block[SHA256_CBLOCK] = {0};
  if (key.size() > SHA256_CBLOCK) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[SHA256_CBLOCK];
  unsigned char opad[SHA256_CBLOCK];
  for (int i = 0; i < SHA256_CBLOCK; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  Pads& pads = *p->pads_;
  const bool initialized = pads.inner != nullptr && pads.outer != nullptr &&
                           pads.scratch != nullptr &&
                           EVP_DigestInit_ex(pads.inner, EVP_sha256(), nullptr) == 1 &&
                           EVP_DigestUpdate(pads.inner, ipad, sizeof(ipad)) == 1 &&
                           EVP_DigestInit_ex(pads.outer, EVP_sha256(), nullptr) == 1 &&
                           EVP_DigestUpdate(pads.outer, opad, sizeof(opad)) == 1;
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
  if (!initialized) return OpensslFailure("SHA-256 init");
  std::string id;
  if (absl::Status s = p->Append("pdao-sample-key-id", &id); !s.ok()) return s;
  p->key_id_ = id.substr(0, 16);
  return p;
}

absl::Status Pseudonymizer::Append(absl::string_view value, std::string* out) {
  if (value.empty()) return absl::OkStatus();
  // RFC 2104: H(K ^ opad, H(K ^ ipad, value)), from the precomputed pad states.
  EVP_MD_CTX* ctx = pads_->scratch;
  unsigned char inner_hash[SHA256_DIGEST_LENGTH];
  unsigned char mac[SHA256_DIGEST_LENGTH];
  if (EVP_MD_CTX_copy_ex(ctx, pads_->inner) != 1 ||
      EVP_DigestUpdate(ctx, value.data(), value.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, inner_hash, nullptr) != 1 ||
      EVP_MD_CTX_copy_ex(ctx, pads_->outer) != 1 ||
      EVP_DigestUpdate(ctx, inner_hash, sizeof(inner_hash)) != 1 ||
      EVP_DigestFinal_ex(ctx, mac, nullptr) != 1) {
    return OpensslFailure("HMAC-SHA-256");
  }
  OPENSSL_cleanse(inner_hash, sizeof(inner_hash));
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * sizeof(mac));
  for (size_t i = 0; i < sizeof(mac); ++i) {
    (*out)[at + 2 * i] = kHex[mac[i] >> 4];
    (*out)[at + 2 * i + 1] = kHex[mac[i] & 0xF];
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace pdao::compliance::sample
