#pragma once

// Test helpers: child processes (mms-sim, mmsmon) on 127.0.0.1:0 that report their port
// through a FIFO (an event, not a sleep), every wait bounded; a blocking runner for
// coroutines.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
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
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor
    std::filesystem::remove_all(path, ec);
  }
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
      [&failure, &io](std::exception_ptr e) {
        failure = e;
        // Return as soon as the awaited call is done: the client's deadline sweep may still
        // have a tick pending, which would keep run() busy for up to a quarter-timeout.
        io.stop();
      });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

/// Added to a bound README promises (e.g. how late a deadline may strike), for a loaded
/// 2-core machine running a sanitizer build.
inline constexpr std::chrono::milliseconds kSlowMachineMargin{250};

/// How long a child may take to report its port, and to exit after SIGTERM, before the
/// test fails (generous for a sanitizer build on a loaded 2-core machine).
inline constexpr std::chrono::seconds kStartDeadline{20};
inline constexpr std::chrono::seconds kStopDeadline{10};

/// The last `lines` lines of a file, for failure messages.
inline std::string tail_of(const std::filesystem::path& p, std::size_t lines = 30) {
  std::ifstream in(p);
  std::deque<std::string> last;
  for (std::string l; std::getline(in, l);) {
    last.push_back(std::move(l));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last)
    out += "  | " + l + "\n";
  return out.empty() ? "  (empty)\n" : out;
}

