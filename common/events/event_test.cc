#include "common/events/event.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

TEST(EventProducersTest, EveryServiceWhoseEventsTheEnvelopeCarries) {
  // The envelope's payload holds registry, authorization, compliance, pricing, audit and
  // disclosure events today (in field-number order); a new service that adds its events file to
  // the envelope appears here without any edit in common/.
  EXPECT_THAT(EventProducers(), ::testing::ElementsAre("registry", "authorization", "compliance",
                                                       "pricing", "audit", "disclosure"));
}

TEST(EventProducersTest, TopicsFollowTheNamingRule) {
  EXPECT_EQ(TopicOf("registry"), "pdao.registry.v1");
}

TEST(NewUuidTest, IsAVersion4Uuid) {
  const std::string id = NewUuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewUuid(), id);
}

// Ids come from a per-thread buffer of CSPRNG bytes refilled every 256 ids: across several refills
// and threads every id is canonical (8-4-4-4-12 lowercase hex, version 4, RFC 4122 variant) and
// none repeats.
TEST(NewUuidTest, ManyIdsOnSeveralThreadsAreCanonicalAndDistinct) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;  // ~8 buffer refills each
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewUuid());
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<std::string> seen;
  for (const auto& list : ids) {
    for (const std::string& id : list) {
      ASSERT_EQ(id.size(), 36u) << id;
      for (size_t i = 0; i < id.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
          ASSERT_EQ(id[i], '-') << id;
        } else {
          ASSERT_TRUE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) << id;
        }
      }
      ASSERT_EQ(id[14], '4') << id;
      ASSERT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
      ASSERT_TRUE(seen.insert(id).second) << "repeated id " << id;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

// A forked child does not hand out ids its parent's buffer already holds: the child's first id
// differs from the parent's next one (with the buffer copied by fork, they would be equal).
TEST(NewUuidTest, AForkedChildDoesNotRepeatTheParentsBufferedIds) {
  (void)NewUuid();  // the buffer is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string id = NewUuid();
    const ssize_t n = write(fds[1], id.data(), id.size());
    _exit(n == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string from_child(36, '\0');
  size_t got = 0;
  while (got < from_child.size()) {
    const ssize_t n = read(fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(got, from_child.size());
  EXPECT_NE(from_child, NewUuid());
}

}  // namespace
}  // namespace pdao
