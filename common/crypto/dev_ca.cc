#include "common/crypto/dev_ca.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/rpc/principal.h"

namespace pdao::crypto {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
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
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The OpenSSL error queue as text (and cleared), appended to `what`.
std::string OpensslErrors() {
  std::vector<std::string> errs;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    errs.emplace_back(buf);
  }
  return errs.empty() ? "no OpenSSL error queued" : absl::StrJoin(errs, "; ");
}

absl::Status OpensslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpensslErrors()));
}

absl::StatusOr<X509Ptr> ParseCert(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM X.509 certificate: ", OpensslErrors()));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ParseKey(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpensslErrors()));
  }
  return key;
}

absl::StatusOr<std::string> BioToString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return OpensslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpensslError("PEM_write_bio_X509");
  return BioToString(bio.get());
}

absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpensslError("PEM_write_bio_PrivateKey");
  }
  return BioToString(bio.get());
}

absl::StatusOr<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpensslError("EVP_EC_gen(P-256)");
  return key;
}

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
  std::string extended_key_usage;  // e.g. "serverAuth,clientAuth"
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
  absl::StatusOr<X509Ptr> ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  absl::StatusOr<PkeyPtr> ca_key = ParseKey(ca.key_pem);
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
  absl::StatusOr<std::string> key_pem = KeyToPem(key->get());
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
  absl::StatusOr<X509Ptr> cert = ParseCert(cert_pem);
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