/// A child process that reports its bound port through a FIFO. Every wait is bounded: a
/// child that exits, or does not report its port within kStartDeadline, fails the test
/// with a message naming what was awaited and the tail of the child's log. SIGTERM on
/// destruction, SIGKILL if it does not exit within kStopDeadline.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, const std::string& port_flag,
               const std::vector<std::string>& extra_env = {}, std::string log_file = "")
      : name_(std::filesystem::path(args.at(0)).filename().string()),
        log_(log_file.empty() ? (dir_.path / "child.log").string() : std::move(log_file)) {
    std::string fifo = (dir_.path / "port").string();
    if (mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    // Opened before the child starts, read-write so that the open does not block and a
    // child that dies before writing cannot leave us waiting for a writer.
    fifo_fd_ = open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fifo_fd_ < 0) throw std::runtime_error("cannot open the port FIFO");
    args.push_back(port_flag);
    args.push_back(fifo);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    // The environment, with `extra_env` entries replacing those of the same name.
    std::vector<std::string> env_store;
    auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
    for (char** e = environ; *e; ++e) {
      std::string entry(*e);
      bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
        return name_of(x) == name_of(entry);
      });
      if (!replaced) env_store.push_back(std::move(entry));
    }
    env_store.insert(env_store.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_store)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error(std::string("cannot start ") + argv[0]);
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) throw std::runtime_error("pidfd_open failed");
    port_ = read_port();
  }
  ~ChildProcess() {
    try {
      stop();
    } catch (...) {
    }
    if (pidfd_ >= 0) close(pidfd_);
    if (fifo_fd_ >= 0) close(fifo_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Sends `sig` (SIGTERM by default) and returns the exit status, or -signal. A child that
  /// has not exited within kStopDeadline is killed and the test fails.
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return status_;
    kill(pid_, sig);
    if (!wait_exit(kStopDeadline)) {
      kill(pid_, SIGKILL);
      wait_exit(kStopDeadline);
      throw std::runtime_error(name_ + " did not exit within " +
                               std::to_string(kStopDeadline.count()) +
                               "s of a signal; killed. Its log ends:\n" + tail_of(log_));
    }
    return status_;
  }
  /// Waits (bounded) for the child to exit by itself; returns its status.
  int wait(std::chrono::milliseconds deadline) {
    if (pid_ > 0 && !wait_exit(deadline))
      throw std::runtime_error(name_ + " still running after " + std::to_string(deadline.count()) +
                               "ms");
    return status_;
  }
  /// Sends `sig` without waiting.
  void send(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  bool running() {
    if (pid_ <= 0) return false;
    return !wait_exit(std::chrono::milliseconds{0});
  }
  /// Waits (bounded) for the child to report a port again (e.g. after a new listen
  /// address) and returns it.
  unsigned short next_port() {
    port_ = read_port();
    return port_;
  }
  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  const std::string& log_path() const { return log_; }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  /// Reaps the child if it exits within `deadline`.
  bool wait_exit(std::chrono::milliseconds deadline) {
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return false;
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = 0;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    return true;
  }

  unsigned short read_port() {
    auto deadline = std::chrono::steady_clock::now() + kStartDeadline;
    std::string text = std::move(port_text_);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (text.find('\n') != std::string::npos) break;
      if (left.count() <= 0) {
        kill(pid_, SIGKILL);
        wait_exit(kStopDeadline);
        throw std::runtime_error("waited " + std::to_string(kStartDeadline.count()) + "s for " +
                                 name_ + " to report its port; killed it. Its log ends:\n" +
                                 tail_of(log_));
      }
      pollfd p[2] = {{fifo_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
      if (poll(p, 2, static_cast<int>(left.count())) < 0) continue;
      if (p[0].revents & POLLIN) {
        char buf[64];
        auto n = ::read(fifo_fd_, buf, sizeof buf);
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (p[1].revents & POLLIN) {
        wait_exit(std::chrono::milliseconds{0});
        throw std::runtime_error(name_ + " exited with status " + std::to_string(status_) +
                                 " before reporting its port. Its log ends:\n" + tail_of(log_));
      }
    }
    auto nl = text.find('\n');
    port_text_ = text.substr(nl + 1);  // a later report, if any, already read
    unsigned long port = std::strtoul(text.c_str(), nullptr, 10);
    if (port == 0 || port > 65535)
      throw std::runtime_error(name_ + " reported no port (\"" + text + "\")");
    return static_cast<unsigned short>(port);
  }

  TempDir dir_;
  std::string name_;
  std::string log_;
  std::string port_text_;  ///< read from the FIFO beyond the last port
  int fifo_fd_ = -1;
  int pidfd_ = -1;
  pid_t pid_ = 0;
  unsigned short port_ = 0;
  int status_ = 0;
};

/// Retries `ready` every 20 ms until it holds; fails the test naming `what` after `limit`.
/// For conditions no event announces (a log line, a metric); everything else waits on events.
/// `context` adds to the failure message (e.g. the tail of a child's log).
template <class Pred>
void wait_until(const std::string& what, std::chrono::milliseconds limit, Pred ready,
                const std::function<std::string()>& context = {}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("waited " + std::to_string(limit.count()) + " ms for " + what +
                               (context ? "\n" + context() : std::string()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The whole content of a file ("" if it cannot be read).
inline std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Sends one request to 127.0.0.1:port: plain HTTP, or HTTPS trusting `ca_file` when given.
inline HttpResponse http_call(unsigned short port, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              const std::string& ca_file = "",
                              const std::string& host = "127.0.0.1", Params headers = {}) {
  boost::asio::io_context io;
  Endpoint ep{!ca_file.empty(), host, port};
  HttpClientOptions opt;
  if (!ca_file.empty()) opt.ca_file = ca_file;
  auto client = HttpClient::create(io.get_executor(), ep, opt);
  if (!client) throw std::runtime_error(client.error());
  headers.emplace_back("content-type", "application/json");
  HttpRequest req{method, target, std::move(headers), body};
  auto r = run(io, (*client)->send(req));
  if (!r) throw std::runtime_error("request failed: " + r.error().message);
  return std::move(r).value();
}

class SimProcess {
 public:
  explicit SimProcess(const std::string& scenario_json, std::vector<std::string> extra = {})
      : scenario_(write_scenario(scenario_json)), proc_(args(extra), "--port-file") {
    // With TLS, admin requests go over TLS too, trusting the simulator's own certificate.
    for (std::size_t i = 0; i + 1 < extra.size(); ++i)
      if (extra[i] == "--tls-cert") admin_ca_ = extra[i + 1];
  }
  unsigned short port() const { return proc_.port(); }
  std::string url(bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
  }

  /// Sends an admin request and returns the parsed JSON answer.
  boost::json::value admin(const std::string& method, const std::string& target,
                           const std::string& body = "") {
    auto r = http_call(port(), method, target, body, admin_ca_);
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
  std::string admin_ca_;
};

}  // namespace mmsmon::test
