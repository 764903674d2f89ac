// Test helper: a fresh data root and output area per test, removed afterwards.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace pdao::compliance::sample::testing {

class TestDirs {
 public:
  TestDirs() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    base_ = absl::StrCat(::testing::TempDir(), "/sample_", info->test_suite_name(), "_",
                         info->name(), "_", ::getpid());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(data_root());
    std::filesystem::create_directories(output_root());
  }
  ~TestDirs() { std::filesystem::remove_all(base_); }
  TestDirs(const TestDirs&) = delete;
  TestDirs& operator=(const TestDirs&) = delete;

  const std::string& base() const { return base_; }
  std::string data_root() const { return base_ + "/data"; }
  std::string output_root() const { return base_ + "/out"; }

  // Writes `contents` to `name` under the data root; returns the full path.
  std::string WriteData(const std::string& name, absl::string_view contents) const {
    const std::string path = data_root() + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary).write(contents.data(), contents.size());
    return path;
  }

 private:
  std::string base_;
};

}  // namespace pdao::compliance::sample::testing