std::string ErrnoText() { return std::generic_category().message(errno); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string Join(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

// An exclusive flock(2) on DIR/.lock for the lifetime of the object, so two processes starting at
// once (docker compose) do not both create a CA.
class DirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(const std::string& dir) {
    const std::string path = Join(dir, ".lock");
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const std::string err = ErrnoText();
        ::close(fd);
        return absl::InternalError(absl::StrCat("flock ", path, ": ", err));
      }
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
  }
  ~DirLock() { ::close(fd_); }  // closing releases the lock
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

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
  absl::StatusOr<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return CertificateAuthority(CertAndKey{*std::move(cert_pem), *std::move(key_pem)});
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(std::string cert_pem,
                                                                   std::string key_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<PkeyPtr> key = ParseKey(key_pem);
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
  const std::string spiffe_id = absl::StrCat("spiffe://pdao/service/", request.service);
  if (absl::StatusOr<Principal> p = PrincipalFromSpiffeId(spiffe_id); !p.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid service name \"", request.service, "\": ", p.status().message()));
  }
  std::vector<std::string> sans = {"DNS:localhost"};
  for (const std::string& dns : request.extra_dns) {
    if (!IsDnsName(dns)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid DNS name \"", dns, "\""));
    }
    if (dns != "localhost") sans.push_back("DNS:" + dns);
  }
  sans.push_back("IP:127.0.0.1");
  sans.push_back("URI:" + spiffe_id);
  return IssueLeaf(ca_, LeafSpec{.common_name = request.service,
                                 .subject_alt_names = absl::StrJoin(sans, ","),
                                 .extended_key_usage = "serverAuth,clientAuth",
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
  absl::StatusOr<X509Ptr> cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<absl::Time> nb = Asn1ToTime(X509_get0_notBefore(cert->get()));
  if (!nb.ok()) return nb.status();
  absl::StatusOr<absl::Time> na = Asn1ToTime(X509_get0_notAfter(cert->get()));
  if (!na.ok()) return na.status();
  return Validity{*nb, *na};
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", tmp, ": ", ErrnoText()));
  auto fail = [&](absl::string_view op) {
    const std::string err = ErrnoText();
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(op, " ", tmp, ": ", err));
  };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("chmod");
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("close ", tmp, ": ", err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("rename ", tmp, " to ", path, ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no such file: ", path));
    return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
  }
  std::string out;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string err = ErrnoText();
      ::close(fd);
      return absl::InternalError(absl::StrCat("read ", path, ": ", err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status WriteCertAndKey(const std::string& dir, const std::string& base,
                             const CertAndKey& cert_and_key) {
  // Key first: a .crt without its .key is detected as a broken pair by EnsureDevCa.
  if (absl::Status s = WriteFileAtomically(Join(dir, base + ".key"), cert_and_key.key_pem, 0600);
      !s.ok()) {
    return s;
  }
  return WriteFileAtomically(Join(dir, base + ".crt"), cert_and_key.cert_pem, 0644);
}

absl::StatusOr<CertAndKey> ReadCertAndKey(const std::string& dir, const std::string& base) {
  absl::StatusOr<std::string> cert = ReadFile(Join(dir, base + ".crt"));
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(Join(dir, base + ".key"));
  if (!key.ok()) return key.status();
  return CertAndKey{*std::move(cert), *std::move(key)};
}

const std::vector<std::string>& PlatformServices() {
  static const auto* const kServices = new std::vector<std::string>{
      "registry", "authorization", "compliance", "pricing", "audit", "disclosure"};
  return *kServices;
}

const std::vector<pdao::common::v1::Role>& CredentialedRoles() {
  using namespace pdao::common::v1;  // NOLINT(build/namespaces)
  static const auto* const kRoles =
      new std::vector<Role>{ROLE_DATA_BUREAU, ROLE_GOVERNMENT, ROLE_IMPLEMENTING_AGENCY,
                            ROLE_DEPARTMENT,  ROLE_OPERATOR,   ROLE_BUSINESS_ENTITY,
                            ROLE_REGULATOR};
  return *kRoles;
}

absl::StatusOr<DevCa> EnsureDevCa(const std::string& dir, const DevCaOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("create directory ", dir, ": ", ec.message()));
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    if (ec) return absl::InternalError(absl::StrCat("chmod 0700 ", dir, ": ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<DirLock>> lock = DirLock::Acquire(dir);
  if (!lock.ok()) return lock.status();

  DevCa out;
  out.dir = dir;
  out.ca_cert_path = Join(dir, "ca.pem");
  out.ca_key_path = Join(dir, "ca.key");
  out.server_cert_path = Join(dir, "server.crt");
  out.server_key_path = Join(dir, "server.key");

  const bool has_cert = Exists(out.ca_cert_path);
  const bool has_key = Exists(out.ca_key_path);
  if (has_cert != has_key) {
    return absl::FailedPreconditionError(
        absl::StrCat("dev CA directory ", dir, " has ",
                     has_cert ? "ca.pem without ca.key" : "ca.key without ca.pem",
                     ": remove it or restore the missing file"));
  }
  std::optional<CertificateAuthority> ca;
  if (has_cert) {
    absl::StatusOr<std::string> cert = ReadFile(out.ca_cert_path);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(out.ca_key_path);
    if (!key.ok()) return key.status();
    absl::StatusOr<CertificateAuthority> loaded =
        CertificateAuthority::FromPem(*std::move(cert), *std::move(key));
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dev CA in ", dir, " does not load: ", loaded.status().message()));
    }
    ca = *std::move(loaded);
  } else {
    absl::StatusOr<CertificateAuthority> created = CertificateAuthority::Create(
        "PDAO dev CA", Validity::Starting(options.now, options.ca_validity));
    if (!created.ok()) return created.status();
    ca = *std::move(created);
    if (absl::Status s = WriteFileAtomically(out.ca_key_path, ca->key_pem(), 0600); !s.ok()) {
      return s;
    }
    if (absl::Status s = WriteFileAtomically(out.ca_cert_path, ca->cert_pem(), 0644); !s.ok()) {
      return s;
    }
    out.files_created += 2;
  }

  const Validity leaf = Validity::Starting(options.now, options.leaf_validity);
  // Creates <base>.crt/.key with `issue` unless both exist.
  auto ensure = [&](const std::string& base, auto issue) -> absl::Status {
    const bool crt = Exists(Join(dir, base + ".crt"));
    const bool key = Exists(Join(dir, base + ".key"));
    if (crt && key) return absl::OkStatus();
    if (crt != key) {
      return absl::FailedPreconditionError(
          absl::StrCat("dev CA directory ", dir, " has only one of ", base, ".crt and ", base,
                       ".key: remove it to have both issued again"));
    }
    absl::StatusOr<CertAndKey> issued = issue();
    if (!issued.ok()) return issued.status();
    if (absl::Status s = WriteCertAndKey(dir, base, *issued); !s.ok()) return s;
    out.files_created += 2;
    return absl::OkStatus();
  };

  if (absl::Status s = ensure("server",
                              [&] {
                                // Also valid for every service's host name, so one dev CA
                                // directory serves a whole docker-compose stack.
                                std::vector<std::string> dns;
                                for (const std::string& svc : PlatformServices()) {
                                  dns.push_back(svc);
                                  dns.push_back("pdao-" + svc);
                                }
                                return ca->IssueServerCert(ServerCertRequest{
                                    .service = "standalone", .extra_dns = dns, .validity = leaf});
                              });
      !s.ok()) {
    return s;
  }
  for (pdao::common::v1::Role role : CredentialedRoles()) {
    const std::string name = RoleName(role);
    if (absl::Status s =
            ensure(name,
                   [&] {
                     return ca->IssueClientCert(
                         absl::StrCat("spiffe://pdao/org/demo-",
                                      absl::StrReplaceAll(name, {{"_", "-"}}), "/role/", name),
                         leaf);
                   });
        !s.ok()) {
      return s;
    }
    out.role_cert_paths[role] = Join(dir, name + ".crt");
    out.role_key_paths[role] = Join(dir, name + ".key");
  }
  for (const std::string& svc : PlatformServices()) {
    const std::string base = "service-" + svc;
    if (absl::Status s =
            ensure(base,
                   [&] {
                     return ca->IssueServerCert(ServerCertRequest{
                         .service = svc, .extra_dns = {svc, "pdao-" + svc}, .validity = leaf});
                   });
        !s.ok()) {
      return s;
    }
    out.service_cert_paths[svc] = Join(dir, base + ".crt");
    out.service_key_paths[svc] = Join(dir, base + ".key");
  }
  return out;
}

}  // namespace pdao::crypto
