#include "services/audit/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace pdao::audit {
namespace {

constexpr uint32_t kMagic = 0x52414450;  // "PDAR" little endian
constexpr size_t kHeader = 12;

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (0x82F63B78u ^ (c >> 1)) : (c >> 1);
    t[i] = c;
  }
  return t;
}

void Put32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out.append(b, 4);
}
uint32_t Get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

uint32_t RecordCrc(uint32_t length, absl::string_view payload) {
  const char len[4] = {static_cast<char>(length), static_cast<char>(length >> 8),
                       static_cast<char>(length >> 16), static_cast<char>(length >> 24)};
  return Crc32c(payload, Crc32c(absl::string_view(len, sizeof(len))));
}

#if defined(__x86_64__)
// SSE4.2's CRC32 instruction computes exactly CRC-32C (Castagnoli, reflected), 8 bytes a step.
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(absl::string_view data, uint32_t crc) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = ~crc & 0xffffffffu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return ~c32;
}

bool HasSse42() { return __builtin_cpu_supports("sse4.2"); }
#endif

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::generic_category().message(errno)));
}

bool PreadAll(int fd, char* buf, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
#if defined(__x86_64__)
  static const bool hardware = HasSse42();
  if (hardware) return Crc32cSse42(data, crc);
#endif
  return Crc32cPortable(data, crc);
}

uint32_t Crc32cPortable(absl::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> table = MakeTable();
  crc = ~crc;
  for (unsigned char c : data) crc = table[(crc ^ c) & 0xff] ^ (crc >> 8);
  return ~crc;
}

absl::StatusOr<std::unique_ptr<RecordFile>> RecordFile::Open(const std::string& path,
                                                             const RecordVisitor& visit,
                                                             const TornTailHook& on_torn_tail) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open", path);
  std::unique_ptr<RecordFile> file(new RecordFile(fd, path));
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("cannot stat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t off = 0;
  std::string payload;
  while (off < size) {
    char header[kHeader];
    bool torn = false;
    std::string why;
    if (size - off < kHeader) {
      torn = true;
    } else if (!PreadAll(fd, header, kHeader, off)) {
      return Errno("cannot read", path);
    } else {
      const uint32_t magic = Get32(header), len = Get32(header + 4), crc = Get32(header + 8);
      if (magic != kMagic) {
        why = "bad record magic";
      } else if (size - off - kHeader < len) {
        torn = true;
      } else {
        payload.resize(len);
        if (!PreadAll(fd, payload.data(), len, off + kHeader)) return Errno("cannot read", path);
        if (RecordCrc(len, payload) != crc) {
          if (off + kHeader + len == size) {
            torn = true;  // the last record of an interrupted batch
          } else {
            why = "record fails its CRC";
          }
        } else {
          if (absl::Status s = visit(off, payload); !s.ok()) return s;
          off += kHeader + len;
          continue;
        }
      }
    }
    if (torn) {
      if (::ftruncate(fd, static_cast<off_t>(off)) != 0) return Errno("cannot truncate", path);
      if (::fdatasync(fd) != 0) return Errno("cannot sync", path);
      file->truncated_bytes_ = size - off;
      // An unacknowledged batch was cut short (a crash mid-write): nothing acknowledged is lost,
      // but an operator must be able to see that it happened and how much was dropped.
      log::Warn(
          "audit record file: torn tail truncated at start",
          {{"file", path}, {"offset", off}, {"bytes", file->truncated_bytes_}, {"rule", "33"}});
      if (on_torn_tail) on_torn_tail(path, file->truncated_bytes_);
      break;
    }
    file->corruption_ = absl::StrCat(path, ": ", why, " at offset ", off,
                                     " with data after it (tampering or corruption, rule 33)");
    break;
  }
  file->end_ = off;
  return file;
}

RecordFile::~RecordFile() { ::close(fd_); }

absl::StatusOr<std::vector<uint64_t>> RecordFile::Append(absl::Span<const std::string> payloads) {
  std::vector<absl::string_view> views(payloads.begin(), payloads.end());
  return AppendViews(views);
}

absl::StatusOr<std::vector<uint64_t>> RecordFile::AppendViews(
    absl::Span<const absl::string_view> payloads) {
  const uint64_t before = end_;
  absl::StatusOr<std::vector<uint64_t>> offsets = Write(payloads);
  if (!offsets.ok()) return offsets;
  if (absl::Status s = Sync(); !s.ok()) {
    (void)::ftruncate(fd_, static_cast<off_t>(before));
    end_ = before;
    return s;
  }
  return offsets;
}

absl::Status RecordFile::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("cannot fdatasync", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> RecordFile::Write(
    absl::Span<const absl::string_view> payloads) {
  if (!corruption_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the log is corrupt, appending refused (fail closed, rule 34): ", corruption_));
  }
  std::string buf;
  size_t total = 0;
  for (absl::string_view p : payloads) total += kHeader + p.size();
  buf.reserve(total);
  std::vector<uint64_t> offsets;
  offsets.reserve(payloads.size());
  for (absl::string_view p : payloads) {
    offsets.push_back(end_ + buf.size());
    const uint32_t len = static_cast<uint32_t>(p.size());
    Put32(buf, kMagic);
    Put32(buf, len);
    Put32(buf, RecordCrc(len, p));
    buf.append(p.data(), p.size());
  }
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t w =
        ::pwrite(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(end_ + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      absl::Status s = Errno("cannot write", path_);
      (void)::ftruncate(fd_, static_cast<off_t>(end_));
      return s;
    }
    done += static_cast<size_t>(w);
  }
  end_ += buf.size();
  return offsets;
}

absl::StatusOr<std::string> RecordFile::Read(uint64_t offset) const {
  char header[kHeader];
  if (!PreadAll(fd_, header, kHeader, offset)) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at offset ", offset, " is missing (rule 33)"));
  }
  const uint32_t magic = Get32(header), len = Get32(header + 4), crc = Get32(header + 8);
  std::string payload(len, '\0');
  if (magic != kMagic || len > (64u << 20) ||
      !PreadAll(fd_, payload.data(), len, offset + kHeader) || RecordCrc(len, payload) != crc) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at offset ", offset, " fails its CRC (rule 33)"));
  }
  return payload;
}

}  // namespace pdao::audit
