#include "common/testing/kafka/kafka_broker.h"

#include <fcntl.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <system_error>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/testing/ports.h"

namespace pdao::testing {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string DefaultLibsDir() {
  std::string cache = Env("PDAO_CACHE");
  if (cache.empty()) cache = absl::StrCat(Env("HOME"), "/.cache/pdao");
  return absl::StrCat(cache, "/kafka-", kKafkaVersion, "/libs");
}

// A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
std::string NewClusterId() {
  std::random_device rd;
  while (true) {
    std::string bytes(16, '\0');
    for (char& c : bytes) c = static_cast<char>(rd() & 0xff);
    std::string id = absl::WebSafeBase64Escape(bytes);
    if (!id.empty() && id[0] != '-') return id;
  }
}

// Discards librdkafka's own logging (connection refused while the broker boots).
class Quiet : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event&) override {}
};

bool HasKafkaJar(const std::string& dir) {
  std::error_code ec;
  return fs::exists(fs::path(dir) / absl::StrCat("kafka_2.13-", kKafkaVersion, ".jar"), ec);
}

}  // namespace

KafkaBroker::KafkaBroker(KafkaBrokerOptions options) : options_(std::move(options)) {
  const std::string external = Env("PDAO_TEST_KAFKA");
  if (!external.empty()) {
    external_ = true;
    bootstrap_ = external;
  }
}

KafkaBroker::~KafkaBroker() {
  if (external_) return;
  // The data goes away with the temp dir, so no graceful shutdown is needed (saves seconds).
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!dir_.empty() && Env("PDAO_KEEP_KAFKA_DIR").empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string KafkaBroker::log_path() const {
  return dir_.empty() ? std::string() : absl::StrCat(dir_, "/broker.log");
}

std::string KafkaBroker::LogTail(size_t max_bytes) const {
  if (dir_.empty()) return "";
  std::ifstream in(log_path(), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
  return all;
}

std::vector<std::string> KafkaBroker::JavaArgv(
    const std::vector<std::string>& main_and_args) const {
  std::string java = "java";
  const std::string home = Env("JAVA_HOME");
  std::error_code ec;
  if (!home.empty() && fs::exists(fs::path(home) / "bin/java", ec)) java = home + "/bin/java";
  std::vector<std::string> argv = {
      java,
      "-Xms128m",
      absl::StrCat("-Xmx", options_.max_heap),
      // Faster JVM start and less CPU on a 2-core machine; throughput does not matter in tests.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Djava.awt.headless=true",
      "-Dorg.slf4j.simpleLogger.showDateTime=true",
      "-cp",
      libs_dir_ + "/*",
  };
  argv.insert(argv.end(), main_and_args.begin(), main_and_args.end());
  return argv;
}

absl::Status KafkaBroker::Prepare(int port, int controller_port) {
  libs_dir_ = options_.libs_dir;
  if (libs_dir_.empty()) libs_dir_ = Env("PDAO_KAFKA_LIBS");
  if (libs_dir_.empty()) libs_dir_ = DefaultLibsDir();
  if (!HasKafkaJar(libs_dir_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("Kafka ", kKafkaVersion, " jars not found in ", libs_dir_,
                     ": run tools/kafka/fetch.sh (or set PDAO_KAFKA_LIBS)"));
  }
  std::string tmpl = (fs::temp_directory_path() / "pdao-kafka-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp ", tmpl, ": ", std::generic_category().message(errno)));
  }
  dir_ = tmpl;
  port_ = port;
  controller_port_ = controller_port;
  bootstrap_ = absl::StrCat("127.0.0.1:", port_);

  const std::string props = absl::StrCat(dir_, "/server.properties");
  {
    std::ofstream out(props);
    out << "process.roles=broker,controller\n"
        << "node.id=1\n"
        << "controller.quorum.bootstrap.servers=127.0.0.1:" << controller_port_ << "\n"
        << "listeners=PLAINTEXT://127.0.0.1:" << port_
        << ",CONTROLLER://127.0.0.1:" << controller_port_ << "\n"
        << "advertised.listeners=PLAINTEXT://127.0.0.1:" << port_
        << ",CONTROLLER://127.0.0.1:" << controller_port_ << "\n"
        << "controller.listener.names=CONTROLLER\n"
        << "inter.broker.listener.name=PLAINTEXT\n"
        << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        << "log.dirs=" << dir_ << "/data\n"
        << "num.partitions=" << options_.partitions << "\n"
        << "auto.create.topics.enable=true\n"
        << "offsets.topic.replication.factor=1\n"
        << "offsets.topic.num.partitions=3\n"
        << "transaction.state.log.replication.factor=1\n"
        << "transaction.state.log.min.isr=1\n"
        << "share.coordinator.state.topic.replication.factor=1\n"
        << "share.coordinator.state.topic.min.isr=1\n"
        << "group.initial.rebalance.delay.ms=0\n"
        << "log.flush.interval.messages=1\n";
    if (!out) return absl::InternalError(absl::StrCat("writing ", props));
  }
  // Storage format (KRaft needs it once; --standalone makes this node the only voter).
  absl::Status formatted = RunToCompletion(JavaArgv({"kafka.tools.StorageTool", "format", "-t",
                                                     NewClusterId(), "-c", props, "--standalone"}),
                                           absl::Seconds(60));
  if (!formatted.ok()) {
    return absl::Status(
        formatted.code(),
        absl::StrCat("kafka storage format: ", formatted.message(), "\n", LogTail()));
  }
  prepared_ = true;
  return absl::OkStatus();
}

