#include "tools/pdaoctl/rpc_call.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/rpc/channel.h"
#include "common/status/grpc_status.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"

namespace pdao::ctl {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::ServiceDescriptor;

std::string KebabToCamel(const std::string& s) {
  std::string out;
  bool upper = true;
  for (char c : s) {
    if (c == '-' || c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

std::string CamelToKebab(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) out.push_back('-');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const ServiceDescriptor* FindService(const std::string& service) {
  for (const KnownService& s : KnownServices()) {
    if (s.alias == service || s.descriptor->full_name() == service) return s.descriptor;
  }
  return nullptr;
}

}  // namespace

const std::vector<KnownService>& KnownServices() {
  static const auto* services = [] {
    auto* out = new std::vector<KnownService>();
    // The generated pool cannot enumerate its files; the database behind it (every file linked
    // in) can.
    std::vector<std::string> files;
    DescriptorPool::internal_generated_database()->FindAllFileNames(&files);
    for (const std::string& name : files) {
      if (!absl::StartsWith(name, "pdao/") || absl::StartsWith(name, "pdao/testing/")) continue;
      const google::protobuf::FileDescriptor* file =
          DescriptorPool::generated_pool()->FindFileByName(name);
      if (file == nullptr) continue;
      for (int i = 0; i < file->service_count(); ++i) {
        const ServiceDescriptor* d = file->service(i);
        out->push_back({CamelToKebab(absl::StripSuffix(d->name(), "Service")), d});
      }
    }
    std::sort(out->begin(), out->end(), [](const KnownService& a, const KnownService& b) {
      return a.descriptor->full_name() < b.descriptor->full_name();
    });
    return out;
  }();
  return *services;
}

std::string ServiceFullName(const std::string& service) {
  const ServiceDescriptor* d = FindService(service);
  return d != nullptr ? d->full_name() : service;
}

std::vector<std::string> ListMethods() {
  std::vector<std::string> out;
  for (const KnownService& s : KnownServices()) {
    for (int i = 0; i < s.descriptor->method_count(); ++i) {
      out.push_back(absl::StrCat(s.alias, " ", s.descriptor->method(i)->name(), "  (",
                                 s.descriptor->full_name(), "/", s.descriptor->method(i)->name(),
                                 ")"));
    }
  }
  return out;
}

absl::StatusOr<PreparedCall> PrepareCall(const std::string& service, const std::string& method,
                                         const std::string& request_json) {
  const ServiceDescriptor* sd = FindService(service);
  if (sd == nullptr) {
    std::vector<std::string> aliases;
    for (const KnownService& s : KnownServices()) aliases.push_back(s.alias);
    return absl::InvalidArgumentError(absl::StrCat("unknown service \"", service, "\"; use one of ",
                                                   absl::StrJoin(aliases, ", "),
                                                   " (`pdaoctl methods` lists every method)"));
  }
  const google::protobuf::MethodDescriptor* md = sd->FindMethodByName(method);
  if (md == nullptr) md = sd->FindMethodByName(KebabToCamel(method));
  if (md == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown method \"", method, "\" of ",
                                                   sd->full_name(),
                                                   "; `pdaoctl methods` lists the methods"));
  }
  if (md->client_streaming() || md->server_streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat(md->full_name(), " is a streaming method; pdaoctl calls unary methods only"));
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> request(factory.GetPrototype(md->input_type())->New());
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      request_json.empty() ? "{}" : request_json, request.get(), parse);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request argument is not a valid ", md->input_type()->full_name(),
                     " in proto3 JSON (fix the JSON; field names as in the .proto): ",
                     parsed.message().as_string()));
  }
  return PreparedCall{md, request->SerializeAsString()};
}

absl::StatusOr<std::string> Invoke(const std::shared_ptr<grpc::Channel>& channel,
                                   const PreparedCall& call, absl::Duration timeout) {
  const google::protobuf::MethodDescriptor* md = call.method;
  grpc::Slice slice(call.request_bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  WithDeadline(context, timeout);
  grpc::GenericStub stub(channel);
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, absl::StrCat("/", md->service()->full_name(), "/", md->name()),
                 grpc::StubOptions(), &request_buffer, &response_buffer, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("unreadable response");
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(md->output_type())->New());
  if (!response->ParseFromString(out)) {
    return absl::InternalError(
        absl::StrCat("the response does not parse as ", md->output_type()->full_name()));
  }
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string json;
  auto printed = google::protobuf::util::MessageToJsonString(*response, &json, print);
  if (!printed.ok()) return absl::InternalError(printed.message().as_string());
  return json;
}

}  // namespace pdao::ctl
