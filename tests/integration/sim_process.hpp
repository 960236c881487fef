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

/// A child process that reports its bound port through a FIFO; SIGTERM on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, const std::string& port_flag,
               const std::vector<std::string>& extra_env = {},
               const std::string& stderr_file = "") {
    std::string fifo = (dir_.path / "port").string();
    if (mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    args.push_back(port_flag);
    args.push_back(fifo);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
      env_store.emplace_back(*e);
    env_store.insert(env_store.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_store)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!stderr_file.empty())
      posix_spawn_file_actions_addopen(&fa, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0644);
    int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error(std::string("cannot start ") + argv[0]);
    std::ifstream in(fifo);  // blocks until the child has bound its port
    in >> port_;
    if (!port_) throw std::runtime_error(std::string(args[0]) + " did not report a port");
  }
  ~ChildProcess() { stop(); }
  /// Sends SIGTERM and returns the exit status (or -signal).
  int stop() {
    if (pid_ <= 0) return status_;
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = 0;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    return status_;
  }
  unsigned short port() const { return port_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  pid_t pid_ = 0;
  unsigned short port_ = 0;
  int status_ = 0;
};

/// Sends one plain-HTTP request to 127.0.0.1:port.
inline HttpResponse http_call(unsigned short port, const std::string& method,
                              const std::string& target, const std::string& body = "") {
  boost::asio::io_context io;
  Endpoint ep{false, "127.0.0.1", port};
  auto client = HttpClient::create(io.get_executor(), ep, {});
  if (!client) throw std::runtime_error(client.error());
  HttpRequest req{method, target, {{"content-type", "application/json"}}, body};
  auto r = run(io, (*client)->send(req));
  if (!r) throw std::runtime_error("request failed: " + r.error().message);
  return std::move(r).value();
}

class SimProcess {
 public:
  explicit SimProcess(const std::string& scenario_json, std::vector<std::string> extra = {})
      : scenario_(write_scenario(scenario_json)), proc_(args(extra), "--port-file") {}
  unsigned short port() const { return proc_.port(); }
  std::string url(bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }

  /// Sends an admin request and returns the parsed JSON answer.
  boost::json::value admin(const std::string& method, const std::string& target,
                           const std::string& body = "") {
    auto r = http_call(port(), method, target, body);
    if (r.status != 200) throw std::runtime_error("admin request refused: " + r.body);
    return boost::json::parse(r.body);
  }

 private:
  std::string write_scenario(const std::string& json) {
    return scenario_dir_.file("scenario.json", json);
  }
  std::vector<std::string> args(const std::vector<std::string>& extra) const {
    std::vector<std::string> a{MMS_SIM_PATH, "--scenario", scenario_};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  TempDir scenario_dir_;
  std::string scenario_;
  ChildProcess proc_;
};

}  // namespace mmsmon::test
