#include "io/state_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mmsmon {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

/// Writes all of `data` to `fd`, retrying short writes.
bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

StateStore::Loaded StateStore::load(WallTime now) const {
  Loaded out;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return out;  // a first start
  std::string problem;
  std::string text;
  if (fd < 0) {
    problem = "cannot read it: " + errno_text();
  } else {
    char buf[65536];
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) problem = "cannot read it: " + errno_text();
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }
  if (problem.empty()) {
    auto decoded = decode_state(text);
    if (decoded) {
      out.state = std::move(decoded).value();
      return out;
    }
    problem = decoded.error();
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string aside = path_ + ".bad-" + std::to_string(secs);
  std::error_code ec;
  std::filesystem::rename(path_, aside, ec);
  out.problem = "state file " + path_ + " is unusable (" + problem + "); " +
                (ec ? "could not move it aside (" + ec.message() + ")" : "moved it to " + aside) +
                "; starting without state";
  return out;
}

Result<bool> StateStore::save(const FleetState& state, WallTime now) const {
  std::string text = encode_state(state, now);
  std::string tmp = path_ + ".tmp";
  auto fail = [&](const std::string& what) {
    return Failure{"cannot save the state to " + path_ + ": " + what + ": " + errno_text()};
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("open " + tmp);
  bool ok = write_all(fd, text);
  int saved_errno = errno;
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    saved_errno = errno;
  }
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved_errno;
    return fail("write " + tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    saved_errno = errno;
    ::unlink(tmp.c_str());
    errno = saved_errno;
    return fail("rename");
  }
  // The rename is durable once the directory is.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace mmsmon
