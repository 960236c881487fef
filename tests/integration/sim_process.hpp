#pragma once

// Test helper: runs mms-sim as a child process on 127.0.0.1:0 and reads its port back
// through a FIFO (an event, not a sleep), and a blocking runner for coroutines.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/http_client.hpp"

extern char** environ;

namespace mmsmon::test {

/// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/mmsmon-it-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    auto p = path / name;
    std::ofstream(p) << content;
    return p.string();
  }
};

/// Runs an awaitable to completion on `io` and returns its value; rethrows its exception.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr failure;
  // co_spawn with a function object keeps that object alive until the coroutine ends.
  boost::asio::co_spawn(
      io,
      [&out, aw = std::move(a)]() mutable -> boost::asio::awaitable<void> {
        out.emplace(co_await std::move(aw));
      },
      [&failure](std::exception_ptr e) { failure = e; });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

class SimProcess {
 public:
  explicit SimProcess(const std::string& scenario_json, std::vector<std::string> extra = {}) {
    scenario_ = dir_.file("scenario.json", scenario_json);
    std::string fifo = (dir_.path / "port").string();
    if (mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    std::vector<std::string> args{MMS_SIM_PATH, "--scenario", scenario_, "--port-file", fifo};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start mms-sim");
    std::ifstream in(fifo);  // blocks until the simulator has bound its port
    in >> port_;
    if (!port_) throw std::runtime_error("mms-sim did not report a port");
  }
  ~SimProcess() {
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  unsigned short port() const { return port_; }
  std::string url(bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }

  /// Sends an admin request and returns the parsed JSON answer.
  boost::json::value admin(const std::string& method, const std::string& target,
                           const std::string& body = "") {
    boost::asio::io_context io;
    Endpoint ep{false, "127.0.0.1", port_};
    auto client = HttpClient::create(io.get_executor(), ep, {});
    if (!client) throw std::runtime_error(client.error());
    HttpRequest req{method, target, {{"content-type", "application/json"}}, body};
    auto r = run(io, (*client)->send(req));
    if (!r) throw std::runtime_error("admin request failed: " + r.error().message);
    if (r->status != 200) throw std::runtime_error("admin request refused: " + r->body);
    return boost::json::parse(r->body);
  }

 private:
  TempDir dir_;
  std::string scenario_;
  pid_t pid_ = 0;
  unsigned short port_ = 0;
};

}  // namespace mmsmon::test
