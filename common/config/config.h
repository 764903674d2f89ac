// Flags and environment: every option has a flag (--listen), an environment variable
// (PDAO_LISTEN), a default and a help line. Precedence: flag > environment > default.
//
//   pdao::Config config("pdao-registry", "The registry service.");
//   config.Define("listen", "PDAO_LISTEN", "0.0.0.0:8443", "gRPC mTLS listen address");
//   config.DefineBool("dev-ca", "PDAO_DEV_CA", false, "create a dev CA on first start");
//   if (absl::Status s = config.Parse(argc, argv); !s.ok()) { ...; return 2; }
//   if (config.help_requested()) return 0;   // usage already printed
//   std::string listen = config.Get("listen");
//
// Flag syntax: --name=value, --name value, and for boolean options a bare --name (true).
// "--" ends the flags; everything after it, and every argument that does not start with "--",
// is positional (see positional()).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pdao {

class Config {
 public:
  // Reads one environment variable; nullopt when it is not set.
  using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

  Config(std::string program, std::string description);
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;

  // Defines option `name` (lower-case, digits and '-'; used as --name). `env` may be empty (no
  // environment variable). Defining the same name twice keeps the first definition and makes
  // Parse fail with INTERNAL naming the duplicate (a programming error, reported, not aborted).
  void Define(std::string name, std::string env, std::string default_value, std::string help);
  // A boolean option: accepts a bare --name, or true/false/1/0/yes/no as a value.
  void DefineBool(std::string name, std::string env, bool default_value, std::string help);

  // Parses argv (argv[0] is the program) and the environment (via `env`; the process
  // environment when null). On --help or -h: writes Usage() to `help_out` (std::cout when null),
  // sets help_requested() and returns OK. INVALID_ARGUMENT on an unknown flag, a flag without a
  // value, or a boolean option with a non-boolean value (from a flag or the environment);
  // the message names the flag or variable.
  absl::Status Parse(int argc, const char* const* argv, EnvLookup env = nullptr,
                     std::ostream* help_out = nullptr);

  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }

  // The effective value of a defined option; "" for an undefined name.
  std::string Get(absl::string_view name) const;
  // Where the effective value came from: "flag", "env" or "default" ("" for an undefined name).
  std::string SourceOf(absl::string_view name) const;
  // Typed reads of the effective value. INVALID_ARGUMENT naming the option and its source when
  // the value does not parse; NOT_FOUND for an undefined name.
  absl::StatusOr<bool> GetBool(absl::string_view name) const;
  absl::StatusOr<int64_t> GetInt(absl::string_view name) const;
  // absl duration syntax: "30s", "1.5m", "250ms".
  absl::StatusOr<absl::Duration> GetDuration(absl::string_view name) const;

  // "Usage: <program> [flags]", the description, and one block per option with its flag,
  // environment variable, default and help.
  std::string Usage() const;

 private:
  struct Option {
    std::string name;
    std::string env;
    std::string default_value;
    std::string help;
    bool is_bool = false;
    std::optional<std::string> env_value;
    std::optional<std::string> flag_value;
  };
  const Option* Find(absl::string_view name) const;
  void AddOption(Option option);

  std::string program_;
  std::string description_;
  std::vector<Option> options_;  // in definition order, for Usage()
  std::vector<std::string> duplicate_names_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace pdao
