#include "common/file/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace pdao::file {
namespace {

std::string ErrnoText(int err) { return std::generic_category().message(err); }

absl::Status Error(absl::string_view step, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(step, " ", path, ": ", ErrnoText(err)));
}

// A name next to `path` that no other writer uses: pid, a per-process counter and random bits.
std::string TempNameFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  return absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1), ".",
                      random() & 0xffffff);
}

std::string ParentOf(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error("write", path, errno);
    if (n == 0) return Error("write", path, EIO);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
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

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no such file: ", path));
    return Error("open", path, errno);
  }
  std::string out;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode) {
  if (mode < 0 || mode > 07777) {
    return absl::InvalidArgumentError(absl::StrCat("file mode ", mode, " out of range for ", path));
  }
  const std::string tmp = TempNameFor(path);
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return Error("create", tmp, errno);
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return status;
  };
  // The umask may have narrowed the mode; widening it to exactly `mode` never exceeds `mode`.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail(Error("chmod", tmp, errno));
  if (absl::Status s = WriteAll(fd, contents, tmp); !s.ok()) return fail(s);
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return fail(Error("fsync", tmp, errno));
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error("close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("rename ", tmp, " to ", path, ": ", ErrnoText(err)));
  }
  return FsyncDirectory(ParentOf(path));
}

absl::Status MakeDirectories(const std::string& dir, int mode) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory path");
  std::filesystem::path so_far;
  for (const std::filesystem::path& part : std::filesystem::path(dir)) {
    so_far /= part;
    if (part.empty() || part == "/") continue;
    const std::string p = so_far.string();
    if (::mkdir(p.c_str(), static_cast<mode_t>(mode)) == 0) {
      // mkdir applies the umask; set exactly `mode` on what we created.
      if (::chmod(p.c_str(), static_cast<mode_t>(mode)) != 0) return Error("chmod", p, errno);
      continue;
    }
    if (errno != EEXIST) return Error("create directory", p, errno);
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return Error("stat", p, errno);
    if (!S_ISDIR(st.st_mode)) return Error("create directory", p, ENOTDIR);
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace pdao::file
