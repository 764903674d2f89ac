#include "common/crypto/dev_ca.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/file/file.h"
#include "common/rpc/principal.h"

namespace pdao::crypto {
namespace {

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
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("open ", path, ": ", std::generic_category().message(errno)));
    }
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const std::string err = std::generic_category().message(errno);
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

// The loaded CA of `dir`, or a new one written there.
absl::StatusOr<CertificateAuthority> LoadOrCreateCa(const DevCa& paths, const DevCaOptions& options,
                                                    int* files_created) {
  const bool has_cert = file::Exists(paths.ca_cert_path);
  const bool has_key = file::Exists(paths.ca_key_path);
  if (has_cert != has_key) {
    return absl::FailedPreconditionError(
        absl::StrCat("dev CA directory ", paths.dir, " has ",
                     has_cert ? "ca.pem without ca.key" : "ca.key without ca.pem",
                     ": remove it or restore the missing file"));
  }
  if (has_cert) {
    absl::StatusOr<std::string> cert = file::ReadFile(paths.ca_cert_path);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = file::ReadFile(paths.ca_key_path);
    if (!key.ok()) return key.status();
    absl::StatusOr<CertificateAuthority> loaded =
        CertificateAuthority::FromPem(*std::move(cert), *std::move(key));
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dev CA in ", paths.dir, " does not load: ", loaded.status().message()));
    }
    return loaded;
  }
  absl::StatusOr<CertificateAuthority> created = CertificateAuthority::Create(
      "PDAO dev CA", Validity::Starting(options.now, options.ca_validity));
  if (!created.ok()) return created.status();
  if (absl::Status s = file::WriteFileAtomically(paths.ca_key_path, created->key_pem(), 0600);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = file::WriteFileAtomically(paths.ca_cert_path, created->cert_pem(), 0644);
      !s.ok()) {
    return s;
  }
  *files_created += 2;
  return created;
}

// True when DIR/<base>.crt carries exactly the extended key usage `want`.
bool HasUsage(const std::string& dir, const std::string& base, const std::string& want) {
  absl::StatusOr<std::string> pem = file::ReadFile(Join(dir, base + ".crt"));
  if (!pem.ok()) return false;
  absl::StatusOr<std::vector<std::string>> usages = ExtendedKeyUsages(*pem);
  return usages.ok() && *usages == std::vector<std::string>{want};
}

}  // namespace

const std::vector<std::string>& PlatformServices() {
  static const auto* const kServices = new std::vector<std::string>{
      "registry", "authorization", "compliance", "pricing", "audit", "disclosure"};
  return *kServices;
}

const std::vector<pdao::common::v1::Role>& CredentialedRoles() {
  using pdao::common::v1::Role;
  static const auto* const kRoles = new std::vector<Role>{common::v1::ROLE_DATA_BUREAU,
                                                          common::v1::ROLE_GOVERNMENT,
                                                          common::v1::ROLE_IMPLEMENTING_AGENCY,
                                                          common::v1::ROLE_DEPARTMENT,
                                                          common::v1::ROLE_OPERATOR,
                                                          common::v1::ROLE_BUSINESS_ENTITY,
                                                          common::v1::ROLE_REGULATOR};
  return *kRoles;
}

absl::StatusOr<DevCa> EnsureDevCa(const std::string& dir, const DevCaOptions& options) {
  for (const std::string& svc : options.services) {
    if (absl::StatusOr<std::string> id = ServiceSpiffeId(svc); !id.ok()) return id.status();
  }
  if (!file::Exists(dir)) {
    if (absl::Status s = file::MakeDirectories(dir, 0700); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<DirLock>> lock = DirLock::Acquire(dir);
  if (!lock.ok()) return lock.status();

  DevCa out;
  out.dir = dir;
  out.ca_cert_path = Join(dir, "ca.pem");
  out.ca_key_path = Join(dir, "ca.key");
  out.server_cert_path = Join(dir, "server.crt");
  out.server_key_path = Join(dir, "server.key");
  absl::StatusOr<CertificateAuthority> ca = LoadOrCreateCa(out, options, &out.files_created);
  if (!ca.ok()) return ca.status();

  const Validity leaf = Validity::Starting(options.now, options.leaf_validity);
  // Creates <base>.crt/.key with `issue` unless both exist with extended key usage `usage`.
  auto ensure = [&](const std::string& base, const std::string& usage,
                    const std::function<absl::StatusOr<CertAndKey>()>& issue) -> absl::Status {
    const bool crt = file::Exists(Join(dir, base + ".crt"));
    const bool key = file::Exists(Join(dir, base + ".key"));
    if (crt != key) {
      return absl::FailedPreconditionError(
          absl::StrCat("dev CA directory ", dir, " has only one of ", base, ".crt and ", base,
                       ".key: remove it to have both issued again"));
    }
    if (crt && HasUsage(dir, base, usage)) return absl::OkStatus();
    absl::StatusOr<CertAndKey> issued = issue();
    if (!issued.ok()) return issued.status();
    if (absl::Status s = WriteCertAndKey(dir, base, *issued); !s.ok()) return s;
    out.files_created += 2;
    return absl::OkStatus();
  };
  auto server_cert = [&](const std::string& service, std::vector<std::string> dns) {
    return [&ca, &leaf, service, dns = std::move(dns)] {
      return ca->IssueServerCert(
          ServerCertRequest{.service = service, .extra_dns = dns, .validity = leaf});
    };
  };

  // pdao-standalone's server certificate also names every service host, so one dev CA directory
  // serves a whole docker-compose stack.
  std::vector<std::string> all_hosts;
  for (const std::string& svc : options.services) {
    all_hosts.push_back(svc);
    all_hosts.push_back("pdao-" + svc);
  }
  if (absl::Status s = ensure("server", "serverAuth", server_cert("standalone", all_hosts));
      !s.ok()) {
    return s;
  }
  for (pdao::common::v1::Role role : CredentialedRoles()) {
    const std::string name = RoleName(role);
    if (absl::Status s =
            ensure(name, "clientAuth",
                   [&] { return ca->IssueClientCert(OrgRoleSpiffeId(DemoOrg(role), role), leaf); });
        !s.ok()) {
      return s;
    }
    out.role_cert_paths[role] = Join(dir, name + ".crt");
    out.role_key_paths[role] = Join(dir, name + ".key");
  }
  for (const std::string& svc : options.services) {
    const std::string server = "server-" + svc;
    if (absl::Status s = ensure(server, "serverAuth", server_cert(svc, {svc, "pdao-" + svc}));
        !s.ok()) {
      return s;
    }
    out.server_cert_paths[svc] = Join(dir, server + ".crt");
    out.server_key_paths[svc] = Join(dir, server + ".key");
    const std::string client = "service-" + svc;
    if (absl::Status s = ensure(client, "clientAuth",
                                [&] { return ca->IssueClientCert(*ServiceSpiffeId(svc), leaf); });
        !s.ok()) {
      return s;
    }
    out.service_cert_paths[svc] = Join(dir, client + ".crt");
    out.service_key_paths[svc] = Join(dir, client + ".key");
  }
  return out;
}

}  // namespace pdao::crypto
