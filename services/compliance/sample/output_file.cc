#include "services/compliance/sample/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace pdao::compliance::sample {
namespace {

absl::Status Error(absl::string_view step, const std::string& path, int err) {
  return absl::InternalError(
      absl::StrCat(step, " ", path, ": ", std::generic_category().message(err)));
}

absl::Status FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error("open directory", dir, errno);
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Error("fsync directory", dir, err);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Create(const std::string& path, int mode) {
  if (mode < 0 || mode > 07777) {
    return absl::InvalidArgumentError(absl::StrCat("file mode ", mode, " out of range for ", path));
  }
  std::random_device random;
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid(), ".", random());
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return Error("create", tmp, errno);
  std::unique_ptr<OutputFile> out(new OutputFile(path, tmp, fd));
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return Error("chmod", tmp, errno);
  if (out->sha_ == nullptr || EVP_DigestInit_ex(out->sha_, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 init failed");
  }
  out->buffer_.reserve(kFlushBytes + size_t{64} * 1024);
  return out;
}

OutputFile::OutputFile(std::string path, std::string tmp, int fd)
    : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd), sha_(EVP_MD_CTX_new()) {}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
  EVP_MD_CTX_free(sha_);
}

absl::Status OutputFile::Append(absl::string_view bytes) {
  buffer_.append(bytes.data(), bytes.size());
  return MaybeFlush();
}

absl::Status OutputFile::Flush() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(tmp_, " is closed"));
  if (EVP_DigestUpdate(sha_, buffer_.data(), buffer_.size()) != 1) {
    return absl::InternalError("SHA-256 update failed");
  }
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error("write", tmp_, errno);
    if (n == 0) return Error("write", tmp_, EIO);
    done += static_cast<size_t>(n);
  }
  bytes_ += static_cast<int64_t>(buffer_.size());
  buffer_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::string> OutputFile::Commit() {
  if (absl::Status s = Flush(); !s.ok()) return s;
  int rc;
  do {
    rc = ::fsync(fd_);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Error("fsync", tmp_, errno);
  rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return Error("close", tmp_, errno);
  // link() refuses an existing name, so a published sample is never replaced.
  if (::link(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("sample ", path_, " already exists"));
    }
    return Error("link to", path_, err);
  }
  ::unlink(tmp_.c_str());
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (absl::Status s = FsyncDirectory(parent.empty() ? "." : parent.string()); !s.ok()) {
    // Not durable: take it back rather than leave a sample nobody was told about.
    ::unlink(path_.c_str());
    return s;
  }
  committed_ = true;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(sha_, digest, &len) != 1) return absl::InternalError("SHA-256 failed");
  return std::string(reinterpret_cast<char*>(digest), len);
}

}  // namespace pdao::compliance::sample
