#include "common/rpc/request_check.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace pdao {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// google.protobuf.Duration's range: about ±10,000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kNanosPerSecond = 1000000000;

std::string Path(const std::string& prefix, const FieldDescriptor* field, int index) {
  std::string p = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
  if (index >= 0) absl::StrAppend(&p, "[", index, "]");
  return p;
}

absl::Status CheckTimestamp(const Message& m, const std::string& path) {
  const auto& ts = static_cast<const google::protobuf::Timestamp&>(m);
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".seconds = ", ts.seconds(),
                     " is outside the Timestamp range 0001-01-01..9999-12-31 (issue 9 item 8)"));
  }
  if (ts.nanos() < 0 || ts.nanos() >= kNanosPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".nanos = ", ts.nanos(), " is outside [0, 999999999] (issue 9 item 8)"));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(const Message& m, const std::string& path) {
  const auto& d = static_cast<const google::protobuf::Duration&>(m);
  if (d.seconds() < -kMaxDurationSeconds || d.seconds() > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".seconds = ", d.seconds(), " is outside the Duration range of ±",
                     kMaxDurationSeconds, " seconds (issue 9 item 8)"));
  }
  if (d.nanos() <= -kNanosPerSecond || d.nanos() >= kNanosPerSecond ||
      (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".nanos = ", d.nanos(),
                     " must be within ±999999999 and of the sign of seconds (issue 9 item 8)"));
  }
  return absl::OkStatus();
}

bool IsIdentifier(const FieldDescriptor* f) {
  const std::string& n = f->name();
  return n == "id" || absl::EndsWith(n, "_id") || absl::EndsWith(n, "_ids") ||
         absl::EndsWith(n, "_token") || absl::EndsWith(n, "_org");
}

absl::Status CheckString(const std::string& value, const std::string& path, bool identifier) {
  const size_t bound = identifier ? kMaxIdBytes : kMaxStringBytes;
  if (value.size() > bound) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", value.size(), " bytes; at most ", bound, " are allowed for ",
                     identifier ? "an identifier" : "a string field", " (issue 9 item 3)"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " contains the control character U+00", (c < 0x10 ? "0" : ""), absl::Hex(c),
          " at byte ", i, "; NUL and control characters are refused (issue 9 item 9)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEnum(const EnumDescriptor* type, int value, const std::string& path) {
  if (type->FindValueByNumber(value) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, " = ", value, " is not a value of ",
                                                   type->full_name(), " (issue 9 item 9)"));
  }
  return absl::OkStatus();
}

absl::Status CheckMessage(const Message& m, const std::string& path, int depth);

absl::Status CheckField(const Message& m, const FieldDescriptor* f, const std::string& prefix,
                        int depth) {
  const Reflection* r = m.GetReflection();
  const bool repeated = f->is_repeated();
  const int n = repeated ? r->FieldSize(m, f) : 1;
  if (n > kMaxRepeated) {
    return absl::InvalidArgumentError(absl::StrCat(Path(prefix, f, -1), " has ", n,
                                                   " elements; at most ", kMaxRepeated,
                                                   " are allowed (issue 9 item 3)"));
  }
  for (int i = 0; i < n; ++i) {
    const std::string path = Path(prefix, f, repeated ? i : -1);
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Message& sub = repeated ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f);
        absl::Status s = CheckMessage(sub, path, depth + 1);
        if (!s.ok()) return s;
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const int v = repeated ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
        absl::Status s = CheckEnum(f->enum_type(), v, path);
        if (!s.ok()) return s;
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        if (f->type() == FieldDescriptor::TYPE_BYTES) break;  // bytes are opaque
        std::string scratch;
        const std::string& v = repeated ? r->GetRepeatedStringReference(m, f, i, &scratch)
                                        : r->GetStringReference(m, f, &scratch);
        absl::Status s = CheckString(v, path, IsIdentifier(f));
        if (!s.ok()) return s;
        break;
      }
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMessage(const Message& m, const std::string& path, int depth) {
  if (depth > kMaxRequestDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " nests deeper than ", kMaxRequestDepth, " messages (issue 9 item 9)"));
  }
  const Descriptor* d = m.GetDescriptor();
  if (d == google::protobuf::Timestamp::descriptor()) return CheckTimestamp(m, path);
  if (d == google::protobuf::Duration::descriptor()) return CheckDuration(m, path);
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);  // only the fields that are set
  for (const FieldDescriptor* f : fields) {
    absl::Status s = CheckField(m, f, path, depth);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRequest(Message* request) {
  request->DiscardUnknownFields();
  return CheckMessage(*request, "", 0);
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, Message* request) {
  grpc::ByteBuffer copy(bytes);  // the reader consumes its buffer; a copy shares the slices
  grpc::ProtoBufferReader reader(&copy);
  request->Clear();
  if (!reader.status().ok() || !request->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request is not a valid ", request->GetDescriptor()->full_name(),
        ": malformed protobuf wire data, a string field that is not valid UTF-8, or nesting "
        "deeper than ",
        kMaxRequestDepth, " (issue 9 item 9)"));
  }
  return CheckRequest(request);
}

}  // namespace pdao
