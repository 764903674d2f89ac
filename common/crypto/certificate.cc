#include "common/crypto/certificate.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/key.h"
#include "common/crypto/openssl.h"
#include "common/crypto/spiffe.h"
#include "common/rpc/principal.h"

namespace pdao::crypto {
namespace {

struct NameFree {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};
struct EkuFree {
  void operator()(EXTENDED_KEY_USAGE* e) const { EXTENDED_KEY_USAGE_free(e); }
};

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return OpensslError(absl::StrCat("X509V3_EXT_conf_nid(", OBJ_nid2sn(nid), ")"));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpensslError("X509_add_ext");
  return absl::OkStatus();
}

absl::Status CheckValidity(const Validity& v) {
  if (v.not_after <= v.not_before) {
    return absl::InvalidArgumentError("certificate validity is empty: notAfter <= notBefore");
  }
  return absl::OkStatus();
}

struct LeafSpec {
  std::string common_name;
  std::string subject_alt_names;   // OpenSSL conf syntax, e.g. "DNS:localhost,URI:spiffe://..."
  std::string extended_key_usage;  // "serverAuth" or "clientAuth", never both
  Validity validity;
};

// Builds an unsigned certificate with subject, issuer, window, key and key identifiers.
// `issuer_cert` null: self-signed (the CA).
absl::StatusOr<X509Ptr> BuildCert(EVP_PKEY* subject_key, const std::string& common_name,
                                  const Validity& validity, X509* issuer_cert) {
  X509Ptr cert(X509_new());
  if (!cert) return OpensslError("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpensslError("X509_set_version");

  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpensslError("RAND_bytes");
  serial[0] &= 0x7F;  // positive
  std::unique_ptr<BIGNUM, BnFree> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpensslError("serial number");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(validity.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(validity.not_after)) == nullptr) {
    return OpensslError("ASN1_TIME_set");
  }

  std::unique_ptr<X509_NAME, NameFree> name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("PDAO"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1) {
    return OpensslError("subject name");
  }
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return OpensslError("issuer name");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return OpensslError("X509_set_pubkey");
  if (absl::Status s = AddExtension(cert.get(), issuer, NID_subject_key_identifier, "hash");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          AddExtension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
      !s.ok()) {
    return s;
  }
  return cert;
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpensslError("X509_sign");
  return absl::OkStatus();
}

absl::StatusOr<CertAndKey> IssueLeaf(const CertAndKey& ca, const LeafSpec& spec) {
  if (absl::Status s = CheckValidity(spec.validity); !s.ok()) return s;
  absl::StatusOr<X509Ptr> ca_cert = ParseCertPem(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  absl::StatusOr<PkeyPtr> ca_key = ParsePrivateKeyPem(ca.key_pem);
  if (!ca_key.ok()) return ca_key.status();
  absl::StatusOr<PkeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert =
      BuildCert(key->get(), spec.common_name, spec.validity, ca_cert->get());
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509* issuer = ca_cert->get();
  for (const auto& [nid, value] :
       std::vector<std::pair<int, std::string>>{{NID_basic_constraints, "critical,CA:FALSE"},
                                                {NID_key_usage, "critical,digitalSignature"},
                                                {NID_ext_key_usage, spec.extended_key_usage},
                                                {NID_subject_alt_name, spec.subject_alt_names}}) {
    if (absl::Status s = AddExtension(c, issuer, nid, value); !s.ok()) return s;
  }
  if (absl::Status s = Sign(c, ca_key->get()); !s.ok()) return s;
  absl::StatusOr<std::string> cert_pem = CertToPem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return CertAndKey{*std::move(cert_pem), *std::move(key_pem)};
}

bool IsDnsName(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '*') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> SansOfType(absl::string_view cert_pem, bool uris) {
  absl::StatusOr<X509Ptr> cert = ParseCertPem(cert_pem);
  if (!cert.ok()) return cert.status();
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    auto text = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    };
    if (uris && gen->type == GEN_URI) {
      out.push_back(text(gen->d.uniformResourceIdentifier));
    } else if (!uris && gen->type == GEN_DNS) {
      out.push_back("DNS:" + text(gen->d.dNSName));
    } else if (!uris && gen->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gen->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf)) != nullptr) {
        out.push_back(std::string("IP:") + buf);
      }
    }
  }
  return out;
}

