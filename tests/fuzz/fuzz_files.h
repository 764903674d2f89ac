// A scratch directory per fuzz process for the targets that read files (on /dev/shm when there is
// one, so that fsync costs nothing), removed at exit.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pdao::fuzz {

inline const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    auto* d = new std::string(absl::StrCat(base, "/pdao-fuzz-", ::getpid()));
    std::filesystem::remove_all(*d);
    std::filesystem::create_directories(*d);
    std::atexit([] { std::filesystem::remove_all(*dir); });
    return d;
  }();
  return *dir;
}

// Replaces the file `name` of the scratch directory with `bytes`; returns its path.
inline std::string WriteScratch(const std::string& name, absl::string_view bytes) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

[[noreturn]] inline void Fail(const std::string& why) {
  std::fprintf(stderr, "fuzz: property violated: %s\n", why.c_str());
  std::abort();
}

}  // namespace pdao::fuzz
