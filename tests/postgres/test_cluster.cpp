#include "test_cluster.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace invited::store::postgres::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

void run(const std::string& command) {
  int status = std::system(command.c_str());
  if (status != 0)
    throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
}

std::string script() { return std::string(INVITED_SOURCE_DIR) + "/scripts/pg-cluster"; }

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      TestCluster::get().start();
    } catch (const std::exception& error) {
      FAIL() << "the PostgreSQL test cluster could not start: " << error.what();
    }
  }
  void TearDown() override { TestCluster::get().stop(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

}  // namespace

TestCluster& TestCluster::get() {
  static TestCluster cluster;
  return cluster;
}

void TestCluster::start() {
  if (const char* state = std::getenv("INVITED_TEST_PG_STATE"); state != nullptr && *state) {
    // Started by the ctest fixture; its folder is the first line of the state file.
    dir_ = read_file(state);
  } else {
    char folder[] = "/tmp/invited-pgtest.XXXXXX";
    if (::mkdtemp(folder) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = folder;
    owned_ = true;
    run(script() + " start " + dir_ + " >/dev/null");
  }
  port_ = std::stoi(read_file(dir_ + "/port"));
  password_ = read_file(dir_ + "/password");
  // postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE
  std::string url = read_file(dir_ + "/url");
  auto begin = url.find("://") + 3;
  user_ = url.substr(begin, url.find(':', begin) - begin);
  database_ = url.substr(url.rfind('/') + 1);
}

void TestCluster::stop() {
  if (owned_) std::system((script() + " stop " + dir_ + " --remove >/dev/null").c_str());
  owned_ = false;
}

std::string TestCluster::admin_url() const {
  return "postgresql://postgres@/postgres?host=" + dir_ + "&port=" + std::to_string(port_);
}

std::string TestCluster::tcp_url(const std::string& schema) const {
  return "postgresql://" + user_ + ":" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" +
         database_ + "?options=-c%20search_path%3D" + schema;
}

std::string TestCluster::socket_url(const std::string& schema) const {
  return "postgresql://" + user_ + "@/" + database_ + "?host=" + dir_ +
         "&port=" + std::to_string(port_) + "&options=-c%20search_path%3D" + schema;
}

std::string TestCluster::fresh_schema() {
  static std::atomic<int> counter{0};
  std::string name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  auto db = connect(tcp_url("public"));
  db->exec("CREATE SCHEMA " + name);
  return name;
}

std::unique_ptr<Connection> connect(const std::string& url) {
  return std::make_unique<Connection>(Connection::Options{.url = url}, after_ms(10'000));
}

}  // namespace invited::store::postgres::testing
