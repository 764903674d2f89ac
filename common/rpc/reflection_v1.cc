#include "common/rpc/reflection_v1.h"

#include <grpcpp/impl/server_initializer.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"

namespace pdao {

namespace refl = grpc::reflection::v1;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

class ReflectionV1Plugin::Service final : public refl::ServerReflection::Service {
 public:
  void SetServiceList(const std::vector<std::string>* services) {
    absl::MutexLock lock(&mu_);
    services_ = services;
  }

  // refl::ServerReflection::Service
  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<refl::ServerReflectionResponse, refl::ServerReflectionRequest>*
          stream) override {
    refl::ServerReflectionRequest request;
    while (stream->Read(&request)) {
      refl::ServerReflectionResponse response;
      response.set_valid_host(request.host());
      *response.mutable_original_request() = request;
      Answer(request, response);
      if (!stream->Write(response)) break;
    }
    return context->IsCancelled() ? grpc::Status::CANCELLED : grpc::Status::OK;
  }

 private:
  void Answer(const refl::ServerReflectionRequest& request,
              refl::ServerReflectionResponse& response) {
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    switch (request.message_request_case()) {
      case refl::ServerReflectionRequest::kListServices: {
        absl::MutexLock lock(&mu_);
        if (services_ == nullptr) break;
        for (const std::string& name : *services_) {
          response.mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      }
      case refl::ServerReflectionRequest::kFileByFilename:
        if (const FileDescriptor* f = pool->FindFileByName(request.file_by_filename())) {
          return AddFile(f, response);
        }
        return NotFound(absl::StrCat("file ", request.file_by_filename()), response);
      case refl::ServerReflectionRequest::kFileContainingSymbol:
        if (const FileDescriptor* f =
                pool->FindFileContainingSymbol(request.file_containing_symbol())) {
          return AddFile(f, response);
        }
        return NotFound(absl::StrCat("symbol ", request.file_containing_symbol()), response);
      case refl::ServerReflectionRequest::kFileContainingExtension: {
        const auto& ext = request.file_containing_extension();
        const auto* type = pool->FindMessageTypeByName(ext.containing_type());
        const auto* field =
            type == nullptr ? nullptr : pool->FindExtensionByNumber(type, ext.extension_number());
        if (field != nullptr) return AddFile(field->file(), response);
        return NotFound(
            absl::StrCat("extension ", ext.extension_number(), " of ", ext.containing_type()),
            response);
      }
      case refl::ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const auto* type = pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (type == nullptr) {
          return NotFound(absl::StrCat("type ", request.all_extension_numbers_of_type()), response);
        }
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* out = response.mutable_all_extension_numbers_response();
        out->set_base_type_name(type->full_name());
        for (const auto* e : extensions) out->add_extension_number(e->number());
        return;
      }
      default:
        break;
    }
    auto* error = response.mutable_error_response();
    error->set_error_code(static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
    error->set_error_message("request type not supported by grpc.reflection.v1 here");
  }

  // The file first, then its transitive dependencies, each once. Every answer is complete on its
  // own, so a client need not remember what earlier answers on the stream carried.
  static void AddFile(const FileDescriptor* file, refl::ServerReflectionResponse& response) {
    std::vector<const FileDescriptor*> pending = {file};
    std::set<std::string> sent;
    auto* out = response.mutable_file_descriptor_response();
    while (!pending.empty()) {
      const FileDescriptor* f = pending.back();
      pending.pop_back();
      if (!sent.insert(f->name()).second) continue;
      google::protobuf::FileDescriptorProto proto;
      f->CopyTo(&proto);
      out->add_file_descriptor_proto(proto.SerializeAsString());
      for (int i = 0; i < f->dependency_count(); ++i) pending.push_back(f->dependency(i));
    }
  }

  static void NotFound(const std::string& what, refl::ServerReflectionResponse& response) {
    auto* error = response.mutable_error_response();
    error->set_error_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
    error->set_error_message(absl::StrCat(what, " not found in this server's descriptors"));
  }

  absl::Mutex mu_;
  const std::vector<std::string>* services_ ABSL_GUARDED_BY(mu_) = nullptr;
};

ReflectionV1Plugin::ReflectionV1Plugin() : service_(std::make_shared<Service>()) {}
ReflectionV1Plugin::~ReflectionV1Plugin() = default;

void ReflectionV1Plugin::InitServer(grpc::ServerInitializer* si) { si->RegisterService(service_); }

void ReflectionV1Plugin::Finish(grpc::ServerInitializer* si) {
  service_->SetServiceList(si->GetServiceList());
}

}  // namespace pdao
