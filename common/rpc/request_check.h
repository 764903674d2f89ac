// RequestCheck: what every request passes before a service core sees it (issue 9, items 8 and 9).
// The unary adapter (common/rpc/unary_adapter.h) receives each request as raw bytes and calls
// ParseRequest, so that a request gRPC could not parse is answered INVALID_ARGUMENT saying why,
// instead of gRPC's UNIMPLEMENTED with an empty message, and the core only ever sees a request that
//   - parsed as its message type (wire format, UTF-8 in every string field, nesting depth),
//   - carries no unknown fields (they are dropped: never stored, never written into the log),
//   - has every google.protobuf.Timestamp inside 0001-01-01..9999-12-31 with nanos in [0, 1e9)
//     and every google.protobuf.Duration inside ±10,000 years with nanos of the seconds' sign,
//     so that no conversion overflows (a year-2612 term once wrapped to 2027),
//   - has every enum value one its enum defines (proto3 keeps unknown numbers otherwise),
//   - has no NUL or other C0 control character (other than tab, line feed and carriage return)
//     in any string field,
//   - keeps the size bounds every service shares (issue 9 item 3): an identifier (a field named
//     `id`, `*_id`, `*_ids`, `*_token` or `*_org`) at most kMaxIdBytes, any other string at most
//     kMaxStringBytes, a repeated field at most kMaxRepeated elements. A service may bound a
//     field tighter in its own validation (and says so in its proto comments); none is looser.
// Each refusal names the field path (e.g. "agreement.term_end.seconds") and the bound.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace pdao {

// How deep ParseRequest walks nested messages; protobuf's own parser stops at 100.
inline constexpr int kMaxRequestDepth = 100;
// Bytes of an identifier field (ids, request ids, page tokens, organization ids).
inline constexpr size_t kMaxIdBytes = 256;
// Bytes of any other string field (names, descriptions, reasons, evidence text).
inline constexpr size_t kMaxStringBytes = size_t{16} * 1024;
// Elements of a repeated field.
inline constexpr int kMaxRepeated = 10000;

// Parses `bytes` into `request` (cleared first) and checks it as above. INVALID_ARGUMENT naming the
// message type, or the field and the bound; `request` is unspecified on error.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request);

// The checks alone, on a message already parsed (unknown fields dropped as well).
absl::Status CheckRequest(google::protobuf::Message* request);

}  // namespace pdao
