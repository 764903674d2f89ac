#include "tools/pdaoctl/rpc_call.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <cctype>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/rpc/channel.h"
#include "common/status/grpc_status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/dev/v1/dev_clock.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"

namespace pdao::ctl {
namespace {

// The services pdaoctl knows. Naming each generated service here also keeps its descriptors
// linked into the binary.
const std::vector<std::pair<std::string, const google::protobuf::ServiceDescriptor*>>& Services() {
  static const auto* services =
      new std::vector<std::pair<std::string, const google::protobuf::ServiceDescriptor*>>{
          {"registry", pdao::registry::v1::Resource::descriptor()->file()->FindServiceByName(
                           "RegistryService")},
          {"authorization",
           pdao::authorization::v1::Agreement::descriptor()->file()->FindServiceByName(
               "AuthorizationService")},
          {"audit",
           pdao::audit::v1::AuditEntry::descriptor()->file()->FindServiceByName("AuditService")},
          {"dev-clock", pdao::dev::v1::GetTimeRequest::descriptor()->file()->FindServiceByName(
                            "DevClockService")},
      };
  return *services;
}

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

const google::protobuf::ServiceDescriptor* FindService(const std::string& service) {
  for (const auto& [alias, descriptor] : Services()) {
    if (alias == service || descriptor->full_name() == service) return descriptor;
  }
  return nullptr;
}

}  // namespace

std::string ServiceFullName(const std::string& service) {
  const google::protobuf::ServiceDescriptor* d = FindService(service);
  return d != nullptr ? d->full_name() : service;
}

std::vector<std::string> ListMethods() {
  std::vector<std::string> out;
  for (const auto& [alias, d] : Services()) {
    for (int i = 0; i < d->method_count(); ++i) {
      out.push_back(absl::StrCat(alias, " ", d->method(i)->name(), "  (", d->full_name(), "/",
                                 d->method(i)->name(), ")"));
    }
  }
  return out;
}

absl::StatusOr<std::string> CallJson(const std::shared_ptr<grpc::Channel>& channel,
                                     const std::string& service, const std::string& method,
                                     const std::string& request_json, absl::Duration timeout) {
  const google::protobuf::ServiceDescriptor* sd = FindService(service);
  if (sd == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown service \"", service, "\"; `pdaoctl methods` lists them"));
  }
  const google::protobuf::MethodDescriptor* md = sd->FindMethodByName(method);
  if (md == nullptr) md = sd->FindMethodByName(KebabToCamel(method));
  if (md == nullptr || md->client_streaming() || md->server_streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown method \"", method, "\" of ", sd->full_name()));
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> request(factory.GetPrototype(md->input_type())->New());
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(md->output_type())->New());
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      request_json.empty() ? "{}" : request_json, request.get(), parse);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request is not a valid ",
                                                   md->input_type()->full_name(),
                                                   " in JSON: ", parsed.message().as_string()));
  }
  std::string bytes = request->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  WithDeadline(context, timeout);
  grpc::GenericStub stub(channel);
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, absl::StrCat("/", sd->full_name(), "/", md->name()), grpc::StubOptions(),
                 &request_buffer, &response_buffer, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("unreadable response");
  std::string out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (!response->ParseFromString(out)) return absl::InternalError("response does not parse");
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string json;
  auto printed = google::protobuf::util::MessageToJsonString(*response, &json, print);
  if (!printed.ok()) return absl::InternalError(printed.message().as_string());
  return json;
}

}  // namespace pdao::ctl