absl::StatusOr<absl::Time> Asn1ToTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return OpensslError("ASN1_TIME_to_tm");
  return absl::FromTimeT(timegm(&tm));
}

}  // namespace

Validity Validity::Starting(absl::Time now, absl::Duration duration) {
  return Validity{now - absl::Minutes(5), now + duration};
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(absl::string_view common_name,
                                                                  Validity validity) {
  if (absl::Status s = CheckValidity(validity); !s.ok()) return s;
  absl::StatusOr<PkeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert = BuildCert(key->get(), std::string(common_name), validity, nullptr);
  if (!cert.ok()) return cert.status();
  for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"}}) {
    if (absl::Status s = AddExtension(cert->get(), cert->get(), nid, value); !s.ok()) return s;
  }
  if (absl::Status s = Sign(cert->get(), key->get()); !s.ok()) return s;
  absl::StatusOr<std::string> cert_pem = CertToPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return CertificateAuthority(CertAndKey{*std::move(cert_pem), *std::move(key_pem)});
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(std::string cert_pem,
                                                                   std::string key_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertPem(cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<PkeyPtr> key = ParsePrivateKeyPem(key_pem);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    OpensslErrors();
    return absl::InvalidArgumentError("CA private key does not match the CA certificate");
  }
  if (X509_check_ca(cert->get()) < 1) {
    return absl::InvalidArgumentError("certificate is not a CA (basicConstraints CA:TRUE)");
  }
  return CertificateAuthority(CertAndKey{std::move(cert_pem), std::move(key_pem)});
}

absl::StatusOr<CertAndKey> CertificateAuthority::IssueServerCert(
    const ServerCertRequest& request) const {
  absl::StatusOr<std::string> spiffe_id = ServiceSpiffeId(request.service);
  if (!spiffe_id.ok()) return spiffe_id.status();
  std::vector<std::string> sans = {"DNS:localhost"};
  for (const std::string& dns : request.extra_dns) {
    if (!IsDnsName(dns)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid DNS name \"", dns, "\""));
    }
    if (dns != "localhost") sans.push_back("DNS:" + dns);
  }
  sans.push_back("IP:127.0.0.1");
  sans.push_back("URI:" + *spiffe_id);
  return IssueLeaf(ca_, LeafSpec{.common_name = request.service,
                                 .subject_alt_names = absl::StrJoin(sans, ","),
                                 .extended_key_usage = "serverAuth",
                                 .validity = request.validity});
}

absl::StatusOr<CertAndKey> CertificateAuthority::IssueClientCert(absl::string_view spiffe_id,
                                                                 Validity validity) const {
  absl::StatusOr<Principal> p = PrincipalFromSpiffeId(std::string(spiffe_id));
  if (!p.ok()) return p.status();
  const std::string cn =
      p->is_service() ? p->service : absl::StrCat(p->org, "/", RoleName(p->role));
  return IssueLeaf(ca_, LeafSpec{.common_name = cn,
                                 .subject_alt_names = absl::StrCat("URI:", spiffe_id),
                                 .extended_key_usage = "clientAuth",
                                 .validity = validity});
}

absl::StatusOr<std::vector<std::string>> UriSans(absl::string_view cert_pem) {
  return SansOfType(cert_pem, /*uris=*/true);
}

absl::StatusOr<std::vector<std::string>> DnsAndIpSans(absl::string_view cert_pem) {
  return SansOfType(cert_pem, /*uris=*/false);
}

absl::StatusOr<Validity> CertValidity(absl::string_view cert_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertPem(cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<absl::Time> nb = Asn1ToTime(X509_get0_notBefore(cert->get()));
  if (!nb.ok()) return nb.status();
  absl::StatusOr<absl::Time> na = Asn1ToTime(X509_get0_notAfter(cert->get()));
  if (!na.ok()) return na.status();
  return Validity{*nb, *na};
}

absl::StatusOr<std::vector<std::string>> ExtendedKeyUsages(absl::string_view cert_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertPem(cert_pem);
  if (!cert.ok()) return cert.status();
  std::vector<std::string> out;
  std::unique_ptr<EXTENDED_KEY_USAGE, EkuFree> eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert->get(), NID_ext_key_usage, nullptr, nullptr)));
  if (!eku) return out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    out.emplace_back(OBJ_nid2sn(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i))));
  }
  return out;
}

}  // namespace pdao::crypto
