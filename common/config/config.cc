#include "common/config/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pdao {
namespace {

std::optional<bool> ParseBool(absl::string_view v) {
  const std::string s = absl::AsciiStrToLower(v);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

Config::Config(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void Config::AddOption(Option option) {
  if (Find(option.name) != nullptr) {
    duplicate_names_.push_back(option.name);
    return;
  }
  options_.push_back(std::move(option));
}

void Config::Define(std::string name, std::string env, std::string default_value,
                    std::string help) {
  Option o;
  o.name = std::move(name);
  o.env = std::move(env);
  o.default_value = std::move(default_value);
  o.help = std::move(help);
  AddOption(std::move(o));
}

void Config::DefineBool(std::string name, std::string env, bool default_value, std::string help) {
  Option o;
  o.name = std::move(name);
  o.env = std::move(env);
  o.default_value = default_value ? "true" : "false";
  o.help = std::move(help);
  o.is_bool = true;
  AddOption(std::move(o));
}

const Config::Option* Config::Find(absl::string_view name) const {
  for (const Option& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

absl::Status Config::Parse(int argc, const char* const* argv, EnvLookup env,
                           std::ostream* help_out) {
  if (!duplicate_names_.empty()) {
    return absl::InternalError(
        absl::StrCat("option defined twice: --", absl::StrJoin(duplicate_names_, ", --")));
  }
  if (!env) env = ProcessEnv;
  for (Option& o : options_) {
    o.flag_value.reset();
    o.env_value.reset();
    if (o.env.empty()) continue;
    o.env_value = env(o.env);
    if (o.env_value && o.is_bool && !ParseBool(*o.env_value)) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", o.env, "=\"",
                                                     *o.env_value, "\" is not a boolean (for --",
                                                     o.name, ")"));
    }
  }
  positional_.clear();
  help_requested_ = false;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (flags_done || !absl::StartsWith(arg, "-") || arg == "-") {
      positional_.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      (help_out != nullptr ? *help_out : std::cout) << Usage();
      return absl::OkStatus();
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", arg, " (flags are --name or --name=value; see --help)"));
    }
    absl::string_view body = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    Option* option = const_cast<Option*>(Find(body));
    if (option == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", body, " (see --help)"));
    }
    if (!value) {
      if (option->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", body, " needs a value"));
      }
    }
    if (option->is_bool && !ParseBool(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", body, "=\"", *value, "\" is not a boolean"));
    }
    option->flag_value = std::move(value);
  }
  return absl::OkStatus();
}

std::string Config::Get(absl::string_view name) const {
  const Option* o = Find(name);
  if (o == nullptr) return "";
  if (o->flag_value) return *o->flag_value;
  if (o->env_value) return *o->env_value;
  return o->default_value;
}

std::string Config::SourceOf(absl::string_view name) const {
  const Option* o = Find(name);
  if (o == nullptr) return "";
  if (o->flag_value) return "flag";
  if (o->env_value) return "env";
  return "default";
}

absl::StatusOr<bool> Config::GetBool(absl::string_view name) const {
  if (Find(name) == nullptr) return absl::NotFoundError(absl::StrCat("no option --", name));
  const std::string v = Get(name);
  std::optional<bool> b = ParseBool(v);
  if (!b) {
    return absl::InvalidArgumentError(absl::StrCat("option --", name, " (from ", SourceOf(name),
                                                   ") = \"", v, "\" is not a boolean"));
  }
  return *b;
}

absl::StatusOr<int64_t> Config::GetInt(absl::string_view name) const {
  if (Find(name) == nullptr) return absl::NotFoundError(absl::StrCat("no option --", name));
  const std::string v = Get(name);
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n)) {
    return absl::InvalidArgumentError(absl::StrCat("option --", name, " (from ", SourceOf(name),
                                                   ") = \"", v, "\" is not an integer"));
  }
  return n;
}

absl::StatusOr<absl::Duration> Config::GetDuration(absl::string_view name) const {
  if (Find(name) == nullptr) return absl::NotFoundError(absl::StrCat("no option --", name));
  const std::string v = Get(name);
  absl::Duration d;
  if (!absl::ParseDuration(v, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("option --", name, " (from ", SourceOf(name),
                                                   ") = \"", v,
                                                   "\" is not a duration such as 30s or 250ms"));
  }
  return d;
}

std::string Config::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_, " [flags]\n");
  if (!description_.empty()) absl::StrAppend(&out, description_, "\n");
  absl::StrAppend(&out, "\nFlags (precedence: flag > environment > default):\n");
  for (const Option& o : options_) {
    absl::StrAppend(&out, "  --", o.name, o.is_bool ? "" : "=VALUE");
    if (!o.env.empty()) absl::StrAppend(&out, "  (env ", o.env, ")");
    absl::StrAppend(&out, "\n      ", o.help, " [default: \"", o.default_value, "\"]\n");
  }
  absl::StrAppend(&out, "  --help\n      print this help and exit\n");
  return out;
}

}  // namespace pdao