absl::Status KafkaBroker::RunToCompletion(const std::vector<std::string>& argv,
                                          absl::Duration timeout) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string log = log_path();
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log, ": ", std::generic_category().message(errno)));
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::generic_category().message(errno)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish in time"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        absl::StrJoin(argv, " "), " failed (status ", status,
        WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ", java not found" : "", ")"));
  }
  return absl::OkStatus();
}

absl::Status KafkaBroker::Launch() {
  std::vector<std::string> argv =
      JavaArgv({"kafka.Kafka", absl::StrCat(dir_, "/server.properties")});
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string log = log_path();
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", log, ": ", std::generic_category().message(errno)));
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::generic_category().message(errno)));
  }
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status KafkaBroker::WaitUntilReady() {
  Quiet quiet;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", bootstrap_, err);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&quiet), err);
  conf->set("reconnect.backoff.ms", "50", err);
  conf->set("reconnect.backoff.max.ms", "200", err);
  std::unique_ptr<RdKafka::Producer> probe(RdKafka::Producer::create(conf.get(), err));
  if (!probe) return absl::InternalError(absl::StrCat("kafka probe client: ", err));
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (true) {
    if (!external_ && pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError(
            absl::StrCat("kafka broker exited during start (status ", status, "):\n", LogTail()));
      }
    }
    RdKafka::Metadata* md = nullptr;
    RdKafka::ErrorCode code = probe->metadata(true, nullptr, &md, 500);
    std::unique_ptr<RdKafka::Metadata> owned(md);
    if (code == RdKafka::ERR_NO_ERROR && md != nullptr && !md->brokers()->empty()) {
      return absl::OkStatus();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("kafka broker at ", bootstrap_, " did not answer a metadata request within ",
                       absl::FormatDuration(options_.start_timeout),
                       " (last: ", RdKafka::err2str(code), "):\n", LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::Status KafkaBroker::Start() {
  if (external_) return WaitUntilReady();
  if (pid_ > 0) return absl::OkStatus();
  if (prepared_) return LaunchAndWait();  // a restart: same ports and data
  // First start on fresh ports. A port may be taken between being picked and the broker binding
  // it: then the broker exits, and it starts again on new ports in a new directory.
  return StartOnFreePorts(2, [this](const std::vector<int>& ports) {
    if (absl::Status s = Prepare(ports[0], ports[1]); !s.ok()) return s;
    absl::Status s = LaunchAndWait();
    if (s.ok() || !LogSaysPortTaken(LogTail(size_t{1} << 20))) return s;
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
    prepared_ = false;
    return PortTakenError(s.message());
  });
}

absl::Status KafkaBroker::LaunchAndWait() {
  if (absl::Status s = Launch(); !s.ok()) return s;
  absl::Status ready = WaitUntilReady();
  if (!ready.ok()) (void)Stop();
  return ready;
}

absl::Status KafkaBroker::Stop() {
  if (external_) {
    return absl::UnimplementedError("cannot stop an external broker (PDAO_TEST_KAFKA)");
  }
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + options_.stop_timeout;
  int status = 0;
  bool exited = false;
  while (absl::Now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return absl::OkStatus();
}

absl::Status KafkaBroker::Restart() {
  if (external_) {
    return absl::UnimplementedError("cannot restart an external broker (PDAO_TEST_KAFKA)");
  }
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Start();
}

}  // namespace pdao::testing
